"""Flow matching / rectified flow (Lipman et al. 2023, "Flow Matching for Generative Modeling"; Liu et al. 2023,
"Flow Straight and Fast"), notebook 07: the straight path from data to noise, a network that regresses its velocity,
and an ODE solved in a few steps.

Time runs from t = 0 (data) to t = 1 (noise), as in the diffusion chain (t = 1..T, noise at T):

    x_t = (1 − t) x_0 + t ε,   ε ~ N(0, I),  t ~ U[0, 1]                 the straight path
    d x_t / dt = ε − x_0                                                 its velocity (the regression target)
    L(θ) = E_{x_0, ε, t} ‖v_θ(x_t, t) − (ε − x_0)‖²                      the flow-matching loss
    Euler:  x_{t'} = x_t + (t' − t) v_θ(x_t, t),   t' < t,  from x_1 = ε ~ N(0, I) down to x_0
    Heun:   x̃ = x_t + (t' − t) v_θ(x_t, t),  x_{t'} = x_t + (t' − t) · ½ (v_θ(x_t, t) + v_θ(x̃, t'))

The minimiser of L is v*(x, t) = E[ε − x_0 | x_t = x]; its ODE moves N(0, I) to the data distribution along paths
that are straight on average but curve where paths that cross are averaged, so a few Euler steps go far but not all
the way. Reflow (Liu et al.) trains again on pairs (x̂_0, ε) coupled by the first model's ODE: their paths cross
less, so the new ODE is straighter (:func:`straightness` measures it).

A velocity model is called as ``model(x_t, t)`` (or ``model(x_t, t, y)``) with t a float tensor (batch,) in [0, 1].
:class:`TimeScaled` makes one from a diffusion denoiser of ``coursekit.nets`` (which embeds t ∈ 1..T) by feeding it
1000·t, so flow matching and DDPM can share one network.

    from coursekit import flow, nets, train
    v = flow.TimeScaled(nets.MLPDenoiser(dim=2))
    result = train.fit(v, lambda m, x0: flow.flow_matching_loss(m, x0), points, steps=3000)
    x0 = flow.flow_sample(result.model, (1000, 2), steps=10)                      # 10 Euler steps
    model = flow.pretrained("digits-flow")        # the 8×8 digits, the network and budget of "digits-eps"
    eps_ring = flow.pretrained("ring8-eps")        # the ring's DDPM, the network and budget of "ring8-flow"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_choice, check_int, check_like, check_real, check_shape, check_tensor
from .checkpoints import float_state, half_state, load_record, save_record
from .diffusion.training import NULL_LABEL, drop_labels

METHODS = ("euler", "heun")
TIME_SCALE = 1000.0                 # TimeScaled feeds a denoiser 1000·t (diffusers' flow-matching convention)

__all__ = ["METHODS", "TIME_SCALE", "interpolate", "velocity_target", "flow_matching_loss", "time_grid",
           "euler_step", "heun_step", "flow_sample", "flow_invert", "network_calls", "straightness", "TimeScaled",
           "reflow_pairs", "PRETRAINED", "FlowModel", "pretrained", "pretrained_info", "new_net", "training_data",
           "loss_function", "fit_settings", "train_pretrained", "save_pretrained", "load_pretrained"]


# ---------------------------------------------------------------------------------------------------------
# the path, its velocity and the loss
# ---------------------------------------------------------------------------------------------------------

def _as_times(t: float | Tensor, x: Tensor, name: str = "t") -> Tensor:
    """t as a float tensor shaped (batch, 1, …, 1) for broadcasting against x; values must lie in [0, 1]."""
    if isinstance(t, Tensor):
        if not t.is_floating_point():
            raise ValueError(f"{name} must be a float (or float tensor) in [0, 1], got dtype {t.dtype}")
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"{name} must have shape ({x.shape[0]},) (one time per example), got {tuple(t.shape)}")
    else:
        t = torch.full((x.shape[0],), check_real(name, t), device=x.device, dtype=x.dtype)
    if t.numel() and (float(t.min()) < 0.0 or float(t.max()) > 1.0):
        raise ValueError(f"{name} must lie in [0, 1] (0: data, 1: noise), got values in "
                         f"[{float(t.min()):.4g}, {float(t.max()):.4g}]")
    return t.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))


def interpolate(x0: Tensor, noise: Tensor, t: float | Tensor) -> Tensor:
    """The straight path x_t = (1 − t) x_0 + t ε (t = 0: the data, t = 1: the noise)."""
    check_tensor("x0", x0, min_ndim=1)
    check_like("noise", noise, "x0", x0)
    t = _as_times(t, x0)
    return (1.0 - t) * x0 + t * noise


def velocity_target(x0: Tensor, noise: Tensor) -> Tensor:
    """d x_t / dt = ε − x_0, the same at every t of a straight path: what v_θ(x_t, t) regresses."""
    check_tensor("x0", x0, min_ndim=1)
    check_like("noise", noise, "x0", x0)
    return noise - x0


def _call(model: nn.Module, x: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
    return model(x, t) if y is None else model(x, t, y)


def flow_matching_loss(model: nn.Module, x0: Tensor, *, t: float | Tensor | None = None,
                       noise: Tensor | None = None, y: Tensor | None = None, p_uncond: float = 0.0,
                       generator: torch.Generator | None = None) -> Tensor:
    """L = ‖v_θ(x_t, t) − (ε − x_0)‖² / dim(x), averaged over the batch, with x_t = (1 − t) x_0 + t ε.

    t ~ U[0, 1] and ε ~ N(0, I) are drawn (t first, then ε, from ``generator``) unless given; ``y`` (with
    ``p_uncond`` label dropout, as ``diffusion.ddpm_loss`` does it) trains a conditional v_θ(x_t, t, y) for
    classifier-free guidance. Reflow passes the coupled ``noise`` of each x_0 (:func:`reflow_pairs`)."""
    check_tensor("x0", x0, min_ndim=2)
    batch = x0.shape[0]
    if y is not None and (not isinstance(y, Tensor) or y.shape != (batch,) or y.is_floating_point()):
        raise ValueError(f"y must be an integer tensor of shape ({batch},), got {getattr(y, 'shape', y)}")
    if t is None:
        t = torch.rand(batch, device=x0.device, generator=generator)                  # t ~ U[0, 1]
    if noise is None:
        noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)   # ε ~ N(0, I)
    x_t = interpolate(x0, noise, t)                                                    # (1 − t) x_0 + t ε
    t_in = _as_times(t, x0).reshape(batch)
    if y is not None:
        y = drop_labels(y, p_uncond, generator)
    v = _call(model, x_t, t_in, y)                                                     # v_θ(x_t, t)
    if v.shape != x0.shape:
        raise ValueError(f"model output must have the shape of x0 {tuple(x0.shape)}, got {tuple(v.shape)}")
    return F.mse_loss(v.float(), velocity_target(x0, noise).float())                   # ‖v_θ − (ε − x_0)‖²


# ---------------------------------------------------------------------------------------------------------
# solving the ODE: Euler and Heun
# ---------------------------------------------------------------------------------------------------------

def time_grid(steps: int) -> list[float]:
    """The times an S-step solver starts each step at: 1, (S − 1)/S, …, 1/S (it ends at 0), evenly spaced."""
    check_int("steps", steps)
    return [i / steps for i in range(steps, 0, -1)]


def euler_step(x_t: Tensor, t: float, t_next: float, v: Tensor) -> Tensor:
    """x_{t'} = x_t + (t' − t) v with v = v_θ(x_t, t); going towards the data t' < t, so the step is −Δt·v."""
    check_tensor("x_t", x_t, min_ndim=1)
    check_like("v", v, "x_t", x_t)
    return x_t + (check_real("t_next", t_next) - check_real("t", t)) * v


