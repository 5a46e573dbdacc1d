"""Where a training step's time goes, and what the levers buy (issue 28, "more steps per CPU-second").

For each of the course's digits training loops (the DDPM recipes ``digits-cond`` and ``digits``, the VAE and the
class-conditional PixelCNN of ``coursekit compare``, and its cGAN) the step is cut into phases, each timed with
process CPU time (``time.process_time``, one torch thread: on a shared machine the CPU seconds are the work done,
wall seconds are not):

- ``data``: drawing the mini-batch (``train.batches``);
- ``forward``: the loss, the network's forward pass included (the GAN: D's loss and G's loss);
- ``backward``: ``loss.backward()`` (after ``zero_grad``);
- ``optimiser``: the AdamW / Adam step;
- ``ema``: the EMA update (DDPM only: ``train.EMA``);
- ``python``: what is left of the step (the loop, setting the learning rate, ``float(loss)``).

Beside them, the step's arithmetic: forward + backward floating-point operations counted by
``torch.utils.flop_counter.FlopCounterMode`` and divided by this core's measured rate (a 1024×1024 float32 matmul on
one thread): the time the step would take if the core did nothing but that arithmetic, at its best speed.

Levers (``--levers``), each against ``eager`` (what ``train.fit`` and ``gan.train_gan`` do today: AdamW with
``foreach=True``; the GAN: Adam as ``make_optimizer``):

- ``fused``: AdamW / Adam with ``fused=True`` (one kernel for the whole update, CPU since torch 2.4);
- ``compile``: ``torch.compile`` of the network(s) (inductor, C++ on CPU; its one-time compile is reported apart);
- ``batch2``, ``batch4``: 2× / 4× the batch, so half / a quarter of the steps for the same samples seen;
- ``nochecks`` (DDPM only): the loss without ``ddpm_loss``'s argument checks (the same arithmetic, written out).

    python bench/bench_step_rate.py                                   # every loop, every lever (≈ 3 CPU-min)
    python bench/bench_step_rate.py --loops ddpm-cond --levers eager,fused,compile --steps 400
    python bench/bench_step_rate.py --quality --seeds 0,1,2           # DDPM quality: equal steps, equal CPU time

``--quality`` trains the demo's recipe (``digits-cond``) to its default number of steps with each lever, three seeds,
and scores n = 500 samples with ``metrics.digit_report`` (FD / reference against the unseen test split, near copies,
asked-digit accuracy); ``batch2`` is run at half the steps (equal samples seen) and at the steps its measured
rate gives in the eager run's CPU time (equal CPU time). Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from coursekit import diffusion as D
from coursekit import train
from coursekit.data import load_digits

LOOPS = ("ddpm-cond", "ddpm", "vae", "pixelcnn", "gan")
LEVERS = ("eager", "fused", "compile", "batch2", "batch4", "nochecks")
PHASES = ("data", "forward", "backward", "optimiser", "ema", "python")


# ---------------------------------------------------------------------------------------------------------
# the core's own speed
# ---------------------------------------------------------------------------------------------------------

def core_flop_rate(size: int = 1024, repeats: int = 20) -> float:
    """float32 multiply-adds per CPU-second of one thread on a large matmul (2·n³ FLOPs each): the best this core
    does, the yardstick for a step's arithmetic."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b                                                           # warm-up (thread pool, caches)
    start = time.process_time()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.process_time() - start)


def step_flops(forward_backward: Callable[[], None]) -> int:
    """Floating-point operations of one forward + backward pass (matmuls and convolutions, as FlopCounterMode
    counts them; elementwise work is left out, it is small beside them here)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        forward_backward()
    return int(counter.get_total_flops())


# ---------------------------------------------------------------------------------------------------------
# one training loop, cut into phases
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Loop:
    """A training loop as a list of (phase, function) per step; ``samples`` = examples seen per step."""
    name: str
    phases: list[tuple[str, Callable[[], None]]]
    samples: int
    flops: Callable[[], int]
    modules: list[nn.Module] = field(default_factory=list)


def _adam(params, lever: str, **kw) -> torch.optim.Optimizer:
    kind = torch.optim.Adam if kw.pop("plain_adam", False) else torch.optim.AdamW
    return kind(params, **kw, **({"fused": True} if lever == "fused" else {"foreach": True}))


def _maybe_compile(module: nn.Module, lever: str) -> nn.Module:
    return torch.compile(module) if lever == "compile" else module


def _batch(lever: str, base: int) -> int:
    return base * {"batch2": 2, "batch4": 4}.get(lever, 1)


def _lr_python(opt: torch.optim.Optimizer, lr: float, state: dict) -> Callable[[], None]:
    """train.fit's per-step bookkeeping: warm-up and cosine learning rate, the loss read back as a float."""
    def run() -> None:
        state["step"] = state.get("step", 0) + 1
        scale = min(1.0, state["step"] / 50) * 0.5 * (1.0 + 0.5)
        for group in opt.param_groups:
            group["lr"] = lr * scale
        if "loss" in state:
            float(state["loss"].detach())
    return run


