"""Everything a lent GPU must show, in one run that prints one table (called by ``bash bench/gpu.sh``).

    python bench/gpu_bench.py                 # on CUDA: the full table (about 3 minutes on one GPU)
    python bench/gpu_bench.py --device cpu    # the CPU form: tiny shapes, every CUDA row says "skipped"
    python bench/gpu_bench.py --no-compile    # leave out the torch.compile rows (they cost ~30 s of compiling each)
    python bench/gpu_bench.py --fault mismatch   # perturb the device copy: the agreement check must fail (exit 1)

Sections (each row: what ran, its speed, peak GPU memory, and agreement where it applies):

1. **Agreement, CUDA vs CPU** (fp32, TF32 off while checking): the digits denoisers (MLP recipe, U-Net), Algorithm 2
   (50 steps: ``diffusion.sample`` on the CPU against the explicit and CUDA-graph loops on the device with the same
   noise), the pix2pix U-Net generator and the CycleGAN ResNet generator. A row fails when
   max|a − b| > atol + rtol·max|a|; bf16 autocast against fp32 is printed for information only.
2. **DDPM training steps/s**: ``ddpm_loss`` + AdamW (the library's Algorithm 1 step, as ``train.fit`` runs it)
   for the digits U-Net (batch 128) and the recipe's MLP (batch 128): fp32 vs bf16 autocast, eager vs
   ``torch.compile`` (compiled for the U-Net only: each compile costs ~30 s of the 5-minute budget).
3. **Algorithm 2, T = 1000**: the denoiser alone (T bare forward calls), ``diffusion.sample`` (eager), and the same
   update with the whole step captured once as a CUDA graph and replayed T times (two launches per step: the
   step index, then the graph). Target: the graph loop within 1.5× of the denoiser-only time.
4. **Full-size pix2pix** (U-Net 256 + 70×70 PatchGAN, ``gan.build_pix2pix("full")``) and **CycleGAN**
   (ResNet-9, ``gan.build_cyclegan("full")``) training iterations per second at 256×256 through the library's
   ``train_pix2pix`` / ``train_cyclegan``: batch 1 and 16, fp32 vs bf16, NCHW vs channels_last. Target: bf16 ≥ 1.5×
   fp32 for the full-size pix2pix step.

On a machine without CUDA (the CPU form, run in CI) sections 1–4 run once in fp32 on tiny shapes (the teaching
GAN nets at 32×32, T = 20) so every code path is exercised, and every CUDA-only row is printed as skipped.
Exit status: 0; 1 when an agreement check fails; 2 when a row raised an error.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from coursekit import diffusion as D
from coursekit import nets
from coursekit.gan import build_cyclegan, build_pix2pix, train_cyclegan, train_pix2pix
from coursekit.recipes import recipe, scaled_linear


@dataclass
class Row:
    section: str
    name: str
    value: str = ""                # the measured speed or error, formatted
    extra: str = ""                # agreement / ratio / note
    memory: str = "—"              # peak GPU memory
    status: str = "ok"             # ok, FAIL, skipped, error
    numbers: dict = field(default_factory=dict)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> str:
    if device.type != "cuda":
        return "—"
    return f"{torch.cuda.max_memory_allocated(device) / 2**20:,.0f} MiB"


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------------
# Algorithm 2 with fixed noise: the explicit loop and its CUDA-graph form
# ---------------------------------------------------------------------------------------------------------

def fixed_noise(shape: tuple[int, ...], T: int, seed: int) -> list[Tensor]:
    """The draws ``diffusion.sample`` makes with a CPU generator seeded ``seed``: x_T, then z for t = T … 2."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g) for _ in range(T)]


class StepTables:
    """Per-step constants of Algorithm 2 (σ_t² = β_t) as device tensors indexed by k = T − t, so one captured step
    serves every t: x ← (x − (1 − α_t)/√(1 − ᾱ_t) · ε_θ(x, t)) / √α_t + σ_t z."""

    def __init__(self, s: D.Schedule, noise: list[Tensor], device: torch.device):
        T = s.T
        t = torch.arange(T, 0, -1)                                           # k = 0 … T−1 ↔ t = T … 1
        alphas, sqrt_omab = s.alphas.double().cpu()[t - 1], s.sqrt_one_minus_alpha_bars.double().cpu()[t - 1]
        self.t = t.to(device)
        self.eps_coef = (-(1.0 - alphas) / sqrt_omab).float().to(device)
        self.scale = (1.0 / alphas.sqrt()).float().to(device)
        self.sigma = s.betas.double().cpu()[t - 1].sqrt().float().to(device)
        z = torch.stack(noise[1:] + [torch.zeros_like(noise[0])])          # z at t = T … 2, then 0 at t = 1
        self.z = z.to(device)
        self.x_T = noise[0].to(device)