def heun_step(x_t: Tensor, t: float, t_next: float, v: Tensor, v_next: Tensor) -> Tensor:
    """Heun's (trapezoidal) correction: x_{t'} = x_t + (t' − t) · ½ (v + v'), v = v_θ(x_t, t) and
    v' = v_θ(x̃, t') at the Euler prediction x̃ = euler_step(x_t, t, t', v). Two network calls per step,
    error O(Δt²) per unit time against Euler's O(Δt)."""
    check_like("v_next", v_next, "x_t", x_t)
    return euler_step(x_t, t, t_next, 0.5 * (v + v_next))


def network_calls(steps: int, method: str = "euler") -> int:
    """How many times a solver calls v_θ: S for Euler, 2S for Heun."""
    check_choice("method", method, METHODS)
    return check_int("steps", steps) * (2 if method == "heun" else 1)


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


class _Velocity:
    """v_θ(x, t) as a solver needs it: t as a float tensor (batch,), and classifier-free guidance
    ṽ = v_∅ + w (v_y − v_∅) in one batched call."""

    def __init__(self, model: nn.Module, batch: int, device: torch.device, y: Tensor | None, guidance_scale: float):
        guidance_scale = check_real("guidance_scale", guidance_scale)
        if y is None and guidance_scale != 1.0:
            raise ValueError(f"guidance_scale = {guidance_scale:g} needs class labels y (guidance mixes v_θ(x_t, t, y) "
                             f"and v_θ(x_t, t, ∅)); an unconditional model samples with guidance_scale = 1")
        self.model, self.batch, self.w = model, batch, guidance_scale
        self.guided = y is not None and guidance_scale != 1.0
        if y is not None:
            if not isinstance(y, Tensor) or y.shape != (batch,) or y.is_floating_point():
                raise ValueError(f"y must be an integer tensor of shape ({batch},), got {getattr(y, 'shape', y)}")
            y = y.to(device)
            if self.guided:
                y = torch.cat([y, torch.full_like(y, NULL_LABEL)])
        self.y = y
        self.t_in = torch.empty(2 * batch if self.guided else batch, device=device)

    def __call__(self, x: Tensor, t: float) -> Tensor:
        self.t_in.fill_(t)
        if self.guided:
            both = self.model(torch.cat([x, x]), self.t_in, self.y)
            return torch.lerp(both[self.batch:], both[:self.batch], self.w)          # v_∅ + w (v_y − v_∅)
        return _call(self.model, x, self.t_in, self.y)


