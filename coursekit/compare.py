"""One table that compares every family of the course on the same digits split (overview lecture).

Each family is trained on ``data.load_digits("train")`` with a fixed teaching budget (optimiser steps, so a
seed reproduces the run on the same machine and thread count; an optional wall-clock cap stops early and the
table then shows the steps actually taken) and evaluated the same way:

- sample quality with ``coursekit.metrics.digit_report``: Fréchet distance in the metric classifier's feature space
  against the test split (digits no model saw), its ratio to the FD of the same number of real digits
  (``frechet_reference(n)``), the share of near copies of training digits beside it, the classifier's confidence,
  and — for class-conditional models, sampled evenly per class — the fraction classified as the asked class;
- likelihood on the test split, in bits per dimension of the 17-level image (all models see the same discrete
  data, so the numbers are comparable): PixelCNN's is exact; the VAE's are upper bounds on −log₂ p(x)/D (ELBO,
  and the tighter importance-weighted IWAE-K estimate); DDPM's is its variational bound with a discretised
  decoder; a GAN has none. Every likelihood says what it conditions on: conditional models report
  −log₂ p(x | y)/D with the true label y (the table writes "p(x|y)"), unconditional ones −log₂ p(x)/D ("p(x)").
  They are not the same quantity: p(x | y_true) ≥ p(x) would need the label to be free information, and the
  mixture p(x) = Σ_y p(x | y)/10 ≥ p(x | y_true)/10 only bounds the gap by log₂(10)/D = 0.052 bits/dim in one
  direction, so compare like with like;
- sampling time per image (a batch of ``n_samples`` at once) and training time, as process CPU time and wall
  clock (CPU time is what an idle machine would take; wall clock grows with the load of a shared machine).

Families: "pixelcnn" (class-conditional), "vae", "cvae" (learned prior p(z | y)), "ddpm" (the class-conditional
recipe ``coursekit.recipes.recipe("digits-cond")``: its network, schedule, optimiser and guidance, with this
module's step budget) and "gan" (cGAN, only when ``coursekit.gan`` is importable; otherwise a row that says it
was skipped).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from . import train
from .data import load_digits

FAMILIES = ("pixelcnn", "vae", "cvae", "ddpm", "gan")


@dataclass(frozen=True)
class Budget:
    """A teaching budget for one family: optimiser steps (reproducible), an optional wall-clock cap, and the
    batch size and learning rate (None: the family's own choice; for DDPM the recipe's)."""

    steps: int
    seconds: float | None = None
    batch_size: int | None = None
    lr: float | None = None


FULL_BUDGETS: dict[str, Budget] = {
    "pixelcnn": Budget(steps=1500, batch_size=64, lr=2e-3),
    # the VAEs overfit 1,437 images fast: past ~1000 steps the test bound rises while FD keeps falling
    # (4000 steps: train ELBO 0.6 bits/dim, test IWAE 4.5; see docs/compare.md), so 1000 steps is the fair budget
    "vae": Budget(steps=1000, batch_size=128, lr=2e-3),
    "cvae": Budget(steps=1000, batch_size=128, lr=2e-3),
    "ddpm": Budget(steps=3000),                               # batch size, lr, EMA, warm-up: the recipe's
    "gan": Budget(steps=3000, batch_size=64, lr=2e-4),
}
QUICK_BUDGETS: dict[str, Budget] = {name: replace(b, steps=15) for name, b in FULL_BUDGETS.items()}
DDPM_RECIPE = "digits-cond"             # coursekit.recipes: the course's tuned class-conditional DDPM
DDPM_QUICK_T = 20                       # quick mode: a 20-step chain (scaled linear β) and a narrow MLP
IWAE_K = {False: 500, True: 8}          # importance samples of the VAE's IWAE estimate


@dataclass
class Row:
    """One line of the comparison. Likelihoods are bits/dim on the test split (None where undefined)."""

    family: str
    model: str
    conditional: bool
    steps: int = 0
    train_seconds: float = float("nan")
    train_cpu_seconds: float = float("nan")
    sample_ms_per_image: float = float("nan")
    sample_cpu_ms_per_image: float = float("nan")
    accuracy: float | None = None
    confidence: float | None = None
    fd: float | None = None
    fd_ref: float | None = None
    fd_ratio: float | None = None
    near_copy_rate: float | None = None
    nll_bpd: float | None = None
    nll_kind: str = ""
    bound_bpd: float | None = None
    bound_kind: str = ""
    parameters: int = 0
    note: str = ""
    skipped: bool = False
    device: str = "cpu"
    samples: Tensor | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "samples"}


@dataclass
class _Setup:
    quick: bool
    seed: int
    device: torch.device
    n_samples: int
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    progress: bool | None

    def sample_labels(self) -> Tensor:
        """n_samples labels, as even a share per class as possible: 0, 1, …, 9, 0, 1, …"""
        return torch.arange(self.n_samples, device=self.device) % 10

    def generator(self, offset: int) -> torch.Generator:
        g = torch.Generator(device=self.device)
        g.manual_seed(self.seed * 1000 + offset)
        return g


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class _Clock:
    """Wall-clock and process CPU time of a block. On a shared CPU the wall time grows with the load while
    the CPU time (with one torch thread) stays what an idle machine would take, so both are reported."""

    def __init__(self, device: torch.device):
        self.device = device
        self.wall = self.cpu = 0.0

    def __enter__(self) -> _Clock:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def _timed(fn: Callable[[], Tensor], device: torch.device) -> tuple[Tensor, _Clock]:
    with _Clock(device) as clock:
        out = fn()
    return out, clock


def _fill_quality(row: Row, samples: Tensor, labels: Tensor | None) -> None:
    from .metrics import digit_report

    report = digit_report(samples.cpu(), None if labels is None else labels.cpu())
    row.fd, row.fd_ref, row.fd_ratio = report["fd"], report["fd_ref"], report["fd_ratio"]
    row.near_copy_rate, row.confidence = report["near_copy_rate"], report["confidence"]
    row.accuracy = report.get("accuracy")
    row.device = str(samples.device)
    row.samples = samples.detach().cpu()


def _fit(model: torch.nn.Module, loss_fn: Callable, data: tuple[Tensor, ...], budget: Budget, st: _Setup,
         ema: float | None = None) -> tuple[train.TrainResult, _Clock]:
    with _Clock(st.device) as clock:
        result = train.fit(model, loss_fn, data, steps=budget.steps, seconds=budget.seconds,
                           batch_size=budget.batch_size or 128, lr=budget.lr or 2e-3, ema_decay=ema, seed=st.seed,
                           device=st.device, progress=st.progress)
    return result, clock


def _times(row: Row, train_clock: _Clock, sample_clock: _Clock, n: int) -> None:
    row.train_seconds, row.train_cpu_seconds = train_clock.wall, train_clock.cpu
    row.sample_ms_per_image, row.sample_cpu_ms_per_image = 1000 * sample_clock.wall / n, 1000 * sample_clock.cpu / n


# ---------------------------------------------------------------------------------------------------------
# One runner per family
# ---------------------------------------------------------------------------------------------------------

def _run_pixelcnn(budget: Budget, st: _Setup) -> Row:
    from .autoregressive import PixelCNN

    train.seed_everything(st.seed)
    model = PixelCNN(num_classes=10, hidden=32 if st.quick else 64, n_blocks=2 if st.quick else 5)
    result, train_clock = _fit(model, lambda m, x, y: m.loss(x, y), (st.x_train, st.y_train), budget, st)
    model = result.model
    labels = st.sample_labels()
    samples, sample_clock = _timed(lambda: model.sample(y=labels, generator=st.generator(1)), st.device)
    row = Row("pixelcnn", "PixelCNN (class-conditional, 17-way categorical)", True, result.steps,
              parameters=_count(model), nll_bpd=model.bits_per_dim(st.x_test, st.y_test), nll_kind="exact",
              note="one network pass per pixel when sampling (64)")
    _times(row, train_clock, sample_clock, len(labels))
    _fill_quality(row, samples, labels)
    return row


def _run_vae(budget: Budget, st: _Setup, conditional: bool) -> Row:
    from .vae import CVAE, VAE

    train.seed_everything(st.seed)
    hidden = 64 if st.quick else 256
    model = CVAE(latent_dim=16, hidden=hidden, prior="conditional") if conditional else VAE(latent_dim=16,
                                                                                            hidden=hidden)
    if conditional:
        result, train_clock = _fit(model, lambda m, x, y: m.loss(x, y), (st.x_train, st.y_train), budget, st)
    else:
        result, train_clock = _fit(model, lambda m, x: m.loss(x), (st.x_train,), budget, st)
    model = result.model
    y_test = st.y_test if conditional else None
    labels = st.sample_labels() if conditional else None
    samples, sample_clock = _timed(lambda: model.sample(st.n_samples, labels, generator=st.generator(2)),
                                   st.device)
    k = IWAE_K[st.quick]
    name = "cVAE (learned prior p(z|y), categorical decoder)" if conditional else "VAE (categorical decoder)"
    row = Row("cvae" if conditional else "vae", name, conditional, result.steps, parameters=_count(model),
              nll_bpd=model.bits_per_dim(st.x_test, y_test, k=k, batch_size=32, generator=st.generator(3)),
              nll_kind=f"IWAE-{k}",
              bound_bpd=model.bits_per_dim(st.x_test, y_test, k=1, generator=st.generator(4)), bound_kind="ELBO",
              note="samples are decoder means E[x|z], latent_dim 16")
    _times(row, train_clock, sample_clock, st.n_samples)
    _fill_quality(row, samples, labels)
    return row


def _run_ddpm(budget: Budget, st: _Setup) -> Row:
    """The course's DDPM as ``coursekit.recipes`` defines it (network, β schedule, optimiser, EMA, guidance):
    only the number of steps comes from the budget, so this row follows the recipe when it is retuned."""
    from . import diffusion as D
    from .recipes import recipe, scaled_linear

    r = recipe(DDPM_RECIPE)
    if st.quick:
        r = r.with_changes(schedule=scaled_linear(DDPM_QUICK_T), model={"hidden": 32})
    overrides = {k: v for k, v in (("batch_size", budget.batch_size), ("lr", budget.lr)) if v is not None}
    train.seed_everything(st.seed)
    with _Clock(st.device) as train_clock:
        result, s = r.train(steps=budget.steps, seconds=budget.seconds, seed=st.seed, device=st.device,
                            progress=st.progress, **overrides)
    model = result.model                                        # the EMA weights
    (samples, labels), sample_clock = _timed(lambda: r.draw(model, s, st.n_samples, seed=st.seed * 1000 + 5),
                                             st.device)
    variance = r.sample.get("variance", "beta")
    bound = D.variational_bound(model, s, st.x_test, y=st.y_test, variance=variance, generator=st.generator(6),
                                prediction=r.prediction)
    w = r.sample.get("guidance_scale", 1.0)
    guided = f", guidance w = {w:g}" if w != 1.0 else ""
    net = "MLP" if r.model.get("kind") == "mlp" else "U-Net"
    row = Row("ddpm", f"DDPM (recipe {r.name}: conditional {net}, T = {s.T}{guided})", True, result.steps,
              parameters=_count(model), bound_bpd=float(bound.bits_per_dim.mean()), bound_kind="VLB",
              note=f"EMA weights, σ² = {variance}, {s.T} network passes per sample"
                   + (" on a doubled batch (guidance); the VLB is of the unguided p(x | y)" if guided else ""))
    _times(row, train_clock, sample_clock, st.n_samples)
    _fill_quality(row, samples.clamp(-1, 1), labels)
    return row


def _run_gan(budget: Budget, st: _Setup) -> Row:
    try:
        from .gan.nets import DCGANDiscriminator, DCGANGenerator
        from .gan.training import generate, train_gan
    except (ImportError, AttributeError) as err:
        return Row("gan", "GAN", True, skipped=True, note=f"skipped: coursekit.gan not available ({err})")
    train.seed_everything(st.seed)
    G = DCGANGenerator(latent_dim=32, image_size=8, num_classes=10)
    Dnet = DCGANDiscriminator(image_size=8, num_classes=10)
    with _Clock(st.device) as train_clock:
        result = train_gan(G, Dnet, st.x_train, labels=st.y_train, steps=budget.steps, seconds=budget.seconds,
                           batch_size=budget.batch_size or 64, lr_g=budget.lr or 2e-4, lr_d=budget.lr or 2e-4,
                           seed=st.seed, device=st.device, progress=st.progress)
    steps = getattr(result.history, "steps", 0) or budget.steps
    labels = st.sample_labels()
    samples, sample_clock = _timed(lambda: generate(result.G, st.n_samples, labels, seed=st.seed, device=st.device),
                                   st.device)
    row = Row("gan", "cGAN (DCGAN, non-saturating loss)", True, steps, parameters=_count(G), note="no likelihood")
    _times(row, train_clock, sample_clock, st.n_samples)
    _fill_quality(row, samples, labels)
    return row


# ---------------------------------------------------------------------------------------------------------
# The comparison and its table
# ---------------------------------------------------------------------------------------------------------

def compare(*, quick: bool = False, seed: int = 0, only: str | list[str] | tuple[str, ...] | None = None,
            device: str | torch.device | None = None, n_samples: int | None = None,
            budgets: dict[str, Budget] | None = None, progress: bool | None = False,
            log: Callable[[str], None] | None = None) -> list[Row]:
    """Train and evaluate each family; returns one :class:`Row` per family (see :func:`format_table`).

    ``quick`` uses tiny budgets and a 60-image test subset (for tests: the numbers are meaningless).
    ``only`` picks families (names in FAMILIES, or a comma-separated string). ``budgets`` overrides the
    default budget of any family. ``log`` receives one line per finished family.
    """
    if isinstance(only, str):
        only = [name.strip() for name in only.split(",") if name.strip()]
    names = list(FAMILIES) if not only else list(only)
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise ValueError(f"only must name families among {', '.join(FAMILIES)}, got {', '.join(unknown)}")
    if n_samples is None:
        n_samples = 40 if quick else 500             # n = 500: the sample size of every FD in the course
    if not isinstance(n_samples, int) or n_samples < 10:
        raise ValueError(f"n_samples must be an int >= 10 (one per class at least), got {n_samples!r}")
    chosen = dict(QUICK_BUDGETS if quick else FULL_BUDGETS)
    for name, budget in (budgets or {}).items():
        if name not in FAMILIES or not isinstance(budget, Budget):
            raise ValueError(f"budgets must map family names in {FAMILIES} to Budget, got {name!r}: {budget!r}")
        chosen[name] = budget
    dev = train.get_device(device)
    x_train, y_train = load_digits("train", device=dev)
    x_test, y_test = load_digits("test", device=dev)
    if quick:
        x_test, y_test = x_test[:60], y_test[:60]
    st = _Setup(quick, seed, dev, n_samples, x_train, y_train, x_test, y_test, progress)
    runners: dict[str, Callable[[], Row]] = {
        "pixelcnn": lambda: _run_pixelcnn(chosen["pixelcnn"], st),
        "vae": lambda: _run_vae(chosen["vae"], st, conditional=False),
        "cvae": lambda: _run_vae(chosen["cvae"], st, conditional=True),
        "ddpm": lambda: _run_ddpm(chosen["ddpm"], st),
        "gan": lambda: _run_gan(chosen["gan"], st),
    }
    rows = []
    for name in names:
        row = runners[name]()
        rows.append(row)
        if log is not None:
            log(row.note if row.skipped else f"{name}: {row.as_dict()}")
    return rows


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


COLUMNS = ("model", "cond.", "class acc.", "confidence", "FD", "FD / ref.", "near copies", "NLL bits/dim",
           "bound bits/dim", "sample ms/img CPU (wall)", "train s CPU (wall)", "steps")


def format_table(rows: list[Row], markdown: bool = True) -> str:
    """The comparison as a Markdown table (or plain aligned text), with the FD reference and notes below it."""
    lines = []
    for r in rows:
        if r.skipped:
            lines.append([r.model, "", "", "", "", "", "", "", "", "", "", r.note])
            continue
        of = "p(x|y)" if r.conditional else "p(x)"          # what the likelihood conditions on, on every row
        nll = "—" if r.nll_bpd is None else (f"{of} {r.nll_bpd:.3f} (exact)" if r.nll_kind == "exact"
                                             else f"{of} ≤ {r.nll_bpd:.3f} ({r.nll_kind})")
        bound = "—" if r.bound_bpd is None else f"{of} ≤ {r.bound_bpd:.3f} ({r.bound_kind})"
        lines.append([r.model, "yes" if r.conditional else "no",
                      _fmt(None if r.accuracy is None else 100 * r.accuracy, 1) + ("%" if r.accuracy is not None
                                                                                  else ""),
                      _fmt(r.confidence, 3), _fmt(r.fd, 2), _fmt(r.fd_ratio, 2),
                      _fmt(None if r.near_copy_rate is None else 100 * r.near_copy_rate, 1)
                      + ("%" if r.near_copy_rate is not None else ""), nll, bound,
                      f"{_fmt(r.sample_cpu_ms_per_image, 2)} ({_fmt(r.sample_ms_per_image, 2)})",
                      f"{_fmt(r.train_cpu_seconds, 1)} ({_fmt(r.train_seconds, 1)})", str(r.steps)])
    if markdown:
        out = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in lines]
    else:
        widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(COLUMNS)]
        out = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths))]
        out += ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in lines]
    done = [r for r in rows if r.samples is not None]
    device, batch = (done[0].device, done[0].samples.shape[0]) if done else ("cpu", "?")
    refs = sorted({(len(r.samples), r.fd_ref) for r in done if r.fd_ref is not None})
    out.append("")
    out.append("FD against the test split (digits no model saw); FD / ref. divides it by the FD of the same number "
               "of real digits (" + ", ".join(f"n = {n}: {ref:.2f}" for n, ref in refs) + "), so 1 is as good as "
               "real data; near copies: samples closer to a training digit than 95 % of unseen digits are "
               "(unseen digits: 5 %). Likelihoods: bits/dim on the test split's 17-level images, "
               "−log₂ p(x|y) / 64 with the true class for conditional rows, −log₂ p(x) / 64 for the others (not "
               "the same quantity: compare like with like); 'exact' is exact, the others are upper "
               "bounds (IWAE ≤ ELBO; one Monte Carlo draw per example and step). "
               f"Class acc. = share of samples classified as asked. Times on {device} with "
               f"{torch.get_num_threads()} torch thread(s): process CPU time, wall clock in brackets (sampling: "
               f"a batch of {batch} images at once).")
    notes = [f"{r.family}: {r.note}" for r in rows if r.note and not r.skipped]
    if notes:
        out.append("Notes: " + "; ".join(notes) + ".")
    return "\n".join(out)
