"""Every number a lecture notebook's text quotes as its own result is what the notebook printed when CI ran it.

The claims live in ``notebooks/claims/NN.toml`` (format: notebooks/claims.py). For each claim and each edition:
the executed notebook (the copy tests/test_notebooks.py just made, under ``_build/executed``) printed a number
inside the stated range, within claims.margin (another CPU trains like another seed); the range holds the bench's
measurements over at least three seeds; the text of the edition quotes it. Runs after the notebooks
(scripts/test.sh's second phase, marker ``after_notebooks``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "notebooks"))
import claims as C  # noqa: E402  (notebooks/claims.py)
import execute  # noqa: E402  (notebooks/execute.py)

ALL = [c for unit in C.units() for c in C.load(unit)]


def _executed(unit: str, lang: str) -> Path:
    notebook = C.notebooks_of(unit)[lang]
    copy = execute.cached(notebook)
    if copy is None:
        if os.environ.get("CI"):
            pytest.fail(f"{notebook.name} has no current executed copy: the notebook tests did not run first")
        pytest.skip(f"{notebook.name} not executed yet (run tests/test_notebooks.py first)")
    return copy


def test_claims_files_are_well_formed():
    for unit in C.units():
        claims = C.load(unit)                            # raises ClaimError with the file and claim named
        assert claims, f"notebooks/claims/{unit}.toml holds no claim"
        C.notebooks_of(unit)


@pytest.mark.parametrize("claim", ALL, ids=lambda c: f"{c.unit}/{c.id}")
def test_the_stated_range_holds_the_benchs_seeds(claim):
    assert len(claim.measured) >= 3, f"{claim.unit}/{claim.id}: measured over {len(claim.measured)} seeds, need ≥ 3"
    low, high = claim.range
    outside = [v for v in claim.measured if not low <= v <= high]
    assert not outside, f"{claim.unit}/{claim.id}: the bench measured {outside} outside the stated {claim.range}"


@pytest.mark.parametrize("claim", ALL, ids=lambda c: f"{c.unit}/{c.id}")
def test_the_text_quotes_the_claim(claim):
    for lang, notebook in C.notebooks_of(claim.unit).items():
        text = C.markdown(notebook)
        for quoted in claim.text[lang]:
            assert quoted in text, f"{claim.unit}/{claim.id}: the {lang} edition does not say {quoted!r}"


@pytest.mark.after_notebooks
@pytest.mark.parametrize("lang", C.LANGS)
@pytest.mark.parametrize("claim", ALL, ids=lambda c: f"{c.unit}/{c.id}")
def test_the_executed_notebook_printed_a_number_in_range(claim, lang):
    got = C.value(claim, lang, C.printed(_executed(claim.unit, lang)))
    low, high = claim.range
    assert C.accepts(claim, got), (f"{claim.unit}/{claim.id} ({lang}): the notebook printed {got:g}, the text states "
                                   f"{low:g}–{high:g} (accepted within ±{C.margin(claim):g}: {claim.what})")


def test_patterns_read_numbers_the_way_notebooks_print_them(tmp_path):
    toml = tmp_path / "99.toml"
    toml.write_text('[[claim]]\nid = "x"\nwhat = "a number"\n'
                    "zh = '比值\\s*([-−\\d.]+)'\nen = 'ratio\\s*([-−\\d.]+)'\n"
                    'range = [1, 2]\nmeasured = [1.2, 1.5, 1.9]\ntext = ["1–2"]\n', encoding="utf-8")
    (claim,) = C.load("99", folder=tmp_path)
    assert C.value(claim, "zh", "… 比值 1.50 …") == 1.5 and C.value(claim, "en", "ratio −0.25") == -0.25
    assert C.margin(claim) == 0.5 and C.accepts(claim, 0.5) and C.accepts(claim, 2.5) and not C.accepts(claim, 2.6)
    with pytest.raises(C.ClaimError, match="matches nothing"):
        C.value(claim, "en", "no number here")
    toml.write_text('[[claim]]\nid = "x"\nwhat = "w"\nzh = "a"\nen = "b"\nrange = [2, 1]\nmeasured = [1]\n',
                    encoding="utf-8")
    with pytest.raises(C.ClaimError, match="needs a group|range must be"):
        C.load("99", folder=tmp_path)