def _fast_ddpm_loss(model: nn.Module, s: D.Schedule, x0: Tensor, y: Tensor | None, p_uncond: float, gamma: float,
                    prediction: str) -> Tensor:
    """ddpm_loss's min-SNR arithmetic without its argument checks (the ``nochecks`` lever)."""
    t = torch.randint(1, s.T + 1, (x0.shape[0],))
    noise = torch.randn_like(x0)
    a = s.sqrt_alpha_bars[t - 1].view(-1, 1, 1, 1)
    b = s.sqrt_one_minus_alpha_bars[t - 1].view(-1, 1, 1, 1)
    x_t = a * x0 + b * noise
    if y is not None:
        y = torch.where(torch.rand(y.shape) < p_uncond, torch.full_like(y, -1), y)
    pred = model(x_t, t) if y is None else model(x_t, t, y)
    snr = s.snr[t - 1]
    if prediction == "x0":
        w, target = snr.clamp(max=gamma), x0
    else:
        w, target = gamma / snr.clamp(min=gamma), noise
    return (w * (pred - target).pow(2).flatten(1).mean(1)).mean()


def ddpm_loop(lever: str, conditional: bool = True, seed: int = 0) -> Loop:
    from coursekit.recipes import recipe

    r = recipe("digits-cond" if conditional else "digits")
    s = r.build_schedule("cpu")
    train.seed_everything(seed)
    net = r.build_model()
    model = _maybe_compile(net, lever)
    opt = _adam([p for p in net.parameters() if p.requires_grad], lever, lr=r.fit["lr"])
    ema = train.EMA(net, r.fit["ema_decay"])
    data = r.training_data()
    stream = train.batches(*data, batch_size=_batch(lever, r.fit["batch_size"]), generator=torch.Generator())
    loss_fn = r.loss_fn(s)
    gamma = r.loss.get("gamma", 5.0)
    state: dict = {}

    def compute_loss(batch) -> Tensor:
        if lever == "nochecks":
            return _fast_ddpm_loss(model, s, batch[0], batch[1] if conditional else None, r.p_uncond, gamma,
                                   r.prediction)
        return loss_fn(model, *batch)

    def flops() -> int:
        batch = next(stream)
        return step_flops(lambda: compute_loss(batch).backward())

    phases = [("python", _lr_python(opt, r.fit["lr"], state)),
              ("data", lambda: state.__setitem__("batch", next(stream))),
              ("forward", lambda: state.__setitem__("loss", compute_loss(state["batch"]))),
              ("backward", lambda: (opt.zero_grad(set_to_none=True), state["loss"].backward())),
              ("optimiser", opt.step),
              ("ema", lambda: ema.update(net))]
    return Loop(r.name, phases, _batch(lever, r.fit["batch_size"]), flops, [net])


def vae_loop(lever: str, seed: int = 0) -> Loop:
    from coursekit.compare import FULL_BUDGETS
    from coursekit.vae import VAE

    budget = FULL_BUDGETS["vae"]
    train.seed_everything(seed)
    net = VAE(latent_dim=16, hidden=256)
    loss_of = torch.compile(net.loss) if lever == "compile" else net.loss
    opt = _adam(net.parameters(), lever, lr=budget.lr)
    x = load_digits("train")[0]
    stream = train.batches(x, batch_size=_batch(lever, budget.batch_size), generator=torch.Generator())
    state: dict = {}

    def flops() -> int:
        batch = next(stream)
        return step_flops(lambda: net.loss(batch[0]).backward())

    phases = [("python", _lr_python(opt, budget.lr, state)),
              ("data", lambda: state.__setitem__("batch", next(stream))),
              ("forward", lambda: state.__setitem__("loss", loss_of(state["batch"][0]))),
              ("backward", lambda: (opt.zero_grad(set_to_none=True), state["loss"].backward())),
              ("optimiser", opt.step)]
    return Loop("vae (compare)", phases, _batch(lever, budget.batch_size), flops, [net])


