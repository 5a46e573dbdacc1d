"""The unit-05 numbers that the notebooks' own runs do not print: the ring GANs over more seeds (and at the CLI's
12,000 steps), the live panel's "try it" over seeds, and the DCGAN with and without BatchNorm in D. Prints the
tables that docs/gan.md, docs/answers/05.md, 05a §7 and 05b §1 quote; every run is seeded (torch at one thread), so
the same command prints the same table.

    python bench/bench_gan_unit05.py ring --steps 3000 --seeds 0 1 2 3 4        # 05b §1's set-up, per seed
    python bench/bench_gan_unit05.py ring --steps 12000 --seeds 0 1 2     # BIG = True, coursekit gan mode-collapse
    python bench/bench_gan_unit05.py panel --seeds 0 1 2 3 4                    # 05a §7's "try it"
    python bench/bench_gan_unit05.py dcgan --steps 1000 --seeds 0 1 2           # BatchNorm in D or not (05b §3)

ring: the VEEGAN set-up of ``coursekit.gan.demos.mode_collapse_demo`` (plain GAN and PacGAN, m = 2), each run
scored on 2,500 samples: modes covered and % high quality (VEEGAN protocol), the modes that hold ≥ 5 % of the
samples by nearest mode centre ("modes in use": what the nearest-mode histogram shows, whatever the samples'
tightness), the largest share of one mode, the median distance to the nearest centre, and how often the most
visited mode changed over snapshots of 500 samples every 100 steps (the hopping of 05b §2).

panel: the live panel's engine (``coursekit.gan.live.LiveGAN``, the notebook's defaults: ring8, non-saturating,
k = 1, both learning rates 1e-3) warmed up for 150 steps, then switched to D's learning rate 1e-2 and k = 5 and
trained for 200 steps (one press of Train) with the saturating loss, then 200 more with the non-saturating loss,
as 05a §7's "try it" says: G's gradient norm (median of the first and of the last 25 steps of each press), the mean
D(G(z)) and the VEEGAN numbers after each press.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from coursekit import data, gan, metrics, train
from coursekit.gan import demos
from coursekit.gan.live import LiveGAN


def ring_run(seed: int, steps: int, pack: int) -> dict:
    """One run of 05b §1's set-up (``demos._ring_run`` with a snapshot callback); the numbers of one row."""
    centres, _ = data.toy_modes("ring8")
    favourites: list[int] = []

    def keep(step, history, G, D):
        nearest = torch.cdist(gan.generate(G, 500, seed=7), centres).argmin(dim=1)
        favourites.append(int(torch.bincount(nearest, minlength=8).argmax()))

    start = time.process_time()
    ring_data = data.sample_2d("ring8", 50_000, seed=seed)
    train.seed_everything(seed)
    G = gan.MLPGenerator(out_dim=2, **demos.RING_G)
    D = gan.MLPDiscriminator(in_dim=2, pack=pack, **demos.RING_D)
    gan.train_gan(G, D, ring_data, steps=steps, batch_size=256, **demos.RING_LR, lr_decay=True, seed=seed,
                  device="cpu", progress=False, callback=keep, callback_every=100)
    samples = gan.generate(G, 2500, seed=seed + 1)
    veegan = metrics.mode_coverage(samples, "ring8")
    dist, nearest = torch.cdist(samples, centres).min(dim=1)
    shares = torch.bincount(nearest, minlength=8).float() / len(samples)
    return {"modes": veegan["modes"], "hq": veegan["high_quality"], "in_use": int((shares >= 0.05).sum()),
            "largest": 100 * float(shares.max()), "median_dist": float(dist.median()),
            "hops": sum(a != b for a, b in zip(favourites, favourites[1:])), "snapshots": len(favourites),
            "cpu": time.process_time() - start}


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):g}, range {min(values):g}–{max(values):g}"


def bench_ring(seeds: list[int], steps: int) -> None:
    print(f"ring8, VEEGAN set-up (demos.RING_G/RING_D, batch 256, Adam 1e-3 β1 0.5, lr decay), {steps} steps, "
          "2,500 samples, torch threads 1, CPU")
    header = f"{'run':<12}{'seed':>5}{'modes':>7}{'HQ %':>7}{'in use':>8}{'largest %':>11}{'median d':>10}" \
             f"{'hops':>9}{'CPU s':>7}"
    print(header)
    rows: dict[str, list[dict]] = {"plain": [], "PacGAN2": []}
    for seed in seeds:
        for name, pack in (("plain", 1), ("PacGAN2", 2)):
            r = ring_run(seed, steps, pack)
            rows[name].append(r)
            print(f"{name:<12}{seed:>5}{r['modes']:>5}/8{r['hq']:>7.1f}{r['in_use']:>6}/8{r['largest']:>11.1f}"
                  f"{r['median_dist']:>10.3f}{r['hops']:>5}/{r['snapshots'] - 1:<3}{r['cpu']:>7.1f}", flush=True)
    print(f"\nover seeds {' '.join(map(str, seeds))}:")
    for name, rs in rows.items():
        print(f"  {name}: modes {summary([r['modes'] for r in rs])}; HQ % {summary([round(r['hq'], 1) for r in rs])}; "
              f"in use {summary([r['in_use'] for r in rs])}; largest % "
              f"{summary([round(r['largest'], 1) for r in rs])}; median distance "
              f"{summary([round(r['median_dist'], 2) for r in rs])}; hops {summary([r['hops'] for r in rs])}")