def explicit_step(model: nn.Module, tables: StepTables, x: Tensor, k: Tensor) -> None:
    """One step of Algorithm 2 in place, reading step k's constants from device tensors (no host work)."""
    batch = x.shape[0]
    shape = (-1,) + (1,) * (x.ndim - 1)
    t_in = tables.t.index_select(0, k).expand(batch)
    eps = model(x, t_in)
    x_next = (x + tables.eps_coef.index_select(0, k).view(shape) * eps) * tables.scale.index_select(0, k).view(shape)
    x.copy_(x_next + tables.sigma.index_select(0, k).view(shape) * tables.z.index_select(0, k).squeeze(0))


@torch.no_grad()
def explicit_sample(model: nn.Module, tables: StepTables) -> Tensor:
    x = tables.x_T.clone()
    k = torch.zeros(1, dtype=torch.long, device=x.device)
    for step in range(len(tables.t)):
        k.fill_(step)
        explicit_step(model, tables, x, k)
    return x


class GraphSampler:
    """Algorithm 2 with one step captured as a CUDA graph (static x and step index), replayed T times."""

    @torch.no_grad()
    def __init__(self, model: nn.Module, tables: StepTables):
        self.tables = tables
        self.x = tables.x_T.clone()
        self.k = torch.zeros(1, dtype=torch.long, device=self.x.device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):                                         # warm-up outside the capture
            for _ in range(3):
                explicit_step(model, tables, self.x, self.k)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            explicit_step(model, tables, self.x, self.k)

    @torch.no_grad()
    def __call__(self) -> Tensor:
        self.x.copy_(self.tables.x_T)
        for step in range(len(self.tables.t)):
            self.k.fill_(step)
            self.graph.replay()
        return self.x


class GraphDenoiser:
    """The denoiser alone, captured once and replayed T times (the floor for any graph-captured sampler)."""

    @torch.no_grad()
    def __init__(self, model: nn.Module, x: Tensor, t: Tensor):
        self.x, self.t = x.clone(), t.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                model(self.x, self.t)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out = model(self.x, self.t)

    def __call__(self, T: int) -> None:
        for _ in range(T):
            self.graph.replay()


# ---------------------------------------------------------------------------------------------------------
# 1. Agreement
# ---------------------------------------------------------------------------------------------------------

def _close(ref: Tensor, got: Tensor, atol: float, rtol: float) -> tuple[bool, float, float]:
    ref, got = ref.detach().float().cpu(), got.detach().float().cpu()
    err = float((ref - got).abs().max())
    bound = atol + rtol * float(ref.abs().max())
    return err <= bound and bool(torch.isfinite(got).all()), err, bound


def _perturb(model: nn.Module) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1e-2)