def pixelcnn_loop(lever: str, seed: int = 0) -> Loop:
    from coursekit.autoregressive import PixelCNN
    from coursekit.compare import FULL_BUDGETS

    budget = FULL_BUDGETS["pixelcnn"]
    train.seed_everything(seed)
    net = PixelCNN(num_classes=10, hidden=64, n_blocks=5)
    loss_of = torch.compile(net.loss) if lever == "compile" else net.loss
    opt = _adam(net.parameters(), lever, lr=budget.lr)
    x, y = load_digits("train")
    stream = train.batches(x, y, batch_size=_batch(lever, budget.batch_size), generator=torch.Generator())
    state: dict = {}

    def flops() -> int:
        batch = next(stream)
        return step_flops(lambda: net.loss(*batch).backward())

    phases = [("python", _lr_python(opt, budget.lr, state)),
              ("data", lambda: state.__setitem__("batch", next(stream))),
              ("forward", lambda: state.__setitem__("loss", loss_of(*state["batch"]))),
              ("backward", lambda: (opt.zero_grad(set_to_none=True), state["loss"].backward())),
              ("optimiser", opt.step)]
    return Loop("pixelcnn (compare)", phases, _batch(lever, budget.batch_size), flops, [net])


def gan_loop(lever: str, seed: int = 0) -> Loop:
    """compare's cGAN step as ``gan.train_gan`` runs it: one D step (real batch, fake batch without grad), one G
    step; the phases sum both networks' forward, backward and Adam steps."""
    from coursekit.compare import FULL_BUDGETS
    from coursekit.gan.losses import discriminator_loss, generator_loss
    from coursekit.gan.nets import DCGANDiscriminator, DCGANGenerator

    budget = FULL_BUDGETS["gan"]
    train.seed_everything(seed)
    G, Dn = DCGANGenerator(latent_dim=32, image_size=8, num_classes=10), DCGANDiscriminator(image_size=8,
                                                                                          num_classes=10)
    g, d = _maybe_compile(G, lever), _maybe_compile(Dn, lever)
    opt_g = _adam(G.parameters(), lever, lr=budget.lr, betas=(0.5, 0.999), plain_adam=True)
    opt_d = _adam(Dn.parameters(), lever, lr=budget.lr, betas=(0.5, 0.999), plain_adam=True)
    x, y = load_digits("train")
    size = _batch(lever, budget.batch_size)
    stream = train.batches(x, y, batch_size=size, generator=torch.Generator())
    state: dict = {}

    def d_forward() -> None:
        xb, yb = state["batch"]
        with torch.no_grad():
            fake = g(torch.randn(len(xb), 32), yb)
        state["d_loss"] = discriminator_loss(d(xb, yb), d(fake, yb), "minimax")

    def g_forward() -> None:
        yb = state["batch"][1]
        state["g_loss"] = generator_loss(d(g(torch.randn(len(yb), 32), yb), yb), "non_saturating")

    def flops() -> int:
        state["batch"] = next(stream)

        def both() -> None:
            d_forward()
            state["d_loss"].backward()
            g_forward()
            state["g_loss"].backward()
        return step_flops(both)

    def python() -> None:
        for key in ("d_loss", "g_loss"):
            if key in state:
                float(state[key].detach())

    phases = [("python", python), ("data", lambda: state.__setitem__("batch", next(stream))),
              ("forward", d_forward),
              ("backward", lambda: (opt_d.zero_grad(set_to_none=True), state["d_loss"].backward())),
              ("optimiser", opt_d.step), ("forward", g_forward),
              ("backward", lambda: (opt_g.zero_grad(set_to_none=True), state["g_loss"].backward())),
              ("optimiser", opt_g.step)]
    return Loop("cgan (compare)", phases, size, flops, [G, Dn])


