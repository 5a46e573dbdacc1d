"""The numbers a lecture notebook's text quotes as its own results, tied to what the notebook prints.

Each unit keeps its quoted results in ``notebooks/claims/NN.toml`` (NN: the source's prefix, e.g. ``04b``)::

    [[claim]]
    id = "cond_fd_ratio_w2"                       # unique within the unit
    what = "FD / reference of the conditional model at w = 2, n = 500"
    zh = 'w = 2：.*?FD 与基准之比\\s*([-\\d.]+)'      # a regex on the zh edition's printed output; group 1 is the number
    en = 'w = 2: .*?FD / reference\\s*([-\\d.]+)'  # the same on the English edition's output
    range = [1.4, 2.3]                           # what the text says a run gives (the bench's range, maybe widened)
    measured = [1.8, 1.6, 2.1]                   # what bench/bench_claims.py printed for seeds 0, 1, 2, …
    text = ["1.4–2.3"]                            # how the text quotes it: each string must be in both editions
    # text_zh / text_en instead of text where the two editions write it differently

Three things are checked (tests/test_claims.py, after the notebooks ran): each edition's executed output
matches the regex and its number lies in ``range`` widened by :func:`margin` (another CPU rounds matrix products
differently, so a model trained there lands like a fourth seed: a range measured over three seeds holds the fourth
only half the time); ``measured`` holds at least three seeds, all inside
``range``; and every ``text`` string is in the edition's markdown. So a change to the code that moves a result out of the stated range fails a test, and
the text cannot quote a range the bench did not measure.

``bench/bench_claims.py NN`` executes the notebook once per seed (``COURSEKIT_SEED=s`` in the kernel's
environment; every notebook reads its seed from it, default 0) and prints each claim's values, median and range.
"""

from __future__ import annotations

import json
import re
import statistics
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLAIMS = HERE / "claims"
LANGS = ("zh", "en")


@dataclass(frozen=True)
class Claim:
    unit: str
    id: str
    what: str
    pattern: dict[str, str]
    range: tuple[float, float]
    measured: tuple[float, ...]
    text: dict[str, tuple[str, ...]] = field(default_factory=dict)


class ClaimError(ValueError):
    pass


def load(unit: str, folder: Path = CLAIMS) -> list[Claim]:
    """The claims of one unit (``04b``), checked for shape: one-line errors that name the file and the claim."""
    path = folder / f"{unit}.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    claims, seen = [], set()
    for i, raw in enumerate(data.get("claim", [])):
        where = f"{path.name}: claim {raw.get('id', i)!r}"
        missing = {"id", "what", "zh", "en", "range", "measured"} - set(raw)
        if missing:
            raise ClaimError(f"{where}: missing {', '.join(sorted(missing))}")
        if raw["id"] in seen:
            raise ClaimError(f"{where}: id used twice")
        seen.add(raw["id"])
        low, high = (float(v) for v in raw["range"])
        if not low <= high:
            raise ClaimError(f"{where}: range must be [low, high], got {raw['range']}")
        for lang in LANGS:
            compiled = re.compile(raw[lang], re.S)
            if compiled.groups < 1:
                raise ClaimError(f"{where}: the {lang} pattern needs a group around the number")
        text = {lang: tuple(raw.get(f"text_{lang}", raw.get("text", []))) for lang in LANGS}
        claims.append(Claim(unit, raw["id"], raw["what"], {lang: raw[lang] for lang in LANGS}, (low, high),
                            tuple(float(v) for v in raw["measured"]), text))
    return claims


def units(folder: Path = CLAIMS) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


def notebooks_of(unit: str) -> dict[str, Path]:
    """{edition: built notebook} of the source ``notebooks/src/<unit>_*.md``."""
    import sys

    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import build

    found = [src for src in build.sources() if src.name.split("_")[0] == unit]
    if len(found) != 1:
        raise ClaimError(f"unit {unit!r}: expected one source notebooks/src/{unit}_*.md, found {len(found)}")
    meta, _ = build.parse(found[0])
    return {lang: HERE / lang / meta[lang] for lang in LANGS}


def printed(notebook: Path) -> str:
    """Everything an executed notebook printed or displayed as text, cell after cell (stderr left out)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                parts.append("".join(out.get("text", "")))
            elif out.get("output_type") in ("execute_result", "display_data"):
                plain = out.get("data", {}).get("text/plain")
                if plain:
                    parts.append("".join(plain))
    return "\n".join(parts)


def markdown(notebook: Path) -> str:
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def value(claim: Claim, lang: str, output: str) -> float:
    """The number the claim's pattern finds in ``output`` (ClaimError when it finds none)."""
    found = re.search(claim.pattern[lang], output, re.S)
    if found is None:
        raise ClaimError(f"{claim.unit}/{claim.id}: the {lang} pattern {claim.pattern[lang]!r} matches nothing the "
                         "notebook printed (did the printed line change?)")
    return float(found.group(1).replace("−", "-"))


def margin(claim: Claim) -> float:
    """How far outside its stated range a run may print the claim's number: half the range's width, or 2 % of its
    largest magnitude, whichever is larger. A count stated exactly (8 of 8 modes) stays exact; 100 % accepts 98 %;
    FD / reference 1.57–2.26 accepts 1.22–2.61. The bench's seeds themselves must lie in the range (no margin)."""
    low, high = claim.range
    return max((high - low) / 2, 0.02 * max(abs(low), abs(high)))


def accepts(claim: Claim, got: float) -> bool:
    low, high = claim.range
    return low - margin(claim) <= got <= high + margin(claim)


def median(values: tuple[float, ...] | list[float]) -> float:
    return float(statistics.median(values))
