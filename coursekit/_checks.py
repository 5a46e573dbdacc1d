"""Argument checks shared by every algorithm module.

Each check raises a ``ValueError`` that names the argument and says what was expected, so a student who
passes a wrong shape or a t outside 1..T learns which argument is wrong instead of meeting a broadcasting
bug three cells later.
"""

from __future__ import annotations

import numbers

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


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """An integer (a Python or NumPy int; not a bool, not a float such as 4.0) that is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_real(name: str, value: object, *, minimum: float | None = None) -> float:
    """A finite real number (int or float, not a bool or a tensor of several values), ≥ ``minimum`` if given."""
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return float(value)


def check_shape(name: str, shape: object) -> tuple[int, ...]:
    """A non-empty sequence of positive ints, e.g. (batch, 1, 8, 8); an int alone or float sizes are refused."""
    if isinstance(shape, (int, Tensor)) or not isinstance(shape, (tuple, list, torch.Size)):
        raise ValueError(f"{name} must be a non-empty sequence of positive sizes such as (n, 1, 8, 8), got {shape!r}")
    if not shape or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in shape):
        raise ValueError(f"{name} must be a non-empty sequence of positive sizes (ints), got {tuple(shape)!r}")
    return tuple(int(d) for d in shape)


def check_float_dtype(name: str, dtype: object) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point torch dtype (e.g. torch.float32), got {dtype!r}")
    return dtype


def check_in_range(name: str, x: Tensor, low: float = -1.0, high: float = 1.0, tol: float = 1e-6) -> Tensor:
    """Values of ``x`` within [low, high] (images scaled to [-1, 1], as every model of the course expects)."""
    if x.numel() and x.device.type != "meta":
        lo, hi = float(x.min()), float(x.max())
        if lo < low - tol or hi > high + tol:
            raise ValueError(f"{name} must lie in [{low:g}, {high:g}] (images scaled as data.load_digits does), "
                             f"got values in [{lo:.4g}, {hi:.4g}]")
    return x


def check_count_and_labels(n: int | None, y: Tensor | None, device: torch.device) -> tuple[int, Tensor | None]:
    """How many samples to draw: ``n``, or one per class label in ``y`` (moved to ``device``); both must agree."""
    if y is not None:
        if not isinstance(y, Tensor):
            raise ValueError(f"y must be an integer tensor of class labels, got {type(y).__name__}")
        if n is not None and n != y.shape[0]:
            raise ValueError(f"n ({n}) must equal the number of labels y ({y.shape[0]})")
        y = y.to(device)
        n = y.shape[0]
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (or give y), got {n!r}")
    return n, y
