"""``coursekit ddpm train|sample|demo`` end to end with tiny budgets: files written, metrics printed,
checkpoint round trip, the recipe the options choose (bad values: tests/test_cli.py)."""

from __future__ import annotations

import re

import pytest
import torch

from coursekit.cli import main
from coursekit.cli.ddpm import CLI_FIT, format_table, load_run
from coursekit.recipes import recipe_for


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["ddpm", *argv])
    return code, capsys.readouterr().out


def _value(out: str, row: str) -> float:
    """The number in the printed table row that starts with ``row``."""
    match = re.search(rf"\| {re.escape(row)}\s*\|\s*([-+0-9.e]+) \|", out)
    assert match, f"row {row!r} not in:\n{out}"
    return float(match.group(1))


@pytest.mark.slow
def test_train_then_sample_ring8_round_trip(tmp_path, capsys):
    code, out = _run(capsys, "train", "--data", "ring8", "--steps", "40", "--T", "20", "--out", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "checkpoint.pt").is_file()
    assert _value(out, "optimiser steps") == 40 and "linear T=20" in out

    # sample from the checkpoint twice with the same seed, once with another: same samples / different ones
    runs = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        code, out = _run(capsys, "sample", "--checkpoint", str(tmp_path / "checkpoint.pt"), "--n", "200",
                         "--seed", seed, "--out", str(tmp_path / name))
        assert code == 0, out
        for f in ("samples.png", "denoising.png", "samples.pt"):
            assert (tmp_path / name / f).stat().st_size > 0, f
        for row in ("modes covered", "high-quality samples (%)", "sliced Wasserstein"):
            _value(out, row)
        assert 0 <= _value(out, "modes covered") <= 8
        runs[name] = torch.load(tmp_path / name / "samples.pt")["samples"]
    assert runs["a"].shape == (200, 2) and torch.equal(runs["a"], runs["b"])
    assert not torch.equal(runs["a"], runs["c"])

    # the checkpoint holds the trained weights: retraining in process with the same recipe, seed and steps (and the
    # CLI's own train.fit settings, CLI_FIT: fused AdamW rounds differently) gives the same weights, and sampling
    # those with the same seed gives the CLI's samples
    model, r, info = load_run(tmp_path / "checkpoint.pt")
    assert r.data == "ring8" and r.schedule["T"] == 20 and info["steps"] == 40
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                # as the CLI (--threads 1): the same float summation order
    try:
        result, s = r.train(steps=40, seconds=None, seed=0, progress=False, device="cpu", **CLI_FIT)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(result.model.state_dict().values(), model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    x, _ = r.draw(result.model, s, 200, seed=3)
    torch.testing.assert_close(x, runs["a"], rtol=0, atol=0)


@pytest.mark.slow
def test_demo_on_digits_prints_the_metrics(tmp_path, capsys):
    code, out = _run(capsys, "demo", "--steps", "5", "--T", "10", "--n", "30", "--out", str(tmp_path))
    assert code == 0, out
    for f in ("checkpoint.pt", "samples.png", "denoising.png", "samples.pt"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert "digits-cond" in out
    accuracy, ratio = _value(out, "class accuracy (asked digit)"), _value(out, "FD / reference (1 = real data)")
    assert 0 <= accuracy <= 1 and ratio > 0
    assert 0 <= _value(out, "near copies of train digits (unseen digits: 0.05)") <= 1
    assert _value(out, "samples scored (at most the 1,437 real train digits)") == 30
    from coursekit.metrics import frechet_reference  # the reference is real digits at the samples' own n
    assert _value(out, "FD reference (as many real digits)") == pytest.approx(frechet_reference(30), rel=2e-3)
    assert _value(out, "Fréchet distance (FD) to the unseen test digits") / _value(
        out, "FD reference (as many real digits)") == pytest.approx(ratio, rel=2e-3)   # 4 significant digits
    saved = torch.load(tmp_path / "samples.pt")
    assert saved["samples"].shape == (30, 1, 8, 8)
    assert saved["labels"].tolist() == [i % 10 for i in range(30)]       # columns 0–9 in the grid


@pytest.mark.slow
def test_the_readme_demo_at_its_defaults_prints_figures_in_the_stated_bands(tmp_path, capsys):
    """The README's first command as it is (default steps, seed, n): ~35 CPU-s. The bands live in
    coursekit.recipes.DEMO_BANDS, which the README and docs/ddpm-cli.md quote."""
    from pathlib import Path

    from coursekit.recipes import DEMO_BANDS, DEMO_RECIPE, recipe

    code, out = _run(capsys, "demo", "--out", str(tmp_path))
    assert code == 0, out
    assert f"recipe {DEMO_RECIPE!r}" in out
    assert _value(out, "optimiser steps") == recipe(DEMO_RECIPE).fit["steps"]
    assert _value(out, "samples scored (at most the 1,437 real train digits)") == 500
    printed = {"fd_ratio": _value(out, "FD / reference (1 = real data)"),
               "accuracy": _value(out, "class accuracy (asked digit)"),
               "near_copy_rate": _value(out, "near copies of train digits (unseen digits: 0.05)")}
    for name, (low, high) in DEMO_BANDS.items():
        assert low <= printed[name] <= high, (name, printed[name], (low, high))
    doc = (Path(__file__).parents[1] / "docs" / "ddpm-cli.md").read_text(encoding="utf-8")
    lo, hi = DEMO_BANDS["fd_ratio"]
    assert f"FD / reference {lo}–{hi}" in doc                       # the docs quote the same band


def test_demo_defaults_to_unconditional_for_2d_and_train_to_unconditional_digits():
    from coursekit.cli import build_parser
    from coursekit.cli.ddpm import _choose_recipe

    parser = build_parser()
    assert _choose_recipe(parser.parse_args(["ddpm", "demo"])).name == "digits-cond"
    assert _choose_recipe(parser.parse_args(["ddpm", "demo", "--data", "ring8"])).name == "ring8"
    assert _choose_recipe(parser.parse_args(["ddpm", "train"])).name == "digits"
    assert _choose_recipe(parser.parse_args(["ddpm", "train", "--conditional"])).name == "digits-cond"
    r = _choose_recipe(parser.parse_args(["ddpm", "train", "--T", "100"]))
    assert r.schedule["T"] == 100 and r.schedule["beta_end"] == pytest.approx(0.2)    # β scaled by 1000/T
    assert r == recipe_for("digits").with_changes(schedule=r.schedule)


# bad values, damaged checkpoints, Ctrl-C and the error format: tests/test_cli.py (every unit, one table)


def test_format_table():
    text = format_table("title", [("a", 1.23456), ("longer name", "x")])
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1                   # a rectangle
    assert "| a           | 1.235 |" in text and "| title" in lines[1]