def build(loop: str, lever: str, seed: int = 0) -> Loop:
    if lever == "nochecks" and not loop.startswith("ddpm"):
        raise ValueError("nochecks is a DDPM lever")
    if loop == "ddpm-cond":
        return ddpm_loop(lever, True, seed)
    if loop == "ddpm":
        return ddpm_loop(lever, False, seed)
    return {"vae": vae_loop, "pixelcnn": pixelcnn_loop, "gan": gan_loop}[loop](lever, seed)


# ---------------------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------------------

def measure(loop: Loop, steps: int, warmup: int) -> dict:
    """CPU seconds per step, per phase (summed over the phases of that name), after ``warmup`` steps (which hold
    torch.compile's one-time compile: reported as ``compile_s``)."""
    for m in loop.modules:
        m.train()
    start = time.process_time()
    for _ in range(warmup):
        for _, fn in loop.phases:
            fn()
    first = time.process_time() - start
    spent = dict.fromkeys(PHASES, 0.0)
    clock = time.process_time
    start = clock()
    for _ in range(steps):
        for name, fn in loop.phases:
            t0 = clock()
            fn()
            spent[name] += clock() - t0
    total = clock() - start
    spent["python"] += total - sum(spent.values())                  # the loop itself and the clock calls
    per_step = {k: v / steps for k, v in spent.items()}
    return dict(step_s=total / steps, phases=per_step, warmup_s=first, samples=loop.samples)


def print_rates(rows: list[dict], rate: float) -> None:
    print(f"\n{'loop':<20} {'lever':<9} {'batch':>5} {'ms/step':>8} {'steps/CPU-s':>11} {'samples/CPU-s':>13} "
          + " ".join(f"{p[:6]:>6}" for p in PHASES) + f" {'arith ms':>8} {'arith %':>7} {'first steps s':>13}")
    for r in rows:
        ph = r["phases"]
        arith = r["flops"] / rate
        print(f"{r['loop']:<20} {r['lever']:<9} {r['samples']:>5} {1000 * r['step_s']:>8.2f} {1 / r['step_s']:>11.0f} "
              f"{r['samples'] / r['step_s']:>13.0f} "
              + " ".join(f"{1000 * ph[p]:>6.2f}" for p in PHASES)
              + f" {1000 * arith:>8.3f} {100 * arith / r['step_s']:>6.1f}% {r['warmup_s']:>13.1f}")
    print("(phase columns: CPU ms per step; arith = forward + backward FLOPs / the core's matmul rate)")
    print(f"\n{'loop':<20} {'lever':<9} {'steps/CPU-s vs eager':>21} {'samples/CPU-s vs eager':>23}")
    eager = {r["loop"]: r for r in rows if r["lever"] == "eager"}
    for r in rows:
        if r["lever"] != "eager" and r["loop"] in eager:
            e = eager[r["loop"]]
            print(f"{r['loop']:<20} {r['lever']:<9} {e['step_s'] / r['step_s']:>20.2f}× "
                  f"{(r['samples'] / r['step_s']) / (e['samples'] / e['step_s']):>22.2f}×")


# ---------------------------------------------------------------------------------------------------------
# quality: the demo's recipe trained with each lever
# ---------------------------------------------------------------------------------------------------------

def train_with_lever(lever: str, steps: int, seed: int, batch_factor: int = 1) -> tuple[dict, float]:
    """digits-cond trained for ``steps`` steps with one lever (train.fit's loop, the optimiser or model swapped),
    scored at n = 500: (digit_report, training CPU seconds)."""
    from coursekit import metrics
    from coursekit.recipes import recipe

    r = recipe("digits-cond")
    fit_kw = dict(r.fit, steps=steps, seconds=None, batch_size=r.fit["batch_size"] * batch_factor)
    s = r.build_schedule("cpu")
    train.seed_everything(seed)
    net = r.build_model()
    model = torch.compile(net) if lever == "compile" else net
    loss = r.loss_fn(s)
    original = torch.optim.AdamW
    if lever == "fused":                                           # fit builds AdamW(..., foreach=True)
        torch.optim.AdamW = lambda params, **kw: original(params, **{**kw, "foreach": None, "fused": True})
    try:
        cpu = time.process_time()
        result = train.fit(model, loss, r.training_data(), seed=seed, device="cpu", progress=False, **fit_kw)
        cpu = time.process_time() - cpu
    finally:
        torch.optim.AdamW = original
    ema = result.model
    if lever == "compile":                                          # the EMA copy of a compiled model: unwrap
        ema = getattr(ema, "_orig_mod", ema)
    x, labels = r.draw(ema, s, 500, seed=seed + 1)
    return metrics.digit_report(x.clamp(-1, 1), labels), cpu


