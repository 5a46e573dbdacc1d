"""Pass rates of the assignments' graded experiments: how often a correct method clears the quality bar, and how
often a wrong one does, over many seeds (unit standard, assignment rule 8: a correct loop failing one graded seed
in ten is unfair). Prints one table per assignment.

    .venv/bin/python bench/bench_grading_bars.py gan --seeds 40            # every set-up, 40 seeds each
    .venv/bin/python bench/bench_grading_bars.py gan --seeds 5 --setups reference,steps_300

How it runs a set-up: the assignment's source notebook (solutions/NAME/NAME.ipynb) gives the set-up and the given
cells; the answer cells come from the solution or from a style of the fairness class (tests/test_fairness_NAME.py),
so the bench measures exactly the code the grader grades. Each seed is one graded run as the hidden test does it
(train on seed s, score on a seed of its own), one torch thread. A row gives the single-run pass rate q, the
metric's median [min, max], and the pass rate of the grading rule ("best of k": the part passes when one of up to
k runs on the grading seeds passes), estimated as 1 − (1 − q)^k (independent runs).

Results differ across CPUs and thread counts (float rounding changes a GAN's trajectory), which is why a bar is
judged by its pass rate over seeds, not by one seed's value.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

# The grading rule of each assignment's experiment: (runs at most, bar text); kept equal to the hidden tests.
RULES = {"gan": (3, "≥ 7 of 8 modes and ≥ 50 % high quality"),
         "ddpm": (3, "sliced Wasserstein ≤ 0.3 and ≥ 6 of 8 modes"),
         "pixelcnn": (1, "test bits/dim ≤ 2.2 and a causal model")}


def _cells(name: str) -> dict[str, str]:
    nb = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if c.metadata.get("nbgrader", {})}


def _fairness(name: str):
    """The fairness class's styles: tests/fixtures/submissions/<name>_fairness.py where the class lives there (DDPM),
    else the fairness test module."""
    path = REPO / "tests" / "fixtures" / "submissions" / f"{name}_fairness.py"
    path = path if path.exists() else REPO / "tests" / f"test_fairness_{name}.py"
    spec = importlib.util.spec_from_file_location(f"fairness_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _strip_solution(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def _namespace(name: str, answers: dict[str, str]) -> dict:
    """The notebook's set-up and given cells run, then the answer cells (grade_id → source)."""
    cells = _cells(name)
    ns: dict = {}
    exec(cells["setup"], ns)                                            # noqa: S102 (our own notebook)
    for grade_id, source in cells.items():
        if grade_id.startswith("given"):
            exec(source, ns)                                            # noqa: S102
    for source in answers.values():
        exec(_strip_solution(source), ns)                               # noqa: S102
    return ns


# --- GAN: part 4, the ring ------------------------------------------------------------------------------------

def _gan_setups() -> dict[str, tuple[bool, dict[str, str]]]:
    """{set-up: (correct?, answer cells)}; the reference answers with one cell replaced or edited."""
    cells = _cells("gan")
    ref = {k: cells[k] for k in ("d_loss", "g_loss", "train_step", "experiment")}
    fair = _fairness("gan")

    def edit(old: str, new: str) -> dict[str, str]:
        assert ref["experiment"].count(old) == 1, old
        return {**ref, "experiment": ref["experiment"].replace(old, new)}

    def style(answers: dict) -> dict[str, str]:
        return {k: (answers.get(k) or v) for k, v in ref.items()}

    no_decay = edit("        for schedule in schedules:\n            schedule.step()\n", "")
    epochs = '''
def run_experiment(seed, steps=2000):
    data = sample_2d("ring8", 8000, seed=seed, std=RING_STD)
    G, D, opt_g, opt_d = make_networks(seed)
    decay = lambda i: min(1.0, 2.0 * (1.0 - i / steps))
    schedules = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in (opt_g, opt_d)] if DECAY else []
    order, pos = torch.randperm(len(data)), 0
    for _ in range(steps):
        if pos + BATCH > len(data):
            order, pos = torch.randperm(len(data)), 0
        train_step(G, D, opt_g, opt_d, data[order[pos:pos + BATCH]])
        pos += BATCH
        for s in schedules:
            s.step()
    return G
'''
    return {
        "reference: 1500 steps decay": (True, ref),
        "reference: no decay": (True, no_decay),
        "reference: 1000 steps": (True, edit("steps: int = 1500", "steps: int = 1000")),
        "reference: 2000 steps": (True, edit("steps: int = 1500", "steps: int = 2000")),
        "epoch reshuffles: 2000 decay": (True, {**ref, "experiment": "DECAY = True\n" + epochs}),
        "epoch reshuffles: 2000 no decay": (True, {**ref, "experiment": "DECAY = False\n" + epochs}),
        "style bce_no_grad": (True, style(fair.BCE)),
        "style softplus_frozen_d": (True, style(fair.SOFTPLUS)),
        "style import_aliases": (True, style(fair.ALIASES)),
        "wrong: 300 steps": (False, edit("steps: int = 1500", "steps: int = 300")),
        "reference: 500 steps": (None, edit("steps: int = 1500", "steps: int = 500")),
        "wrong: saturating loss": (False, edit("train_step(G, D, opt_g, opt_d, real)",
                                               'train_step(G, D, opt_g, opt_d, real, "saturating")')),
        "wrong: batch of 8": (False, edit("(BATCH,)", "(8,)")),
        "not trained: a thin ring": (False, {**ref, "experiment": SYNTHETIC + "RING = True\n"}),
        "not trained: one mode": (False, {**ref, "experiment": SYNTHETIC + "RING = False\n"}),
    }