@torch.no_grad()
def agreement_rows(device: torch.device, tiny: bool, fault: bool) -> list[Row]:
    rows = []
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False     # exact fp32 while checking
    label = "CUDA vs CPU" if device.type == "cuda" else "CPU vs CPU copy (CPU form)"

    def check(name: str, model: nn.Module, inputs: tuple, atol: float = 1e-4, rtol: float = 1e-4) -> None:
        torch.manual_seed(0)
        model = model.eval()
        other = copy.deepcopy(model).to(device)
        if fault:
            _perturb(other)
        ref = model(*inputs)
        got = other(*(a.to(device) for a in inputs))
        ok, err, bound = _close(ref, got, atol, rtol)
        rows.append(Row("agreement", f"{name}: {label}, fp32", f"max err {err:.2e}", f"tol {bound:.1e}",
                        status="ok" if ok else "FAIL", numbers=dict(err=err, bound=bound)))
        if device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                low = other(*(a.to(device) for a in inputs))
            _, err16, _ = _close(got, low, 0, 0)
            rows.append(Row("agreement", f"{name}: bf16 autocast vs fp32 on CUDA", f"max err {err16:.2e}",
                            "information only", status="ok", numbers=dict(err=err16)))
        else:
            rows.append(Row("agreement", f"{name}: bf16 autocast vs fp32 on CUDA", "", "no CUDA", status="skipped"))

    torch.manual_seed(0)
    x = torch.randn(16, 1, 8, 8)
    t = torch.randint(1, 251, (16,))
    y = torch.randint(0, 10, (16,))
    check("digits MLP (recipe digits-cond)", recipe("digits-cond").build_model(), (x, t, y))
    check("digits U-Net (base 32)", nets.UNet(base_channels=32, num_classes=10), (x, t, y))
    side, (G, _) = (32, build_pix2pix(3, 3, "teaching", 32)) if tiny else (256, build_pix2pix(3, 3, "full", 256))
    check(f"pix2pix U-Net generator, {side}×{side}", G, (torch.randn(1, 3, side, side),), atol=2e-3, rtol=1e-3)
    cyc = build_cyclegan(3, 3, "teaching" if tiny else "full")
    check(f"CycleGAN ResNet generator, {side}×{side}", cyc.G, (torch.randn(1, 3, side, side),), atol=2e-3,
          rtol=1e-3)

    # Algorithm 2, 50 steps, same noise: the library on the CPU is the reference
    T, shape = 50, (8, 1, 8, 8)
    model = recipe("digits").build_model().eval()
    s_cpu = D.make_schedule(**scaled_linear(T))
    ref = D.sample(model, s_cpu, shape, generator=torch.Generator().manual_seed(3))
    other = copy.deepcopy(model).to(device)
    if fault:
        _perturb(other)
    tables = StepTables(s_cpu, fixed_noise(shape, T, 3), device)
    loops = {"explicit loop": lambda: explicit_sample(other, tables)}
    if device.type == "cuda":
        loops["CUDA graph loop"] = GraphSampler(other, tables)
    for loop_name, fn in loops.items():
        ok, err, bound = _close(ref, fn(), 1e-3, 1e-3)      # untrained ε_θ: |x| grows to ~1e3, so relative
        where = "CUDA" if device.type == "cuda" else "CPU"
        rows.append(Row("agreement", f"Algorithm 2, T = {T}: {loop_name} on {where} vs diffusion.sample on CPU",
                        f"max err {err:.2e}", f"tol {bound:.1e}", status="ok" if ok else "FAIL",
                        numbers=dict(err=err, bound=bound)))
    if device.type != "cuda":
        rows.append(Row("agreement", f"Algorithm 2, T = {T}: CUDA graph loop vs diffusion.sample on CPU", "",
                        "no CUDA", status="skipped"))
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    return rows


# ---------------------------------------------------------------------------------------------------------
# 2. DDPM training steps per second
# ---------------------------------------------------------------------------------------------------------

def ddpm_training_rows(device: torch.device, tiny: bool, compile_: bool) -> list[Row]:
    cuda = device.type == "cuda"
    steps, warmup = (3, 2) if tiny else (100, 10)
    rows = []
    x0, y0 = torch.randn(128, 1, 8, 8, device=device).clamp(-1, 1), torch.randint(0, 10, (128,), device=device)
    models = {"digits U-Net (base 32), batch 128": lambda: nets.UNet(base_channels=32, num_classes=10),
              "digits MLP (recipe digits-cond), batch 128": lambda: recipe("digits-cond").build_model()}
    for model_name, build in models.items():
        for compiled in (False, True):
            for dtype in ("fp32", "bf16"):
                name = f"{model_name}: {dtype}{' + torch.compile' if compiled else ''}"
                if (dtype == "bf16" or compiled) and not cuda:
                    rows.append(Row("DDPM training", name, "", "CUDA only", status="skipped"))
                    continue
                if compiled and not compile_:
                    rows.append(Row("DDPM training", name, "", "--no-compile", status="skipped"))
                    continue
                if compiled and "MLP" in model_name:       # each compile costs ~30 s of the 5-minute budget
                    rows.append(Row("DDPM training", name, "", "compiled for the U-Net only", status="skipped"))
                    continue
                try:
                    torch.manual_seed(0)
                    model = build().to(device).train()
                    net = torch.compile(model) if compiled else model
                    s = D.make_schedule(**scaled_linear(250), device=device)
                    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, foreach=True)

                    def train_steps(n: int, net=net, s=s, opt=opt, dtype=dtype) -> None:
                        for _ in range(n):
                            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16"):
                                loss = D.ddpm_loss(net, s, x0, y=y0, p_uncond=0.1)
                            opt.zero_grad(set_to_none=True)
                            loss.backward()
                            opt.step()

                    _reset_peak(device)
                    warm = _timed(lambda train_steps=train_steps: train_steps(warmup), device)
                    seconds = _timed(lambda train_steps=train_steps: train_steps(steps), device)
                    note = f"warm-up {warm:.1f} s" + (" (incl. compiling)" if compiled else "")
                    rows.append(Row("DDPM training", name, f"{steps / seconds:,.1f} steps/s", note, _peak(device),
                                    numbers=dict(steps_per_s=steps / seconds)))
                except Exception as exc:   # noqa: BLE001  (a row that fails is reported, the run goes on)
                    rows.append(Row("DDPM training", name, f"{type(exc).__name__}: {exc}"[:120], status="error"))
    return rows