def quality(seeds: list[int], steps: int, levers: list[str]) -> None:
    rows = []
    print(f"{'variant':<26} {'seed':>4} {'steps':>6} {'CPU s':>7} {'FD/ref':>7} {'KID':>6} {'copies%':>7} "
          f"{'asked%':>6}", flush=True)
    for seed in seeds:
        eager_cpu = None
        for lever in levers:
            plans = ([("batch2, equal samples", steps // 2, 2), ("batch2, equal CPU time", None, 2)]
                     if lever == "batch2" else [(lever, steps, 1)])
            for name, n_steps, factor in plans:
                if n_steps is None:                                 # the steps batch 2 runs in eager's CPU time
                    probe = measure(build("ddpm-cond", "batch2", seed), 100, 10)["step_s"]
                    n_steps = int(eager_cpu / probe)
                rep, cpu = train_with_lever(lever if factor == 1 else "eager", n_steps, seed, factor)
                if lever == "eager":
                    eager_cpu = cpu
                row = dict(variant=name, seed=seed, steps=n_steps, cpu=cpu, **rep)
                rows.append(row)
                print(f"{name:<26} {seed:>4} {n_steps:>6} {cpu:>7.1f} {rep['fd_ratio']:>7.3f} {rep['kid']:>6.2f} "
                      f"{100 * rep['near_copy_rate']:>7.1f} {100 * rep['accuracy']:>6.1f}", flush=True)
    print(f"\n{'variant':<26} {'seeds':>5} {'FD/ref median (range)':>24} {'copies % median':>15} {'asked % min':>11} "
          f"{'CPU s median':>12}")
    for name in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == name]
        fd = [r["fd_ratio"] for r in mine]
        print(f"{name:<26} {len(mine):>5} {statistics.median(fd):>8.3f} ({min(fd):.3f}–{max(fd):.3f}) "
              f"{100 * statistics.median(r['near_copy_rate'] for r in mine):>15.1f} "
              f"{100 * min(r['accuracy'] for r in mine):>11.1f} {statistics.median(r['cpu'] for r in mine):>12.1f}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loops", default=",".join(LOOPS), help=f"comma-separated among {','.join(LOOPS)}")
    p.add_argument("--levers", default="eager,fused,compile,batch2,batch4",
                   help=f"comma-separated among {','.join(LEVERS)} (nochecks: DDPM only)")
    p.add_argument("--steps", type=int, default=300, help="timed steps per row (after --warmup)")
    p.add_argument("--warmup", type=int, default=30, help="untimed steps first (torch.compile compiles here)")
    p.add_argument("--quality", action="store_true", help="train digits-cond with each lever and score it")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--train-steps", type=int, default=None, help="--quality: steps (default: the recipe's)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, 1 thread, {os.cpu_count()} CPUs, load average {load:.1f}; times are process "
          "CPU seconds (time.process_time)", flush=True)
    levers = args.levers.split(",")
    if args.quality:
        from coursekit.recipes import recipe
        steps = args.train_steps or recipe("digits-cond").fit["steps"]
        quality([int(v) for v in args.seeds.split(",")], steps, levers)
        return
    rate = core_flop_rate()
    print(f"this core: {rate / 1e9:.1f} GFLOP/s (float32 1024×1024 matmul, one thread)", flush=True)
    rows = []
    for name in args.loops.split(","):
        for lever in levers:
            if lever == "nochecks" and not name.startswith("ddpm"):
                continue
            loop = build(name, lever)
            row = dict(loop=loop.name, lever=lever, flops=loop.flops(), **measure(loop, args.steps, args.warmup))
            rows.append(row)
            print(f"  {loop.name} / {lever}: {1000 * row['step_s']:.2f} CPU ms per step", flush=True)
    print_rates(rows, rate)


if __name__ == "__main__":
    main()