# What a grader must fail: samples spread evenly over the circle through the modes (a blurred ring) and a collapse
# onto one mode, returned by run_experiment as a fixed "generator" of the same interface.
SYNTHETIC = '''
class _Fixed(torch.nn.Module):
    latent_dim = 8

    def forward(self, z):
        if RING:                                        # angle uniform, radius 2 ± 0.05
            angle = 2 * torch.pi * torch.special.ndtr(z[:, 0])
            radius = 2 + 0.05 * z[:, 1]
            return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
        return torch.tensor([2.0, 0.0]) + 0.1 * z[:, :2]   # every sample at one mode


def run_experiment(seed, steps=1500):
    return _Fixed()
'''


def _gan_run(ns: dict, seed: int) -> tuple[bool, float, int]:
    """One graded run as the hidden test does it: train on ``seed``, score 2,000 samples on ``seed + 2``."""
    G = ns["run_experiment"](seed)
    r = ns["ring_score"](G, seed=seed + 2)
    return r["modes"] >= 7 and r["high_quality"] >= 50, r["high_quality"], r["modes"]


# --- DDPM: part 5, train on the ring and sample ----------------------------------------------------------------

def _ddpm_setups() -> dict[str, tuple[bool | None, dict[str, str]]]:
    cells = _cells("ddpm")
    ref = {k: cells[k] for k in ("schedule", "q_sample", "loss", "p_sample", "train_sample")}
    fair = _fairness("ddpm")
    solution = nbformat.read(REPO / "solutions" / "ddpm" / "ddpm.ipynb", as_version=4)
    values = fair._template_values(solution)

    def style(answers: dict) -> dict[str, str]:
        return {k: fair._fill(answers[k], values) if answers.get(k) else v for k, v in ref.items()}

    body = ref["train_sample"]
    body = body[body.index("        ### BEGIN SOLUTION"):body.index("        ### END SOLUTION")]
    numpy_loss = {**ref, "train_sample": ref["train_sample"].replace(body, fair.NUMPY_TRAIN_LOSS)}
    no_noise = {**ref, "p_sample": ref["p_sample"].replace("return mean + var.sqrt() * z", "return mean")}
    short = {**ref, "train_sample": ref["train_sample"].replace("steps: int = 500", "steps: int = 100")}
    return {
        "reference (500 steps)": (True, ref),
        "style numpy_style (numpy-drawn t)": (True, numpy_loss),
        "style float64_style": (True, style(fair.FLOAT64)),
        "style own_network": (True, style(fair.OWN_NET)),
        "style import_aliases": (True, style(fair.ALIASES)),
        "wrong: sampler adds no noise": (False, no_noise),
        "wrong: 100 steps": (False, short),
    }


def _ddpm_run(ns: dict, seed: int) -> tuple[bool, float, int]:
    """One graded run as the hidden test does it: T = 50, train on 2,000 ring points, 1,000 samples, the report on
    a seed of its own; passes at sliced Wasserstein ≤ 0.3 with ≥ 6 of 8 modes."""
    from coursekit.data import sample_2d
    from coursekit.diffusion import make_schedule
    from coursekit.metrics import toy_report

    s = make_schedule("linear", 50, beta_start=2e-3, beta_end=0.4)
    model = ns["train_denoiser"](sample_2d("ring8", 2000, seed=seed), s.betas, s.alpha_bars, seed=seed)
    x = ns["sample_model"](model, s.betas, s.alpha_bars, n=1000, seed=seed)
    r = toy_report(x.detach().float(), "ring8", seed=seed + 1)
    return r["swd"] <= 0.3 and r["modes"] >= 6, r["swd"], r["modes"]


