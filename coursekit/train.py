"""Training utilities every unit shares: device choice, seeding, EMA, a small loop, checkpoints.

The loop is deliberately plain PyTorch (no framework): sample a batch, compute the unit's loss, step the
optimiser, update the EMA copy. A notebook passes ``callback`` to draw live plots.
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn


def get_device(device: str | torch.device | None = None) -> torch.device:
    """The device to use: the one asked for, else CUDA when available, else CPU.

    ``COURSEKIT_DEVICE=cpu`` in the environment forces the CPU (the grader sets it).
    """
    if device is not None:
        return torch.device(device)
    forced = os.environ.get("COURSEKIT_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); returns a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def progress_enabled(progress: bool | None) -> bool:
    """Progress bars are on unless turned off here or by ``COURSEKIT_PROGRESS=0`` (graders: no stderr)."""
    if progress is not None:
        return progress
    return os.environ.get("COURSEKIT_PROGRESS", "1") not in ("0", "false", "no")


class EMA:
    """Exponential moving average of a model's weights: θ_ema ← d θ_ema + (1 − d) θ.

    Sampling from the averaged weights gives visibly cleaner samples for the same training time.
    A warm-up (d grows as (1 + n)/(10 + n)) keeps the early average from remembering the random init.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_params = [p for p in self.model.parameters() if p.is_floating_point()]
        params = [p.detach() for p in model.parameters() if p.is_floating_point()]
        if ema_params:      # one fused call instead of a Python loop (small models: the loop dominated)
            torch._foreach_lerp_(ema_params, params, 1.0 - d)
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.copy_(b)


def batches(*tensors: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Iterator[tuple]:
    """Endless shuffled mini-batches drawn from tensors that share their first dimension."""
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError("all tensors must have the same first dimension")
    batch_size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=generator).to(tensors[0].device)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = perm[start:start + batch_size]
            yield tuple(t[idx] for t in tensors)


@dataclass
class TrainResult:
    model: nn.Module                 # the trained model (EMA weights if ema_decay was given)
    raw_model: nn.Module             # the optimised weights
    losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0


def fit(model: nn.Module, loss_fn: Callable[..., Tensor], data: tuple[Tensor, ...] | Tensor, *,
        steps: int | None = 1000, seconds: float | None = None, batch_size: int = 128, lr: float = 2e-3,
        lr_schedule: str = "cosine", warmup: int = 50, weight_decay: float = 0.0, grad_clip: float | None = 1.0,
        ema_decay: float | None = 0.999, seed: int = 0, device: str | torch.device | None = None,
        amp: bool = False, progress: bool | None = None, callback: Callable[[int, float, nn.Module], None] | None
        = None, callback_every: int = 100, fused: bool = False) -> TrainResult:
    """Train ``model`` by minimising ``loss_fn(model, *batch)`` with AdamW.

    Stops after ``steps`` optimiser steps or ``seconds`` of wall time, whichever comes first (give one or
    both). With ``lr_schedule="cosine"`` the learning rate decays to 0 over the budget, measured in
    steps or in seconds. ``amp`` uses bfloat16 autocast on CUDA (ignored on CPU). ``fused=True`` runs AdamW's
    update as one fused kernel (the same update up to float rounding; 1.13-1.22× the optimiser steps per CPU-second for
    the digits MLP, ``bench/bench_step_rate.py``); off by default so the notebooks' measured runs stay as they were.
    """
    if steps is None and seconds is None:
        raise ValueError("give steps, seconds or both")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
        raise ValueError(f"steps must be a positive int or None, got {steps!r}")      # 0 or less never finished
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be a positive number or None, got {seconds!r}")
    if lr_schedule not in ("cosine", "constant"):
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}")
    device = get_device(device)
    generator = seed_everything(seed)
    data = (data,) if isinstance(data, Tensor) else tuple(data)
    data = tuple(d.to(device) for d in data)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    # foreach: one multi-tensor kernel per update instead of a Python loop over parameters (CPU default is the loop);
    # fused: one kernel for the whole update (CPU and CUDA)
    kernel = {"fused": True} if fused and device.type in ("cpu", "cuda") else {"foreach": True}
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **kernel)
    ema = EMA(model, ema_decay) if ema_decay is not None else None
    use_amp = amp and device.type == "cuda"
    result = TrainResult(model=model, raw_model=model)
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm
        bar = tqdm(total=steps if steps is not None else None, desc="training", leave=False)
    start = time.perf_counter()
    stream = batches(*data, batch_size=batch_size, generator=generator)
    step = 0
    while True:
        elapsed = time.perf_counter() - start
        done = max(step / steps if steps else 0.0, elapsed / seconds if seconds else 0.0)
        if done >= 1.0:
            break
        scale = min(1.0, (step + 1) / warmup) if warmup else 1.0
        if lr_schedule == "cosine":
            scale *= 0.5 * (1.0 + math.cos(math.pi * done))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        batch = next(stream)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = loss_fn(model, *batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
        opt.step()
        if ema is not None:
            ema.update(model)
        step += 1
        value = float(loss.detach())
        result.losses.append(value)
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{value:.4f}")
        if callback is not None and step % callback_every == 0:
            callback(step, value, ema.model if ema is not None else model)
    if bar is not None:
        bar.close()
    result.steps = step
    result.seconds = time.perf_counter() - start
    model.eval()
    result.model = ema.model if ema is not None else model
    return result


def save_checkpoint(path: str | Path, model: nn.Module, **extra: object) -> Path:
    """Save weights and the model's ``.config`` (plus any JSON-like ``extra``, e.g. the schedule).

    The file is written under a temporary name in the same folder and moved into place in one step, so an
    interrupted save (Ctrl-C, a full disk) leaves the previous checkpoint as it was.
    """
    config = getattr(model, "config", None)
    if config is None:
        raise ValueError("model has no .config; build it with coursekit.nets (or set .config) to checkpoint it")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save({"config": dict(config), "state_dict": model.state_dict(), "extra": extra}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device | None = None,
                    build: Callable[[dict], nn.Module] | None = None) -> tuple[nn.Module, dict]:
    """Rebuild a model saved by :func:`save_checkpoint`; returns (model in eval mode, extra).

    A file that is not such a checkpoint (empty, truncated, random bytes, another kind of torch file) raises
    a ValueError that names the path and says what is wrong.
    """
    from . import nets

    path = Path(path)
    what = f"{str(path)!r} is not a coursekit checkpoint"
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    if path.stat().st_size == 0:
        raise ValueError(f"{what} (the file is empty)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:      # noqa: BLE001 — torch raises many types for a damaged file
        raise ValueError(f"{what} (unreadable: not a torch file, or truncated or damaged)") from err
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict) \
            or not isinstance(payload.get("state_dict"), dict):
        raise ValueError(f"{what} (it holds a {type(payload).__name__} without 'config' and 'state_dict')")
    try:
        model = (build or nets.build)(payload["config"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{what} (its weights do not fit its model config: {reason[:120]})") from err
    extra = payload.get("extra", {})
    return model.to(get_device(device)).eval(), extra if isinstance(extra, dict) else {}
