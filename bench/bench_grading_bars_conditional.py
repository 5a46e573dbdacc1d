"""The grading bar of the conditional assignment's experiment (part 2): how often correct methods pass it, and how
often wrong ones fail, over many seeds.

Part 2 is graded by running the student's ``accuracy_by_w(MODEL, [0, W_CHOICE], seed=<a fresh seed>)`` with the
reference guidance step in place of the student's ``guided_step`` (part 1 is graded by its own test), then asking
for ≥ BAR read as the asked digit at w = W_CHOICE and ≤ 30 % at w = 0, and for the returned accuracies to equal
what the grader measures on the same samples. This script runs exactly that, outside nbgrader, for

- the solution's loop and the fairness class's correct loops (tests/test_fairness_conditional.py: numpy,
  float64, noise drawn up front, digit by digit, …), each over ``--seeds`` seeds and every w of ``--ws``;
- wrong measurements: the mean classifier confidence returned instead of the accuracy (caught when it differs
  from the accuracy by more than the grader's tolerance, TOLERANCE).

It prints, per w: the median and range of the accuracy over all correct loops and seeds, and the pass rate at
each bar; then the confidence-instead-of-accuracy catch rate. Deterministic (one thread, seeded), CPU only.

    .venv/bin/python bench/bench_grading_bars_conditional.py                 # 30 seeds, ≈ 15 CPU minutes
    .venv/bin/python bench/bench_grading_bars_conditional.py --seeds 5 --styles reference
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import math
import statistics
import sys
import time
from pathlib import Path

import nbformat
import torch

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "solutions" / "conditional" / "conditional.ipynb"
BARS = (0.90, 0.95)
NULL_BAR = 0.30
TOLERANCE = 1e-6            # |returned − measured| the hidden test allows (same samples: only float noise)
BAR = 0.90                  # the graded bar at w = W_CHOICE (BARS also shows 95 %, the bar before the change)
EPS = 1e-6                  # the hidden test compares with the bars this leniently (0.9 in float32 is 0.8999999762)
FIRST_SEED = 7000           # seeds FIRST_SEED, FIRST_SEED + 1, …: none of them the graded one


def _cells() -> dict[str, str]:
    """{grade_id: source} of the solution notebook, solution markers removed (what a student submits)."""
    nb = nbformat.read(SOURCE, as_version=4)
    out = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            out[grade_id] = "\n".join(line for line in cell.source.splitlines() if "### " not in line)
    return out


def _fairness_styles() -> dict[str, str]:
    """The experiment cells of the fairness class's correct submissions."""
    sys.path.insert(0, str(REPO / "tests"))
    spec = importlib.util.spec_from_file_location("fairness", REPO / "tests" / "test_fairness_conditional.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: answers["experiment"] for name, answers in module.CORRECT.items()}


def _reference_step(ns: dict):
    """The closed-form guidance step the hidden test puts in place of the student's guided_step."""
    model, schedule = ns["MODEL"], ns["SCHEDULE"]

    def guided_step(_model, x_t, t, y, w, betas, alpha_bars, z):
        t, y = int(t), torch.as_tensor(y)
        tb = torch.full((x_t.shape[0],), t, dtype=torch.long)
        with torch.no_grad():
            c, u = model(x_t, tb, y), model(x_t, tb, torch.full_like(y, -1))
            e = u + float(w) * (c - u)
            b, ab = float(schedule.betas[t - 1]), float(schedule.alpha_bars[t - 1])
            out = (x_t - b / math.sqrt(1 - ab) * e) / math.sqrt(1 - b)
        return out + math.sqrt(b) * z if t > 1 else out

    return guided_step


def _recording(ns: dict, runs: list):
    """The reference step, recording each run's final images and labels per w (as the hidden test does)."""
    step, T = _reference_step(ns), ns["SCHEDULE"].T

    def guided_step(model, x_t, t, y, w, betas, alpha_bars, z):
        if int(t) == T:
            runs.append({"w": float(w), "y": torch.as_tensor(y).clone()})
        out = step(model, x_t, t, y, w, betas, alpha_bars, z)
        runs[-1]["x_0"] = out
        return out

    return guided_step


def namespace(style_source: str, cells: dict[str, str]) -> dict:
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):                               # the given cell's print
        exec(cells["setup"], ns)                                                  # noqa: S102
        exec(cells["given_experiment"], ns)                                       # noqa: S102
        exec(style_source, ns)                                                    # noqa: S102
    return ns


