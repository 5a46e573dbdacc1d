"""The grading bar of the VAE assignment's experiment (part 5): how often correct methods pass it, and how often
weak ones fail, over many seeds.

Part 5 is graded by calling the student's ``train_vae(x_train, seed=<a fresh seed>)`` with correct parts 1–4 in
place of the student's (each part is graded on its own), then asking for a mean test ELBO ≥ BAR nats per image
(20 draws of z). This script runs exactly that, outside nbgrader, for

- correct set-ups: the solution's ``train_vae`` and the fairness class's correct ones (tests/test_fairness_vae.py:
  torch.distributions with coursekit.train.fit, an own network and loop, AdamW with coursekit's batches, …);
- weak set-ups that should not pass: a decoder that ignores z (independent pixels), 150 steps of the reference
  loop, and the reference loop at lr 3e-4.

It prints, per set-up, the median and range of the test ELBO over ``--seeds`` seeds and the pass rate at each bar.
Deterministic (one thread, seeded), CPU only.

    .venv/bin/python bench/bench_grading_bars_vae.py                   # 30 seeds, ≈ 15 CPU minutes
    .venv/bin/python bench/bench_grading_bars_vae.py --seeds 3 --styles reference
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import statistics
import sys
import time
from pathlib import Path

import nbformat
import torch

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "solutions" / "vae" / "vae.ipynb"
BARS = (-21.5, -21.0, -20.5)
FIRST_SEED = 7000           # seeds FIRST_SEED, FIRST_SEED + 1, …: none of them the graded one

# Set-ups that should fail the bar (changes to the solution's experiment cell).
WEAK = {
    "decoder ignores z": [("train_step(encoder, decoder, optimizer, batch)",
                           "train_step(encoder, lambda z: decoder(0 * z), optimizer, batch)"),
                          ("return encoder, decoder", "return encoder, lambda z: decoder(0 * z)")],
    "150 steps": [("for _ in range(steps):", "for _ in range(min(steps, 150)):")],
    "lr 3e-4": [("lr=3e-3", "lr=3e-4")],
}


def _cells() -> dict[str, str]:
    """{grade_id: source} of the solution notebook, solution markers removed (what a student submits)."""
    nb = nbformat.read(SOURCE, as_version=4)
    out = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            out[grade_id] = "\n".join(line for line in cell.source.splitlines() if "### " not in line)
    return out


def _fairness_styles() -> dict[str, dict[str, str]]:
    """The fairness class's correct submissions: {style: {grade_id: source}}."""
    sys.path.insert(0, str(REPO / "tests"))
    spec = importlib.util.spec_from_file_location("fairness", REPO / "tests" / "test_fairness_vae.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: {k: v.strip() + "\n" for k, v in answers.items()} for name, answers in module.CORRECT.items()}


PARTS = ("reparameterize", "kl", "elbo", "train_step")


def namespace(answers: dict[str, str], cells: dict[str, str]) -> dict:
    """As the hidden test runs part 5: the set-up cell, the submission's cells in order, then correct parts 1–4
    (the solution's) bound over the submission's ones."""
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):                           # the set-up cell's print
        exec(cells["setup"], ns)                                              # noqa: S102
        for part in (*PARTS, "experiment"):
            exec(answers.get(part, cells[part]), ns)                          # noqa: S102
        for part in PARTS:
            exec(cells[part], ns)                                             # noqa: S102
    return ns


def test_elbo(ns: dict, encoder, decoder, samples: int = 20) -> float:
    """The hidden test's measure: the mean ELBO on the test split, averaged over ``samples`` draws of z."""
    F, x = torch.nn.functional, ns["x_test"]
    total = 0.0
    with torch.no_grad():
        for _ in range(samples):
            mu, logvar = encoder(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            total += float((-F.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(1)
                            - 0.5 * (mu ** 2 + logvar.exp() - logvar - 1).sum(1)).mean())
    return total / samples


def run(ns: dict, seed: int) -> float:
    encoder, decoder = ns["train_vae"](ns["x_train"].clone(), seed=seed)
    torch.manual_seed(seed + 100_000)
    return test_elbo(ns, encoder, decoder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30, help="seeds per set-up (default 30)")
    parser.add_argument("--styles", default="all", help="'all', 'reference' or 'correct' (no weak set-ups)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be a positive integer, got {args.seeds}")
    if args.styles not in ("all", "reference", "correct"):
        parser.error(f"--styles must be all, reference or correct, got {args.styles!r}")
    torch.set_num_threads(1)
    cells = _cells()
    correct = {"reference": {}}
    if args.styles != "reference":
        correct.update(_fairness_styles())
    weak = {}
    if args.styles == "all":
        for name, changes in WEAK.items():
            source = cells["experiment"]
            for old, new in changes:
                assert old in source, (name, old)
                source = source.replace(old, new)
            weak[name] = {"experiment": source}
    start = time.process_time()
    table = []
    for kind, setups in (("correct", correct), ("weak", weak)):
        for name, source in setups.items():
            ns = namespace(source, cells)
            scores = [run(ns, seed) for seed in range(FIRST_SEED, FIRST_SEED + args.seeds)]
            table.append((kind, name, scores))
            print(f"  {name}: done ({time.process_time() - start:.0f} CPU s)", file=sys.stderr)
    print(f"vae part 5: test ELBO (nats per image, 20 draws of z) over {args.seeds} seeds per set-up; correct "
          f"parts 1–4; one torch thread")
    print(f"{'set-up':<22} {'kind':<8} {'median':>8} {'min':>8} {'max':>8} "
          + " ".join(f"{'≥' + format(b, 'g'):>7}" for b in BARS))
    for kind, name, scores in table:
        passes = " ".join(f"{sum(s >= b for s in scores) / len(scores):>7.1%}" for b in BARS)
        print(f"{name:<22} {kind:<8} {statistics.median(scores):>8.2f} {min(scores):>8.2f} {max(scores):>8.2f} "
              f"{passes}")
    print(f"CPU time {time.process_time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
