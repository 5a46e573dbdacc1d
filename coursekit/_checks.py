"""Argument checks shared by every algorithm module.

Each check raises a ``ValueError`` that names the argument and says what was expected, so a student who
passes a wrong shape or a t outside 1..T learns which argument is wrong instead of meeting a broadcasting
bug three cells later.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_tensor(name: str, x: object, *, ndim: int | None = None, min_ndim: int | None = None,
                 floating: bool = True, finite: bool = True) -> Tensor:
    """Return ``x`` if it is a tensor of the expected kind, else raise ValueError naming ``name``."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if finite and floating and x.device.type != "meta" and not bool(torch.isfinite(x).all()):   # meta: no values
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_like(name: str, x: Tensor, ref_name: str, ref: Tensor) -> Tensor:
    """``x`` must be a finite float tensor with the same shape, dtype and device as ``ref``."""
    check_tensor(name, x)
    if x.shape != ref.shape:
        raise ValueError(f"{name} must have the shape of {ref_name} {tuple(ref.shape)}, got {tuple(x.shape)}")
    if x.dtype != ref.dtype:
        raise ValueError(f"{name} must have the dtype of {ref_name} ({ref.dtype}), got {x.dtype}")
    if x.device != ref.device:
        raise ValueError(f"{name} must be on the device of {ref_name} ({ref.device}), got {x.device}")
    return x


def as_timesteps(t: int | Tensor, T: int, batch: int, device: torch.device, name: str = "t") -> Tensor:
    """Validate slide time steps t ∈ {1, …, T} and return them as a long tensor of shape (batch,).

    A Python int is broadcast to the batch; a tensor must already have shape (batch,) (nothing else is
    silently broadcast) and an integer dtype.
    """
    if isinstance(t, bool):
        raise ValueError(f"{name} must be an int or an integer tensor, got bool")
    if isinstance(t, int):
        if not 1 <= t <= T:
            raise ValueError(f"{name} must be in 1..T = 1..{T} (slide notation), got {t}")
        return torch.full((batch,), t, dtype=torch.long, device=device)
    if not isinstance(t, Tensor):
        raise ValueError(f"{name} must be an int or an integer tensor of shape ({batch},), got {type(t).__name__}")
    if t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} must be an integer tensor (time steps 1..{T}), got dtype {t.dtype}")
    if t.ndim == 0:
        t = t.reshape(1).expand(batch)
    if t.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},) (one step per example), got {tuple(t.shape)}")
    if t.device != device:
        raise ValueError(f"{name} must be on device {device}, got {t.device}")
    if t.numel() and (int(t.min()) < 1 or int(t.max()) > T):
        raise ValueError(f"{name} must be in 1..T = 1..{T} (slide notation), got values in "
                         f"{int(t.min())}..{int(t.max())}")
    return t.long()


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return value
