"""The lecture notebooks: generated from their sources, identical code in both editions, no stored outputs,
and every notebook of both editions runs top to bottom (nbval, lax: errors fail, outputs are not compared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import build  # noqa: E402  (notebooks/build.py: the generator)
import execute  # noqa: E402  (notebooks/execute.py: run a notebook, keep the executed copy)

SOURCES = build.sources()
EDITIONS = sorted((NOTEBOOKS / "zh").glob("*.ipynb")) + sorted((NOTEBOOKS / "en").glob("*.ipynb"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code(nb: dict) -> list[str]:
    """The code cells with comments removed: comments may be per edition (``# {zh} … {en} …`` in the source)."""
    return [build.strip_comments("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_sources_and_both_editions():
    assert SOURCES, "no notebooks/src/*.md"
    assert len(EDITIONS) == 2 * len(SOURCES)


def test_committed_notebooks_equal_their_sources():
    done = subprocess.run([sys.executable, str(NOTEBOOKS / "build.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_editions_share_every_code_cell(src):
    meta, _ = build.parse(src)
    zh, en = _load(NOTEBOOKS / "zh" / meta["zh"]), _load(NOTEBOOKS / "en" / meta["en"])
    assert _code(zh) == _code(en)
    assert [c["cell_type"] for c in zh["cells"]] == [c["cell_type"] for c in en["cells"]]
    assert (zh["metadata"]["coursekit"]["edition"], en["metadata"]["coursekit"]["edition"]) == ("zh", "en")
    cjk = sum("\u4e00" <= ch <= "\u9fff" for c in zh["cells"] if c["cell_type"] == "markdown" for ch in c["source"]
              for ch in ch)
    assert cjk > 200, "the Chinese edition's text is not Chinese"
    assert "colab.research.google.com" in "".join(zh["cells"][0]["source"])


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_stored_outputs(path):
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]


def test_edition_comments():
    code = 'x = 1  # {zh} 中文 {en} English\n# {zh} 整行 {en} whole line\ns = "# {zh} not a comment"'
    assert build.localize_code(code, "zh").split("\n")[:2] == ["x = 1  # 中文", "# 整行"]
    assert build.localize_code(code, "en").split("\n")[:2] == ["x = 1  # English", "# whole line"]
    zh, en = build.localize_code(code, "zh"), build.localize_code(code, "en")
    assert build.strip_comments(zh) == build.strip_comments(en)
    assert build.strip_comments("y = 2  # a\n") != build.strip_comments("y = 3  # a\n")


def test_no_marker_left_in_any_edition():
    for path in EDITIONS:
        for code in _code(_load(path)):
            assert "{zh}" not in code and "{en}" not in code, path.name


def test_parse_rejects_unpaired_blocks(tmp_path):
    bad = tmp_path / "09_bad.md"
    bad.write_text("---\nzh: a.ipynb\nen: b.ipynb\n---\n::: zh\n中文\n:::\n```python\nx = 1\n```\n", encoding="utf-8")
    with pytest.raises(build.SourceError, match="en"):
        build.parse(bad)


def _check_executed(executed: Path) -> None:
    nb = _load(executed)
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c.get("execution_count") for c in code), "a code cell did not run"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", [p for p in EDITIONS if p.parent.name == "zh"], ids=lambda p: f"zh/{p.stem}")
def test_notebook_runs(path):
    """Execute one Chinese notebook top to bottom in a fresh kernel of the development environment, started in a
    ``zh`` folder (so coursekit finds the edition), with the default (small) budgets; an error in any cell fails.
    The executed copy is kept for the course site (notebooks/execute.py)."""
    _check_executed(execute.execute(path))


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", [p for p in EDITIONS if p.parent.name == "en"], ids=lambda p: f"en/{p.stem}")
def test_notebook_runs_like_colab(path):
    """Execute one English notebook the way Colab runs it: a fresh environment with only coursekit's runtime
    dependencies plus what Colab preinstalls, coursekit installed as the install cell installs it
    (tests/colab_env.py); an error in any cell fails. The executed copy is kept for the course site."""
    from colab_env import colab_python

    _check_executed(execute.execute(path, python=colab_python()))