# ---------------------------------------------------------------------------------------------------------
# 3. Algorithm 2 at T = 1000
# ---------------------------------------------------------------------------------------------------------

@torch.no_grad()
def sampling_rows(device: torch.device, tiny: bool) -> list[Row]:
    cuda = device.type == "cuda"
    T = 20 if tiny else 1000
    rows = []
    cases = {"digits U-Net (base 32), batch 256": (nets.UNet(base_channels=32), (256, 1, 8, 8)),
             "2-D MLP (h128, d3), batch 512": (nets.MLPDenoiser(dim=2, hidden=128, depth=3), (512, 2))}
    for case, (model, shape) in cases.items():
        if tiny:
            shape = (8, *shape[1:])
            case = case.split(", batch")[0] + ", batch 8"
        try:
            model = model.to(device).eval()
            s = D.make_schedule(**scaled_linear(T), device=device)
            tables = StepTables(s.to("cpu"), fixed_noise(shape, T, 0), device)
            x, t = torch.randn(shape, device=device), torch.full((shape[0],), T // 2, device=device)

            def bare(x=x, t=t, model=model) -> None:
                h = x
                for _ in range(T):
                    h = model(h, t)

            def ours(model=model, s=s, shape=shape) -> None:
                D.sample(model, s, shape, generator=torch.Generator(device=device).manual_seed(0))

            _reset_peak(device)
            runs = {"denoiser only (T bare forward calls)": bare, "diffusion.sample (eager)": ours}
            if cuda:
                graph_denoiser, graph_sampler = GraphDenoiser(model, x, t), GraphSampler(model, tables)
                runs["denoiser only, CUDA graph"] = lambda g=graph_denoiser: g(T)
                runs["Algorithm 2, one step as a CUDA graph"] = graph_sampler
            times = {}
            for key, fn in runs.items():
                fn()                                                          # warm-up
                times[key] = min(_timed(fn, device) for _ in range(3))
            memory = _peak(device)
            base = times["denoiser only (T bare forward calls)"]
            for key, seconds in times.items():
                ratio = f"{seconds / base:.2f}× denoiser only"
                if key == "Algorithm 2, one step as a CUDA graph":
                    ratio += f" (target ≤ 1.5×: {'met' if seconds <= 1.5 * base else 'not met'})"
                rows.append(Row("Algorithm 2", f"{case}, T = {T}: {key}", f"{seconds * 1e3:,.1f} ms",
                                ratio, memory, numbers=dict(seconds=seconds)))
            if not cuda:
                for key in ("denoiser only, CUDA graph", "Algorithm 2, one step as a CUDA graph"):
                    rows.append(Row("Algorithm 2", f"{case}, T = {T}: {key}", "", "CUDA only", status="skipped"))
        except Exception as exc:   # noqa: BLE001
            rows.append(Row("Algorithm 2", case, f"{type(exc).__name__}: {exc}"[:120], status="error"))
    return rows


# ---------------------------------------------------------------------------------------------------------
# 4. Full-size pix2pix and CycleGAN
# ---------------------------------------------------------------------------------------------------------

def gan_rows(device: torch.device, tiny: bool) -> list[Row]:
    cuda = device.type == "cuda"
    side = 32 if tiny else 256
    config = "teaching" if tiny else "full"
    steps, warmup = (2, 1) if tiny else (10, 3)
    rows = []
    fp32_rate: dict[tuple, float] = {}
    for family in ("pix2pix (U-Net 256 + PatchGAN)", "CycleGAN (ResNet-9 + PatchGAN)"):
        for batch in (1, 16):
            for channels_last in (False, True):
                for dtype in ("fp32", "bf16"):
                    name = (f"{family if not tiny else family.split(' ')[0] + ' (teaching nets, tiny)'}, "
                            f"{side}×{side}, batch {batch}, {dtype}, {'channels_last' if channels_last else 'NCHW'}")
                    if not cuda and (batch != 1 or dtype != "fp32" or channels_last):
                        rows.append(Row("GAN training", name, "", "CUDA only", status="skipped"))
                        continue
                    try:
                        rate, memory = _gan_rate(family, config, side, batch, dtype == "bf16", channels_last,
                                                 steps, warmup, device)
                        note = ""
                        key = (family, batch, channels_last)
                        if dtype == "fp32":
                            fp32_rate[key] = rate
                        elif key in fp32_rate:
                            note = f"{rate / fp32_rate[key]:.2f}× fp32"
                            if family.startswith("pix2pix"):
                                note += f" (target ≥ 1.5×: {'met' if rate >= 1.5 * fp32_rate[key] else 'not met'})"
                        rows.append(Row("GAN training", name, f"{rate:,.2f} it/s", note, memory,
                                        numbers=dict(it_per_s=rate)))
                    except Exception as exc:   # noqa: BLE001
                        rows.append(Row("GAN training", name, f"{type(exc).__name__}: {exc}"[:120], status="error"))
                    finally:
                        if cuda:
                            torch.cuda.empty_cache()
    return rows


def _gan_rate(family: str, config: str, side: int, batch: int, bf16: bool, channels_last: bool, steps: int,
              warmup: int, device: torch.device) -> tuple[float, str]:
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.rand(batch, 3, side, side).mul(2).sub(1).contiguous(memory_format=fmt)
    y = torch.rand(batch, 3, side, side).mul(2).sub(1).contiguous(memory_format=fmt)
    if family.startswith("pix2pix"):
        G, Dnet = build_pix2pix(3, 3, config, side)
        G, Dnet = G.to(device, memory_format=fmt), Dnet.to(device, memory_format=fmt)

        def run(n: int) -> None:
            train_pix2pix(G, Dnet, x, y, steps=n, batch_size=batch, device=device, amp=bf16, progress=False)
    else:
        model = build_cyclegan(3, 3, config)
        for m in model.modules():
            m.to(device, memory_format=fmt)

        def run(n: int) -> None:
            train_cyclegan(model, x, y, steps=n, batch_size=batch, device=device, amp=bf16, progress=False)
    _reset_peak(device)
    _timed(lambda: run(warmup), device)
    seconds = _timed(lambda: run(steps), device)
    return steps / seconds, _peak(device)


# ---------------------------------------------------------------------------------------------------------

def print_table(rows: list[Row]) -> None:
    width = max(len(r.name) for r in rows)
    head = f"{'section':<14} {'what':<{width}} {'result':>24} {'peak GPU mem':>13} {'status':>8}  note"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.section:<14} {r.name:<{width}} {r.value:>24} {r.memory:>13} {r.status:>8}  {r.extra}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda (default when available) or cpu (the CPU form)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--only", default="agreement,ddpm,sampling,gan",
                        help="comma-separated sections among agreement,ddpm,sampling,gan (default: all)")
    parser.add_argument("--fault", choices=("none", "mismatch"), default="none",
                        help="mismatch: perturb the device copies' weights, so the agreement rows must fail")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    tiny = device.type != "cuda"
    sections = set(args.only.split(","))
    unknown = sections - {"agreement", "ddpm", "sampling", "gan"}
    if unknown:
        parser.error(f"--only: unknown sections {sorted(unknown)}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    what = torch.cuda.get_device_name(device) if device.type == "cuda" else "no CUDA: the CPU form (tiny shapes)"
    print(f"torch {torch.__version__}, device {device} ({what}), {torch.get_num_threads()} CPU thread(s), "
          f"load average {load:.1f}", flush=True)
    rows: list[Row] = []
    steps = [("agreement", lambda: agreement_rows(device, tiny, args.fault == "mismatch")),
             ("ddpm", lambda: ddpm_training_rows(device, tiny, not args.no_compile)),
             ("sampling", lambda: sampling_rows(device, tiny)),
             ("gan", lambda: gan_rows(device, tiny))]
    for key, fn in steps:
        if key in sections:
            torch.backends.cudnn.benchmark = device.type == "cuda" and key != "agreement"   # autotune the speed rows
            start = time.perf_counter()
            rows += fn()
            print(f"  {key}: {time.perf_counter() - start:.1f} s", flush=True)
    print()
    print_table(rows)
    failed = [r for r in rows if r.status == "FAIL"]
    errors = [r for r in rows if r.status == "error"]
    skipped = sum(r.status == "skipped" for r in rows)
    print(f"\n{len(rows)} rows: {len(failed)} disagreements, {len(errors)} errors, {skipped} skipped"
          + (" (no CUDA device: CUDA rows skipped)" if device.type != "cuda" else ""))
    if failed:
        print("FAILED: device and CPU disagree beyond tolerance: " + "; ".join(r.name for r in failed))
        return 1
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
