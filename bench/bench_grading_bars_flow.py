"""The grading bar of the flow assignment's experiment (part 4): how often correct set-ups pass it, and how often
wrong ones fail, over many seeds.

Part 4 is graded by calling the student's ``quality_vs_steps(ring8-flow, ring8-eps, ᾱ, (2, 5, 10, 25),
seed=<a fresh seed>)`` with correct parts 1 and 3 in place of the student's, checking at which t both models were
called, and comparing each returned high-quality percentage with the one the reference samplers
(``flow.flow_sample``, ``diffusion.ddim_sample``) give on the same seed: within BAR = 8 percentage points passes.
This script runs exactly that hidden test (its own source, read from the solution, with only the seed changed),
outside nbgrader, for

- correct set-ups: the solution's ``quality_vs_steps`` and the fairness class's four (tests/test_fairness_flow.py:
  numpy grids, float64 and a while loop, coursekit's ddim_timesteps and time_grid, all DDIM runs before the flow
  runs);
- wrong set-ups that should fail: the fairness class's one-bug experiments (DDIM's leading spacing, a fraction
  instead of a percentage) and fresh noise for every S drawn from the global generator (n points, but not the
  seed's points: this one passes when its numbers agree, which is fair; it is listed to show the gap it makes).

It prints, per set-up, the pass rate and the largest gap (percentage points) between the returned and the
reference percentages over ``--seeds`` seeds. Deterministic (one thread, seeded), CPU only.

    .venv/bin/python bench/bench_grading_bars_flow.py                  # 30 seeds, ≈ 6 CPU minutes
    .venv/bin/python bench/bench_grading_bars_flow.py --seeds 3 --styles reference
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import nbformat
import torch

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "solutions" / "flow" / "flow.ipynb"
GRADED = "steps_list, seed, n = (2, 5, 10, 25), 4307, 2000"
FIRST_SEED = 7000           # seeds FIRST_SEED, FIRST_SEED + 1, …: none of them the graded one

# A set-up that draws other points than the seed's (fair when its numbers agree: it shows the gap it makes).
OTHER_NOISE = ('        x1 = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))',
               '        x1 = torch.randn(n, 2)')


def _cells() -> dict[str, str]:
    nb = nbformat.read(SOURCE, as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id", ""): c.source for c in nb.cells if c.cell_type == "code"}


def _fairness():
    spec = importlib.util.spec_from_file_location("_fairness_flow", REPO / "tests" / "test_fairness_flow.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO / "tests"))
    spec.loader.exec_module(module)
    return module


def setups() -> tuple[dict[str, str], set[str]]:
    """{name: the experiment cell's source} and the names that must fail."""
    cells, fair = _cells(), _fairness()
    out = {"reference": cells["experiment"]}
    out.update({name: answers["experiment"] for name, answers in fair.CORRECT.items()})
    wrong = set()
    for name, (grade_id, old, new, _) in fair.WRONG.items():
        if grade_id == "experiment":
            out[name] = cells["experiment"].replace(old, new)
            wrong.add(name)
    out["other_noise"] = cells["experiment"].replace(*OTHER_NOISE)
    return out, wrong


def hidden_test(seed: int) -> str:
    """The solution's hidden test of part 4 with the graded seed replaced by ``seed``."""
    source = _cells()["test_experiment"]
    hidden = source[source.index("### BEGIN HIDDEN TESTS"):]
    assert hidden.count(GRADED) == 1, "the hidden test changed: update GRADED"
    return hidden.replace(GRADED, f"steps_list, seed, n = (2, 5, 10, 25), {seed}, 2000")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--styles", default="", help="comma-separated set-up names (default: all)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        print(f"--seeds: expected a positive integer, got {args.seeds}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    cells = _cells()
    all_setups, wrong = setups()
    names = [s for s in args.styles.split(",") if s] or list(all_setups)
    unknown = [s for s in names if s not in all_setups]
    if unknown:
        print(f"--styles: expected names among {','.join(all_setups)}, got {','.join(unknown)}", file=sys.stderr)
        return 2
    from coursekit import flow, metrics
    from coursekit.diffusion import ddim_sample, digits_schedule

    s = digits_schedule("cpu")
    fm, em = flow.pretrained("ring8-flow", device="cpu"), flow.pretrained("ring8-eps", device="cpu")
    reference: dict[int, dict] = {}
    for seed in range(FIRST_SEED, FIRST_SEED + args.seeds):          # the reference percentages, once per seed
        x1 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(seed))
        reference[seed] = {
            "flow": {S: metrics.mode_coverage(flow.flow_sample(fm, (2000, 2), steps=S, x1=x1), "ring8")["high_quality"]
                     for S in (2, 5, 10, 25)},
            "ddim": {S: metrics.mode_coverage(ddim_sample(em, s, (2000, 2), steps=S, x_T=x1), "ring8")["high_quality"]
                     for S in (2, 5, 10, 25)}}
    print(f"part 4 of the flow assignment: the hidden test on seeds {FIRST_SEED}–{FIRST_SEED + args.seeds - 1} "
          f"(bar: every percentage within 8 points of the reference samplers' on the same seed)")
    print(f"{'set-up':24s} {'should':>6s} {'passed':>8s} {'largest gap (points)':>22s} {'CPU s':>7s}")
    for name in names:
        start = time.process_time()
        passed, gaps = 0, []
        for seed in range(FIRST_SEED, FIRST_SEED + args.seeds):
            ns: dict = {"__name__": "__main__"}
            exec(compile(cells["setup"], "setup", "exec"), ns)
            for part in ("ddim", "euler"):
                exec(compile(cells[part], part, "exec"), ns)
            exec(compile(all_setups[name], name, "exec"), ns)
            student = ns["quality_vs_steps"]
            seen = []

            def recorded(*a, _student=student, _seen=seen, **k):
                _seen.append(_student(*a, **k))
                return _seen[-1]

            ns["quality_vs_steps"] = recorded
            try:
                exec(compile(hidden_test(seed), "test_experiment", "exec"), ns)
                passed += 1
            except AssertionError:
                pass
            if seen and isinstance(seen[-1], dict):
                try:
                    gaps.append(max(abs(float(seen[-1][k][S]) - reference[seed][k][S])
                                    for k in ("flow", "ddim") for S in (2, 5, 10, 25)))
                except (KeyError, TypeError, ValueError):
                    pass
        gap = f"{min(gaps):.1f}–{max(gaps):.1f}" if gaps else "–"
        print(f"{name:24s} {'fail' if name in wrong else 'pass':>6s} {passed:>4d}/{args.seeds:<3d} {gap:>22s} "
              f"{time.process_time() - start:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