# --- PixelCNN: part 5, test bits/dim ---------------------------------------------------------------------------

def _pixelcnn_setups() -> dict[str, tuple[bool | None, dict[str, str]]]:
    cells = _cells("pixelcnn")
    ref = {k: cells[k] for k in ("mask", "masked_conv", "bpd", "sampling", "experiment")}
    fair = _fairness("pixelcnn")
    rows = {"reference (200 steps)": (True, ref)}
    for name, answers in fair.CORRECT.items():
        rows[f"style {name}"] = (True, {k: answers.get(k) or v for k, v in ref.items()})
    rows["wrong: 20 steps"] = (False, {**ref, "experiment": ref["experiment"].replace("steps: int = 200",
                                                                                      "steps: int = 20")})
    rows["wrong: sees its own pixel (type B first)"] = (
        False, {**ref, "experiment": ref["experiment"].replace('MaskedConv2d(1, hidden, 7, "A")',
                                                               'MaskedConv2d(1, hidden, 7, "B")')})
    return rows


def _pixelcnn_run(ns: dict, seed: int) -> tuple[bool, float, int]:
    """One graded run as the hidden test does it: train on the train split with ``seed``, bits/dim on the test
    split (≤ 2.2 passes); the third value is 1 when the model is causal."""
    import torch.nn.functional as F

    from coursekit import autoregressive as AR
    from coursekit.data import load_digits

    x_train, _ = load_digits("train")
    x_test, _ = load_digits("test")
    model = ns["train_pixelcnn"](x_train.clone(), seed=seed).eval()
    with torch.no_grad():
        logits = model(x_test).double()
    nats = F.cross_entropy(logits, AR.to_levels(x_test)[:, 0], reduction="none").flatten(1).sum(1)
    bpd = float(AR.bits_per_dim(nats, 64).mean())
    causal = not bool(torch.triu(AR.dependency_matrix(model)).any())
    return bpd <= 2.2 and causal, bpd, int(causal)


ASSIGNMENTS: dict[str, tuple[Callable, Callable, str]] = {
    "gan": (_gan_setups, _gan_run, "% high quality"),
    "ddpm": (_ddpm_setups, _ddpm_run, "sliced Wasserstein"),
    "pixelcnn": (_pixelcnn_setups, _pixelcnn_run, "test bits/dim"),
}


def _table(name: str, seeds: list[int], only: set[str] | None) -> None:
    setups, run, metric = ASSIGNMENTS[name]
    k, bar = RULES[name]
    print(f"\n{name}: {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), bar {bar}, graded as best of {k} runs; "
          f"torch threads {torch.get_num_threads()}")
    third = "causal (all 1)" if name == "pixelcnn" else "modes min"
    print(f"| set-up | correct? | single-run pass | {metric}: median [min, max] | {third} | best of {k} | CPU s/run |")
    print("|---|---|---|---|---|---|---|")
    for label, (correct, answers) in setups().items():
        if only and label not in only:
            continue
        ns = _namespace(name, answers)
        results, start = [], time.process_time()
        for seed in seeds:
            results.append(run(ns, seed))
        cpu = (time.process_time() - start) / len(seeds)
        passed = sum(ok for ok, *_ in results)
        q = passed / len(results)
        values = [v for _, v, *_ in results]
        modes = min(m for *_, m in results)
        kind = {True: "yes", False: "no", None: "allowed"}[correct]
        f = "{:.1f}" if name == "gan" else "{:.3f}"
        print(f"| {label} | {kind} | {passed}/{len(results)} | {f.format(statistics.median(values))} "
              f"[{f.format(min(values))}, {f.format(max(values))}] | {modes} | {100 * (1 - (1 - q) ** k):.2f} % "
              f"| {cpu:.1f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", choices=sorted(ASSIGNMENTS))
    parser.add_argument("--seeds", type=int, default=40, help="seeds per set-up (default 40)")
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--setups", default="", help="comma-separated set-up labels (default: all)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be a positive integer, got {args.seeds}")
    torch.set_num_threads(1)
    only = {s.strip() for s in args.setups.split(",") if s.strip()} or None
    _table(args.assignment, list(range(args.first_seed, args.first_seed + args.seeds)), only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