def panel_run(seed: int) -> dict:
    """05a §7's "try it" as a student does it: the panel's warm-up, then the saturating loss with lr_d 1e-2 and
    k = 5 for one press of Train (200 steps), then the non-saturating loss for one more press."""
    live = LiveGAN("ring8", kind="non_saturating", k=1, lr_g=1e-3, lr_d=1e-3, pack=1, seed=seed)
    live.train(150)                                           # the notebook's warm-up (the static picture)
    h = live.history
    row = {"before": statistics.median(h["grad_norm"][-25:]), "d_before": statistics.mean(h["d_fake"][-25:])}
    for phase, kind in (("sat", "saturating"), ("ns", "non_saturating")):
        start = live.steps
        live.set(kind=kind, lr_d=1e-2, k=5)
        live.train(200)                                       # one press of Train: 8 chunks of 25 steps
        report = live.report()
        row.update({f"{phase}_first": statistics.median(h["grad_norm"][start:start + 25]),
                    f"{phase}_last": statistics.median(h["grad_norm"][-25:]),
                    f"{phase}_d": statistics.mean(h["d_fake"][-25:]),
                    f"{phase}_modes": report["modes"], f"{phase}_hq": report["high_quality"]})
    return row


def bench_panel(seeds: list[int]) -> None:
    print("LiveGAN ring8 (hidden 64, z 8, batch 128): 150 warm-up steps (non-saturating, k 1, lr 1e-3); then lr_d "
          "1e-2, k 5: 200 steps saturating, then 200 steps non-saturating; torch threads 1. ‖∇‖: median of 25 "
          "steps; D(G(z)): mean of the last 25")
    print(f"{'seed':>4}{'‖∇‖ warm':>10}{'D(G) warm':>10} | {'sat first':>9}{'sat last':>9}{'D(G)':>7}{'modes':>6}"
          f"{'HQ %':>6} | {'ns first':>9}{'ns last':>9}{'D(G)':>7}{'modes':>6}{'HQ %':>6}")
    rows = []
    for seed in seeds:
        r = panel_run(seed)
        rows.append(r)
        print(f"{seed:>4}{r['before']:>10.3g}{r['d_before']:>10.3f} | {r['sat_first']:>9.3g}{r['sat_last']:>9.3g}"
              f"{r['sat_d']:>7.3f}{r['sat_modes']:>4}/8{r['sat_hq']:>6.1f} | {r['ns_first']:>9.3g}"
              f"{r['ns_last']:>9.3g}{r['ns_d']:>7.3f}{r['ns_modes']:>4}/8{r['ns_hq']:>6.1f}", flush=True)
    print(f"\nover seeds {' '.join(map(str, seeds))}:")
    for key in ("before", "d_before", "sat_first", "sat_last", "sat_d", "sat_modes", "sat_hq", "ns_first",
                "ns_last", "ns_d", "ns_modes", "ns_hq"):
        print(f"  {key}: {summary([round(r[key], 3) for r in rows])}")
    print(f"  ns_last / sat_last: {summary([round(r['ns_last'] / r['sat_last'], 1) for r in rows])}")


def bench_dcgan(seeds: list[int], steps: int) -> None:
    """05b's DCGAN (demos.DCGAN_G / DCGAN_TRAIN) with the paper's BatchNorm in D and without, per seed: 500 samples
    scored against the test split (FD / reference at n = 500, near copies, confidence, digits covered)."""
    x, _ = data.load_digits("train")
    print(f"DCGAN 8×8 digits, {steps} steps, batch 64, lr 2e-3 (G and D), 500 samples vs the test split; "
          "torch threads 1")
    print(f"{'D':<18}{'seed':>5}{'FD/ref':>8}{'near %':>8}{'conf':>7}{'digits':>8}{'CPU s':>7}")
    rows: dict[str, list[dict]] = {}
    for seed in seeds:
        for name, batch_norm in (("no BatchNorm", False), ("BatchNorm (paper)", True)):
            start = time.process_time()
            train.seed_everything(seed)
            G = gan.DCGANGenerator(**demos.DCGAN_G)
            D = gan.DCGANDiscriminator(**{**demos.DCGAN_D, "batch_norm": batch_norm})
            gan.train_gan(G, D, x, steps=steps, **demos.DCGAN_TRAIN, seed=seed, device="cpu", progress=False)
            fakes = gan.generate(G, 500, seed=seed + 1)
            report = metrics.digit_report(fakes)
            digits = int((torch.bincount(metrics.classify(fakes)[0], minlength=10) >= 10).sum())
            row = {"fd": report["fd_ratio"], "near": 100 * report["near_copy_rate"], "conf": report["confidence"],
                   "digits": digits}
            rows.setdefault(name, []).append(row)
            print(f"{name:<18}{seed:>5}{row['fd']:>8.2f}{row['near']:>8.1f}{row['conf']:>7.3f}{digits:>6}/10"
                  f"{time.process_time() - start:>7.1f}", flush=True)
    print(f"\nover seeds {' '.join(map(str, seeds))}:")
    for name, rs in rows.items():
        print(f"  {name}: FD / reference {summary([round(r['fd'], 2) for r in rs])}; near copies % "
              f"{summary([round(r['near'], 1) for r in rs])}; digits {summary([r['digits'] for r in rs])}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("ring", "panel", "dcgan"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None,
                        help="generator steps per run (default: ring 3000, dcgan 1000)")
    args = parser.parse_args(argv)
    steps = args.steps if args.steps is not None else {"ring": 3000, "dcgan": 1000}.get(args.what, 0)
    if args.what != "panel" and steps < 100:
        parser.error(f"--steps must be >= 100, got {steps}")
    torch.set_num_threads(1)
    if args.what == "ring":
        bench_ring(args.seeds, steps)
    elif args.what == "dcgan":
        bench_dcgan(args.seeds, steps)
    else:
        bench_panel(args.seeds)


if __name__ == "__main__":
    main()