def _check_grid(timesteps: Sequence[float] | None, steps: int) -> list[float]:
    if timesteps is None:
        return time_grid(steps)
    ts = [float(t) for t in timesteps]
    if not ts or any(not 0.0 < t <= 1.0 for t in ts) or any(a <= b for a, b in zip(ts, ts[1:])):
        raise ValueError(f"timesteps must be strictly decreasing times in (0, 1] (the solver adds the final 0), "
                         f"got {ts[:8]}{' …' if len(ts) > 8 else ''}")
    return ts


def _solve(velocity: _Velocity, x: Tensor, ts: list[float], method: str, states: list[Tensor] | None) -> Tensor:
    """Euler or Heun from each ts[i] to ts[i + 1] (the list already holds the end point)."""
    for t, t_next in zip(ts, ts[1:]):
        v = velocity(x, t)                                            # v_θ(x_t, t)
        x_euler = euler_step(x, t, t_next, v)
        x = x_euler if method == "euler" else heun_step(x, t, t_next, v, velocity(x_euler, t_next))
        if states is not None:
            states.append(x)
    return x


@torch.no_grad()
def flow_sample(model: nn.Module, shape: Sequence[int], steps: int = 10, method: str = "euler",
                generator: torch.Generator | None = None, *, timesteps: Sequence[float] | None = None,
                x1: Tensor | None = None, y: Tensor | None = None, guidance_scale: float = 1.0,
                device: str | torch.device | None = None, trajectory: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Solve d x/dt = v_θ(x, t) from x_1 = ε ~ N(0, I) (or ``x1``) at t = 1 down to t = 0 in ``steps`` steps of
    :func:`euler_step` or :func:`heun_step` (``method``) on :func:`time_grid` (or the given decreasing
    ``timesteps``, which the solver ends at 0). ``y`` and ``guidance_scale`` w: ṽ = v_∅ + w (v_y − v_∅).
    ``trajectory=True`` also returns every state (S + 1, *shape), x_1 first, x_0 last.
    Network calls: :func:`network_calls`."""
    check_choice("method", method, METHODS)
    shape = check_shape("shape", shape)
    ts = _check_grid(timesteps, check_int("steps", steps)) + [0.0]
    device = torch.device(device) if device is not None else _model_device(model)
    if x1 is not None:
        check_tensor("x1", x1)
        if tuple(x1.shape) != shape:
            raise ValueError(f"x1 must have the shape {shape}, got {tuple(x1.shape)}")
    velocity = _Velocity(model, shape[0], device, y, guidance_scale)
    was_training = model.training
    model.eval()
    try:
        x = x1.to(device) if x1 is not None else torch.randn(shape, generator=generator, device=device)
        states = [x] if trajectory else None
        x = _solve(velocity, x, ts, method, states)
    finally:
        model.train(was_training)
    return (x, torch.stack(states)) if trajectory else x


@torch.no_grad()
def flow_invert(model: nn.Module, x0: Tensor, steps: int = 10, method: str = "euler", *,
                y: Tensor | None = None, guidance_scale: float = 1.0,
                trajectory: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The same ODE run forwards, from x_0 at t = 0 up to x_1 at t = 1 on the reversed :func:`time_grid`: the noise
    that :func:`flow_sample` would carry back to (nearly) x_0."""
    check_choice("method", method, METHODS)
    check_tensor("x0", x0, min_ndim=1)
    ts = [0.0, *time_grid(check_int("steps", steps))[::-1]]
    device = _model_device(model)
    velocity = _Velocity(model, x0.shape[0], device, y, guidance_scale)
    was_training = model.training
    model.eval()
    try:
        x = x0.to(device)
        states = [x] if trajectory else None
        x = _solve(velocity, x, ts, method, states)
    finally:
        model.train(was_training)
    return (x, torch.stack(states)) if trajectory else x


def straightness(states: Tensor) -> float:
    """How much a solver's paths bend (Liu et al. 2023's straightness): with the states x_1, …, x_0 of an S-step
    path on an even grid (``flow_sample(..., trajectory=True)``), the mean over steps and samples of
    ‖S·(x_{t'} − x_t) − (x_0 − x_1)‖² / dim, each step's displacement per unit time against the whole path's.
    0 for straight paths (then one Euler step would be exact)."""
    check_tensor("states", states, min_ndim=2)
    n_steps = states.shape[0] - 1
    if n_steps < 1:
        raise ValueError(f"states must hold at least two states (x_1 … x_0), got shape {tuple(states.shape)}")
    per_step = (states[1:] - states[:-1]) * n_steps               # each step's displacement per unit time
    whole = (states[-1] - states[0]).unsqueeze(0)                 # x_0 − x_1 over the unit time
    return float((per_step - whole).pow(2).flatten(2).mean(2).mean())


@torch.no_grad()
def reflow_pairs(model: nn.Module, n: int, shape: Sequence[int], steps: int = 50, method: str = "heun",
                 generator: torch.Generator | None = None, *, y: Tensor | None = None,
                 guidance_scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """(x̂_0, ε): n noises ε and where the model's ODE carries them, solved finely. Training a new model with
    ``flow_matching_loss(m, x0, noise=eps)`` on these coupled pairs is one reflow step (Liu et al. 2023)."""
    check_int("n", n)
    full = (n, *check_shape("shape", shape))
    device = _model_device(model)
    noise = torch.randn(full, generator=generator, device=device)
    x0 = flow_sample(model, full, steps=steps, method=method, x1=noise, y=y, guidance_scale=guidance_scale)
    return x0, noise


# ---------------------------------------------------------------------------------------------------------
# networks: a diffusion denoiser as a velocity model
# ---------------------------------------------------------------------------------------------------------

class TimeScaled(nn.Module):
    """v_θ(x, t) = net(x, 1000·t[, y]) for t ∈ [0, 1]: a denoiser of ``coursekit.nets`` (whose sinusoidal
    embedding expects steps like 1..T) used as a velocity model. ``config`` is the wrapped network's."""

    def __init__(self, net: nn.Module, scale: float = TIME_SCALE):
        super().__init__()
        self.net = net
        self.scale = check_real("scale", scale, minimum=0.0)

    @property
    def config(self) -> dict:
        return dict(self.net.config)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        if not isinstance(t, Tensor) or not t.is_floating_point():
            raise ValueError(f"t must be a float tensor of times in [0, 1], got {getattr(t, 'dtype', type(t))}")
        return self.net(x, t * self.scale, y)


# ---------------------------------------------------------------------------------------------------------
# the models notebook 07 compares, shipped (made by scripts/make_flow_models.py)
# ---------------------------------------------------------------------------------------------------------

ASSETS = Path(__file__).resolve().parent / "assets"
KIND = "coursekit-flow"
TARGETS = ("velocity", "eps")
DATASETS = ("digits", "ring8")
RING_FIT = dict(batch_size=256, lr=5e-3, ema_decay=0.995)      # notebook 04a's settings for the ring (FIT there)
RING_POINTS = 8192                                              # the training set: sample_2d("ring8", 8192, seed)


@dataclass(frozen=True)
class FlowModel:
    """One shipped model of notebook 07: its data, what it predicts (``"velocity"``: v_θ(x_t, t) trained with
    :func:`flow_matching_loss`; ``"eps"``: a DDPM ε_θ(x_t, t) trained with L_simple on the T = 250 schedule of
    ``diffusion.digits_schedule()``), its network (a residual MLP of ``coursekit.nets``), its number of optimiser
    steps and the SHA-256 of its file. Models of one data set share the network, the optimiser and the steps."""

    name: str
    description: str
    data: str
    target: str
    hidden: int
    steps: int
    sha256: str

    @property
    def file(self) -> Path:
        return ASSETS / f"flow_{self.name.replace('-', '_')}.pt"


PRETRAINED: dict[str, FlowModel] = {m.name: m for m in (
    FlowModel("digits-flow", "v_θ(x_t, t) on the 8×8 digits: the network, optimiser and 8,000 steps of "
              "diffusion.pretrained('digits-eps'), trained with the flow-matching loss", data="digits",
              target="velocity", hidden=128, steps=8000,
              sha256="dde886f879d6a56a565b11cdca1d448c6d6ba4d638053c57189de4c0049a851c"),
    FlowModel("ring8-flow", "v_θ(x_t, t) on the ring of 8 Gaussians: notebook 04a's network and settings "
              "(3,000 steps, batch 256, lr 5e-3, EMA 0.995), flow-matching loss", data="ring8", target="velocity",
              hidden=128, steps=3000, sha256="22abc7dd81736624ac1918317c4e0c345e111ccba4231169c17b3c7bf3911ec0"),
    FlowModel("ring8-eps", "ε_θ(x_t, t) on the ring of 8 Gaussians, DDPM's L_simple on diffusion.digits_schedule() "
              "(T = 250): the same network, settings and steps as ring8-flow", data="ring8", target="eps",
              hidden=128, steps=3000, sha256="1417ceee469e14fefc791facb953cab215eba2f8aa359b9c5fc0e41a6b735630"),
)}


def _spec(name: str) -> FlowModel:
    check_choice("name", name, tuple(PRETRAINED))
    return PRETRAINED[name]


def new_net(name: str) -> nn.Module:
    """A fresh (untrained) network of the shipped model ``name``: a residual MLP (depth 3) of ``coursekit.nets``,
    wrapped in :class:`TimeScaled` for a velocity model."""
    from .nets import MLPDenoiser

    spec = _spec(name)
    net = (MLPDenoiser(image_shape=(1, 8, 8), hidden=spec.hidden, depth=3) if spec.data == "digits"
           else MLPDenoiser(dim=2, hidden=spec.hidden, depth=3))
    return TimeScaled(net) if spec.target == "velocity" else net


def training_data(name: str, seed: int = 0) -> Tensor:
    """What the model ``name`` trains on: the 1,437 train digits, or 8,192 ring points drawn with ``seed``."""
    from .data import load_digits, sample_2d

    spec = _spec(name)
    return load_digits("train")[0] if spec.data == "digits" else sample_2d("ring8", RING_POINTS, seed=seed)


def loss_function(name: str):
    """``loss_fn(model, x0)`` for ``train.fit``: the flow-matching loss, or L_simple on diffusion.digits_schedule()."""
    spec = _spec(name)
    if spec.target == "velocity":
        return lambda m, x0: flow_matching_loss(m, x0)
    from .diffusion import ddpm_loss, digits_schedule

    s = digits_schedule()
    return lambda m, x0: ddpm_loss(m, s.to(x0.device), x0)


def fit_settings(name: str) -> dict:
    """``train.fit``'s settings of ``name``: the digits models' of ``diffusion.pretrained`` or 04a's for the ring."""
    from .diffusion.pretrained import FIT

    return dict(FIT) if _spec(name).data == "digits" else dict(RING_FIT)


def train_pretrained(name: str = "digits-flow", seed: int = 0, steps: int | None = None,
                     device: str | torch.device | None = None, progress: bool | None = None):
    """Train the model ``name`` as the shipped one was (``steps`` defaults to its own): seeded weights, data and
    batches. Returns ``train.TrainResult`` (``.model``: the EMA weights)."""
    from . import train

    spec = _spec(name)
    dev = train.get_device(device)
    x = training_data(name, seed)
    train.seed_everything(seed)                              # the initial weights too, not only the batches
    model = new_net(name)
    return train.fit(model, loss_function(name), x, steps=steps or spec.steps, seed=seed, device=dev,
                     progress=progress, **fit_settings(name))


def save_pretrained(result, name: str, path: str | Path, seed: int) -> Path:
    """Write a ``train.TrainResult`` of ``name`` (the EMA weights of the network in float16, the settings and the
    loss curve, the mean of every 50 steps) to ``path`` atomically."""
    spec = _spec(name)
    net = result.model.net if isinstance(result.model, TimeScaled) else result.model
    losses = torch.tensor(result.losses, dtype=torch.float64)
    info = dict(name=name, seed=int(seed), steps=int(result.steps), data=spec.data, target=spec.target,
                fit=fit_settings(name), time_scale=TIME_SCALE, loss_curve=[float(c.mean()) for c in losses.split(50)],
                loss_every=50)
    return save_record(path, {"kind": KIND, "config": dict(net.config), "state_dict": half_state(net), "info": info})


def load_pretrained(path: str | Path, sha256: str | None = None, device: str | torch.device | None = None
                    ) -> tuple[nn.Module, dict]:
    """(model in eval mode, training record) from a file written by :func:`save_pretrained`: a
    :class:`TimeScaled` velocity model or a plain ε-model, as the record says. With ``sha256``, a file whose
    SHA-256 differs raises a ValueError naming it."""
    from .nets import build

    payload = load_record(path, KIND, "a model of notebook 07", sha256,
                          missing=f"the shipped models of notebook 07 live in {ASSETS}; scripts/make_flow_models.py "
                                  "makes them")
    net = build(payload["config"])
    net.load_state_dict(float_state(payload["state_dict"]))
    info = dict(payload.get("info", {}))
    model = TimeScaled(net, scale=float(info.get("time_scale", TIME_SCALE))) if info.get("target") == "velocity" \
        else net
    if device is not None:
        model = model.to(device)
    return model.eval(), info


def pretrained(name: str = "digits-flow", device: str | torch.device | None = None) -> nn.Module:
    """The shipped model ``name`` (see :data:`PRETRAINED`) on ``device`` (default: CUDA when available, else the
    CPU), its file's SHA-256 checked first: a velocity model v_θ(x_t, t), t ∈ [0, 1] (``*-flow``), or the ring's
    DDPM ε_θ(x_t, t), t ∈ 1..250 (``ring8-eps``; its schedule is ``diffusion.digits_schedule()``)."""
    from .train import get_device

    spec = _spec(name)
    return load_pretrained(spec.file, sha256=spec.sha256, device=get_device(device))[0]


def pretrained_info(name: str = "digits-flow") -> dict:
    """The training record of the shipped model ``name``: seed, steps, optimiser settings and the loss curve."""
    spec = _spec(name)
    return load_pretrained(spec.file, sha256=spec.sha256)[1]