def measure(ns: dict, ws: list[float], seed: int) -> dict[float, dict[str, float]]:
    """{w: {"accuracy": what the grader measures, "returned": what accuracy_by_w returned, "confidence": …}}."""
    runs: list = []
    ns["guided_step"] = _recording(ns, runs)
    returned = ns["accuracy_by_w"](ns["MODEL"], ws, seed=seed)
    from coursekit.metrics import class_accuracy

    out = {}
    for w in ws:
        mine = [r for r in runs if r["w"] == float(w)]
        x0 = torch.cat([r["x_0"] for r in mine]).clamp(-1, 1)
        labels = torch.cat([r["y"] for r in mine])
        accuracy, confidence = class_accuracy(x0, labels)
        out[float(w)] = {"accuracy": accuracy, "confidence": confidence, "returned": float(returned[w])}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30, help="seeds per style (default 30)")
    parser.add_argument("--ws", default="0,1,1.5,2,2.5,3,4,5", help="guidance scales, comma-separated")
    parser.add_argument("--styles", default="all", help="'all', 'reference' or comma-separated fairness styles")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be a positive integer, got {args.seeds}")
    try:
        ws = [float(w) for w in args.ws.split(",")]
    except ValueError:
        parser.error(f"--ws must be comma-separated numbers, got {args.ws!r}")
    torch.set_num_threads(1)
    cells = _cells()
    styles = {"reference": cells["experiment"]}
    if args.styles != "reference":
        fair = _fairness_styles()
        chosen = fair if args.styles == "all" else {k: fair[k] for k in args.styles.split(",") if k in fair}
        if args.styles != "all" and len(chosen) != len(args.styles.split(",")):
            parser.error(f"--styles: known styles are reference, {', '.join(sorted(fair))}")
        styles.update(chosen)
    start = time.process_time()
    rows: dict[float, list[float]] = {w: [] for w in ws}
    gaps: list[float] = []
    mismatched = 0
    for name, source in styles.items():
        ns = namespace(source, cells)
        for seed in range(FIRST_SEED, FIRST_SEED + args.seeds):
            result = measure(ns, ws, seed)
            for w, r in result.items():
                rows[w].append(r["accuracy"])
                gaps.append(abs(r["confidence"] - r["accuracy"]))
                mismatched += abs(r["returned"] - r["accuracy"]) > TOLERANCE
        print(f"  {name}: done ({time.process_time() - start:.0f} CPU s)", file=sys.stderr)
    n = len(styles) * args.seeds
    print(f"conditional part 2: accuracy (read as the asked digit) over {len(styles)} correct loop(s) × "
          f"{args.seeds} seeds = {n} runs per w; 20 samples per digit; one torch thread")
    print(f"correct loops whose returned accuracy differs from the grader's measurement: {mismatched}")
    header = f"{'w':>5} {'median':>8} {'min':>7} {'max':>7} " + " ".join(f"{'≥' + f'{b:.0%}':>6}" for b in BARS) \
        + f" {'≤' + f'{NULL_BAR:.0%}':>6}"
    print(header)
    for w, values in rows.items():
        passes = " ".join(f"{sum(v >= b - EPS for v in values) / len(values):>6.1%}" for b in BARS)
        print(f"{w:>5g} {statistics.median(values):>8.3f} {min(values):>7.3f} {max(values):>7.3f} {passes} "
              f"{sum(v <= NULL_BAR + EPS for v in values) / len(values):>6.1%}")
    caught = sum(g > TOLERANCE for g in gaps) / len(gaps)
    print(f"mean confidence returned instead of the accuracy: caught in {caught:.1%} of {len(gaps)} (w, seed, loop) "
          f"measurements (|confidence − accuracy| > {TOLERANCE:g}); smallest gap {min(gaps):.2e}")
    print(f"CPU time {time.process_time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
