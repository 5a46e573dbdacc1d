"""Algorithm 2 over T = 1000 steps: coursekit.diffusion.sample vs a loop over diffusers' DDPMScheduler.step.

Both loops call the same denoiser T times on the same shapes: a no-op ε = 0 (pure bookkeeping, at both data
shapes), the 2-D MLP (where bookkeeping is a visible share) and the digits U-Net (where the denoiser's own
run-to-run variation is larger than either loop's bookkeeping: the no-op rows are the precise measure).
``denoiser only`` is the time of those T forward calls alone (a bare loop over the model); what a sampling
loop spends beyond it is its ``overhead`` (scheduler arithmetic, noise, indexing, Python).
Target: our overhead ≤ 1/4 of diffusers' on CPU.

    python bench/bench_sampling.py            # T = 1000, median of 3 (about 2 minutes on a quiet 2-core CPU)
    python bench/bench_sampling.py --quick    # T = 100, 1 repeat
    python bench/bench_sampling.py --denormal-probe   # where the 2-D MLP row's extra time goes (below)

Denormal floats are flushed to zero (``torch.set_flush_denormal(True)``; ``--keep-denormals`` turns that off). Why:
the bench's denoisers are untrained, so ε_θ never cancels Algorithm 2's 1/√α_t growth and x_t reaches |x| ≈ 7,000
by t = 1 (T = 1000), while the bare denoiser loop sees values of order 1. Large pre-activations make the MLP's
SiLU, x·σ(x), compute exp(−x) values that underflow into denormal floats, which x86 CPUs process far more slowly.
Measured with ``--denormal-probe`` (one thread, 2-D MLP h128 d3, batch 512, seed 0, machine at load ~20):
during ``diffusion.sample`` (T = 1000) 5.3 % of the SiLU inputs were below −87.3 (where exp(−x) leaves float32's
normal range; in a separate count 243,717 sigmoid values were denormal), on inputs of size 1 (the bare loop) none.
One forward pass, process CPU time, median of 7, interleaved: with denormals kept 2,286 µs on inputs of size 1 and
2,460 µs (+8 %) on inputs of size 300 (two earlier passes: +12 %, +8 %); with denormals flushed 2,237 vs 2,251 µs.
That data-dependent cost of the denoiser is the "≈ 70 µs per step not explained" of the earlier table (overhead
0.077 s over 1,000 steps in the 2-D MLP row against 0.009 s of pure bookkeeping): it lands in both loops'
"overhead" (diffusers' loop sees the same x_t), which pulled the ratio towards 1 (1/2.1). A trained denoiser keeps
x_t of order 1 and never pays it; flushing makes the rows measure bookkeeping, as the no-op rows do.

Each repeat runs the three loops back to back, so a busy machine slows all three alike. Two tables: wall
clock, and process CPU time (with one torch thread this counts only work done, not time spent waiting for
a core while other jobs run: the ratio to trust on a shared machine). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from coursekit import diffusion as D
from coursekit import nets


class NoOpDenoiser(nn.Module):
    """ε_θ = 0 at no cost: what is left of a sampling loop is pure bookkeeping (the limit of a tiny net)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))          # so samplers find a device

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros_like(x)


