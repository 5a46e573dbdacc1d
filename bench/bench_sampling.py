"""Algorithm 2 over T = 1000 steps: coursekit.diffusion.sample vs a loop over diffusers' DDPMScheduler.step.

Both loops call the same denoiser the same number of times on the same shapes. A thin wrapper times each
model call (``forward``); what remains of the loop's wall time is the loop's own ``overhead`` (scheduler
arithmetic, noise, indexing, Python). Target: our overhead ≤ 1/4 of diffusers' on CPU.

    python bench/bench_sampling.py            # full run (T = 1000, 3 repeats, CPU and CUDA when present)
    python bench/bench_sampling.py --quick    # T = 100, 1 repeat

Prints a table; asserts nothing. The timings are wall-clock on whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from coursekit import diffusion as D
from coursekit import nets


class Timed(nn.Module):
    """Wraps a denoiser and adds up the wall time of its forward calls (synchronising CUDA around them)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.seconds = 0.0
        self.calls = 0

    def forward(self, *args):
        cuda = args[0].is_cuda
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = self.model(*args)
        if cuda:
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def run_coursekit(timed: Timed, s: D.Schedule, shape: tuple[int, ...], device: torch.device) -> float:
    g = torch.Generator(device=device).manual_seed(0)
    _sync(device)
    start = time.perf_counter()
    D.sample(timed, s, shape, generator=g)
    _sync(device)
    return time.perf_counter() - start


@torch.no_grad()
def run_diffusers(timed: Timed, T: int, shape: tuple[int, ...], device: torch.device) -> float:
    """The loop a diffusers user writes: for t in timesteps: ε = model(x, t); x = scheduler.step(ε, t, x)."""
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(num_train_timesteps=T, beta_schedule="linear", beta_start=1e-4 * 1000 / T,
                              beta_end=0.02 * 1000 / T, variance_type="fixed_large", clip_sample=False)
    scheduler.set_timesteps(T, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    _sync(device)
    start = time.perf_counter()
    x = torch.randn(shape, generator=g, device=device)
    for t in scheduler.timesteps:
        t_in = torch.full((shape[0],), int(t) + 1, dtype=torch.long, device=device)     # diffusers index = t − 1
        eps = timed(x, t_in)
        x = scheduler.step(eps, t, x, generator=g).prev_sample
    _sync(device)
    return time.perf_counter() - start


def measure(name: str, model: nn.Module, shape: tuple[int, ...], T: int, device: torch.device, repeats: int
            ) -> dict:
    model = model.to(device).eval()
    s = D.make_schedule("linear", T=T, beta_start=1e-4 * 1000 / T, beta_end=0.02 * 1000 / T, device=device)
    results = {}
    for loop in ("coursekit", "diffusers"):
        runs = []
        for rep in range(repeats + 1):                       # the first run warms up (allocations, kernels)
            timed = Timed(model)
            total = (run_coursekit(timed, s, shape, device) if loop == "coursekit"
                     else run_diffusers(timed, T, shape, device))
            if rep:
                runs.append((total, timed.seconds))
        total = statistics.median(r[0] for r in runs)
        forward = statistics.median(r[1] for r in runs)
        results[loop] = dict(total=total, forward=forward, overhead=max(total - forward, 0.0))
    return dict(name=name, device=device.type, T=T, batch=shape[0], **results)


def print_table(rows: list[dict]) -> None:
    head = (f"{'denoiser':<22} {'dev':<4} {'T':>5} {'batch':>5} | {'ours total':>10} {'forward':>8} {'overhead':>8} "
            f"| {'diff total':>10} {'forward':>8} {'overhead':>8} | {'overhead ratio':>14}")
    print(head)
    print("-" * len(head))
    for r in rows:
        a, b = r["coursekit"], r["diffusers"]
        ratio = a["overhead"] / b["overhead"] if b["overhead"] > 0 else float("nan")
        print(f"{r['name']:<22} {r['device']:<4} {r['T']:>5} {r['batch']:>5} | {a['total']:>9.3f}s "
              f"{a['forward']:>7.3f}s {a['overhead']:>7.3f}s | "
              f"{b['total']:>9.3f}s {b['forward']:>7.3f}s {b['overhead']:>7.3f}s | "
              f"{ratio:>8.3f} (1/{1 / ratio if ratio else float('inf'):.1f})")
    print("overhead = total − time inside the denoiser's forward calls; ratio = ours / diffusers (target ≤ 0.25).")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 100, one repeat")
    parser.add_argument("--T", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--cpu-only", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    T = args.T or (100 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)
    torch.manual_seed(0)
    cases = [("2-D MLP (h128, d3)", nets.MLPDenoiser(dim=2, hidden=128, depth=3), (512, 2)),
             ("digits U-Net (base 32)", nets.UNet(base_channels=32), (64, 1, 8, 8))]
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, T = {T}, median of {repeats}")
    rows = [measure(name, model, shape, T, device, repeats) for device in devices for name, model, shape in cases]
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
