"""Measure the numbers a lecture notebook quotes, over seeds: the table behind every range in the text.

    python bench/bench_claims.py 04b                      # seeds 0 1 2, the English edition
    python bench/bench_claims.py 04b --seeds 0 1 2 3 4 --edition zh
    python bench/bench_claims.py --all                    # every unit with a notebooks/claims/NN.toml

Each seed executes the notebook top to bottom in a fresh kernel with ``COURSEKIT_SEED=s`` (every notebook reads
its seed from it; 0 is what a student gets) and the course's defaults, then reads each claim of
``notebooks/claims/NN.toml`` from the printed output with the claim's pattern. Prints one row per claim: the value
per seed, the median and the range, and whether they fit the range the text states. Asserts nothing (the CI
test, tests/test_claims.py, checks the notebook's own run against the stated range); paste the printed
``measured = [...]`` into the claims file when the text changes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))
import claims as C  # noqa: E402  (notebooks/claims.py)
import execute  # noqa: E402  (notebooks/execute.py)


def run_seed(notebook: Path, seed: int) -> tuple[str, float]:
    """(printed output, CPU-seconds of the kernel) of one execution with COURSEKIT_SEED=seed."""
    import os
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.environ["COURSEKIT_SEED"] = str(seed)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-claims-") as tmp:
            out = execute.execute(notebook, cache=Path(tmp))
            text = C.printed(out)
    finally:
        os.environ.pop("COURSEKIT_SEED", None)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return text, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def bench_unit(unit: str, seeds: list[int], lang: str) -> list[dict]:
    claims = C.load(unit)
    notebook = C.notebooks_of(unit)[lang]
    values: dict[str, list[float | None]] = {c.id: [] for c in claims}
    for seed in seeds:
        start = time.perf_counter()
        text, cpu = run_seed(notebook, seed)
        print(f"{unit} seed {seed}: executed {notebook.name} in {time.perf_counter() - start:.0f} s "
              f"({cpu:.0f} CPU-s)", flush=True)
        for c in claims:
            try:
                values[c.id].append(C.value(c, lang, text))
            except C.ClaimError as err:
                print(f"  {err}", flush=True)
                values[c.id].append(None)
    rows = []
    for c in claims:
        got = [v for v in values[c.id] if v is not None]
        med = C.median(got) if got else float("nan")
        fits = bool(got) and all(c.range[0] <= v <= c.range[1] for v in got)
        rows.append({"claim": c, "values": values[c.id], "median": med,
                     "min": min(got, default=float("nan")), "max": max(got, default=float("nan")), "fits": fits})
    return rows


def print_table(unit: str, seeds: list[int], lang: str, rows: list[dict]) -> None:
    print(f"\n{unit} ({lang} edition), seeds {' '.join(map(str, seeds))}, torch threads 1, CPU, course defaults")
    print(f"{'claim':<28} {'per seed':<34} {'median':>9} {'min–max':>17} {'stated range':>17} fits")
    for r in rows:
        c = r["claim"]
        per = " ".join("—" if v is None else f"{v:g}" for v in r["values"])
        print(f"{c.id:<28} {per:<34} {r['median']:>9.4g} {r['min']:>8.4g}–{r['max']:<8.4g} "
              f"{c.range[0]:>8g}–{c.range[1]:<8g} {'yes' if r['fits'] else 'NO'}")
    print("\nfor the claims file:")
    for r in rows:
        print(f"  {r['claim'].id}: measured = [{', '.join('nan' if v is None else f'{v:g}' for v in r['values'])}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("units", nargs="*", help="unit prefixes with a claims file, e.g. 04b")
    parser.add_argument("--all", action="store_true", help="every unit with a notebooks/claims/NN.toml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    parser.add_argument("--edition", choices=C.LANGS, default="en", help="which edition to execute (default: en)")
    args = parser.parse_args(argv)
    known = C.units()
    chosen = known if args.all else args.units
    if not chosen:
        parser.error("units: name at least one unit (e.g. 04b) or pass --all")
    for unit in chosen:
        if unit not in known:
            parser.error(f"units: expected one of {', '.join(known) or '(none yet)'}, got {unit!r}")
    if len(args.seeds) < 3:
        parser.error(f"--seeds: a quoted range needs at least three seeds, got {len(args.seeds)}")
    for unit in chosen:
        print_table(unit, args.seeds, args.edition, bench_unit(unit, args.seeds, args.edition))
    return 0


if __name__ == "__main__":
    sys.exit(main())