def _clocked(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of fn(), synchronising CUDA around it."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def denoiser_only(model: nn.Module, shape: tuple[int, ...], T: int, device: torch.device) -> None:
    """The T forward calls every sampling loop makes, with nothing around them: each call's output is the next
    call's input, so every step reads a freshly written tensor, as in a sampling loop."""
    x = torch.randn(shape, device=device)
    t_in = torch.full((shape[0],), T // 2, dtype=torch.long, device=device)
    for _ in range(T):
        x = model(x, t_in)


def coursekit_loop(model: nn.Module, s: D.Schedule, shape: tuple[int, ...], device: torch.device) -> None:
    D.sample(model, s, shape, generator=torch.Generator(device=device).manual_seed(0))


def diffusers_loop(model: nn.Module, scheduler, shape: tuple[int, ...], device: torch.device) -> None:
    """The loop a diffusers user writes: for t in timesteps: ε = model(x, t); x = scheduler.step(ε, t, x)."""
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(shape, generator=g, device=device)
    for t in scheduler.timesteps:
        t_in = torch.full((shape[0],), int(t) + 1, dtype=torch.long, device=device)     # diffusers index = t − 1
        eps = model(x, t_in)
        x = scheduler.step(eps, t, x, generator=g).prev_sample


@torch.no_grad()
def measure(name: str, model: nn.Module, shape: tuple[int, ...], T: int, device: torch.device, repeats: int
            ) -> dict:
    from diffusers import DDPMScheduler

    model = model.to(device).eval()
    beta_start, beta_end = 1e-4 * 1000 / T, 0.02 * 1000 / T                  # DDPM's β range, rescaled to T
    s = D.make_schedule("linear", T=T, beta_start=beta_start, beta_end=beta_end, device=device)
    scheduler = DDPMScheduler(num_train_timesteps=T, beta_schedule="linear", beta_start=beta_start,
                              beta_end=beta_end, variance_type="fixed_large", clip_sample=False)
    scheduler.set_timesteps(T, device=device)
    loops = {"denoiser": lambda: denoiser_only(model, shape, T, device),
             "coursekit": lambda: coursekit_loop(model, s, shape, device),
             "diffusers": lambda: diffusers_loop(model, scheduler, shape, device)}
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in loops}
    for rep in range(repeats + 1):                      # repeat 0 warms up (allocations, kernels, caches)
        for key, fn in loops.items():
            timing = _clocked(fn, device)
            if rep:
                runs[key].append(timing)
    row = dict(name=name, device=device.type, T=T, batch=shape[0])
    for clock, k in (("wall", 0), ("cpu", 1)):
        med = {key: statistics.median(r[k] for r in v) for key, v in runs.items()}
        row[clock] = dict(denoiser=med["denoiser"],
                          **{f"{loop}_total": med[loop] for loop in ("coursekit", "diffusers")},
                          **{f"{loop}_overhead": med[loop] - med["denoiser"] for loop in ("coursekit", "diffusers")})
    return row


@torch.no_grad()
def denormal_probe(repeats: int = 7) -> None:
    """Count the SiLU inputs in exp's underflow zone during Algorithm 2 and time one forward pass of the 2-D MLP on
    inputs of size 1 (what the bare loop sees) and 300 (what Algorithm 2 sees late in the chain), with denormals
    kept and flushed, interleaved, median of ``repeats`` (process CPU time)."""
    torch.manual_seed(0)
    model = nets.MLPDenoiser(dim=2, hidden=128, depth=3).eval()
    counts = {"low": 0, "all": 0}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        counts["low"] += int((inputs[0] < -87.3).sum())
        counts["all"] += inputs[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.SiLU)]
    torch.set_flush_denormal(False)
    D.sample(model, D.make_schedule("linear", T=1000), (512, 2), generator=torch.Generator().manual_seed(0))
    print(f"Algorithm 2 (T = 1000): {100 * counts['low'] / counts['all']:.1f} % of SiLU inputs below -87.3")
    for h in handles:
        h.remove()
    t = torch.full((512,), 500, dtype=torch.long)
    inputs = {size: size * torch.randn(512, 2) for size in (1, 300)}
    for flush in (False, True):
        torch.set_flush_denormal(flush)
        times: dict[int, list[float]] = {size: [] for size in inputs}
        for _ in range(repeats):
            for size, x in inputs.items():
                start = time.process_time()
                for _ in range(100):
                    model(x, t)
                times[size].append((time.process_time() - start) / 100 * 1e6)
        print(f"denormals {'flushed' if flush else 'kept'}: one forward pass "
              + ", ".join(f"|x|~{size}: {statistics.median(v):,.0f} µs" for size, v in times.items()))


def print_table(rows: list[dict]) -> None:
    for clock, title in (("wall", "wall clock"), ("cpu", "process CPU time")):
        print(f"\n{title} (seconds for the whole loop; overhead = loop − denoiser only)")
        head = (f"{'denoiser':<22} {'dev':<4} {'T':>5} {'batch':>5} | {'denoiser only':>13} | "
                f"{'ours total':>10} {'overhead':>9} | {'diffusers':>10} {'overhead':>9} | {'overhead ratio':>16}")
        print(head)
        print("-" * len(head))
        for r in rows:
            m = r[clock]
            a, b = m["coursekit_overhead"], m["diffusers_overhead"]
            ratio = a / b if b > 0 else float("nan")
            inverse = f"1/{1 / ratio:.1f}" if ratio > 0 else "n/a"
            print(f"{r['name']:<22} {r['device']:<4} {r['T']:>5} {r['batch']:>5} | {m['denoiser']:>12.3f}s | "
                  f"{m['coursekit_total']:>9.3f}s {a:>8.3f}s | {m['diffusers_total']:>9.3f}s {b:>8.3f}s | "
                  f"{ratio:>7.3f} ({inverse:>6})")
    print("\noverhead ratio = ours / diffusers (target ≤ 0.25). A negative or tiny overhead means it is within the"
          " noise of the denoiser's own time.")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 100, one repeat")
    parser.add_argument("--T", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1, as the CLI; the CPU-time table assumes one)")
    parser.add_argument("--cpu-only", action="store_true")
    parser.add_argument("--keep-denormals", action="store_true",
                        help="do not flush denormal floats to zero (see the module docstring)")
    parser.add_argument("--denormal-probe", action="store_true", help="only the denormal probe (see the docstring)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.denormal_probe:
        denormal_probe()
        return []
    flushed = torch.set_flush_denormal(not args.keep_denormals) and not args.keep_denormals
    T = args.T or (100 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)
    torch.manual_seed(0)
    cases = [("no-op (ε = 0), 2-D", NoOpDenoiser(), (512, 2)),
             ("no-op (ε = 0), digits", NoOpDenoiser(), (64, 1, 8, 8)),
             ("2-D MLP (h128, d3)", nets.MLPDenoiser(dim=2, hidden=128, depth=3), (512, 2)),
             ("digits U-Net (base 32)", nets.UNet(base_channels=32), (64, 1, 8, 8))]
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs, load average "
          f"{load:.1f}; T = {T}, median of {repeats}; denormals {'flushed' if flushed else 'kept'}")
    rows = [measure(name, model, shape, T, device, repeats) for device in devices for name, model, shape in cases]
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
