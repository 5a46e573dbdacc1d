"""A 2-D GAN that trains in short chunks and takes new settings between them: the engine of the live panel
(``coursekit.widgets.GANPanel``), usable on its own.

    live = LiveGAN("ring8", kind="saturating", k=1, lr_g=1e-3, lr_d=1e-3, pack=1)
    live.train(50)                    # 50 generator steps, each after k discriminator steps (交替优化)
    live.set(kind="non_saturating")   # takes effect at the next step; pack or data rebuild the networks
    live.history["grad_norm"]         # ‖∇_θg L_G‖ after every G step, beside "d_loss", "g_loss" and "d_fake"

Each step is the slides' alternating optimisation: D minimises −V on a real batch and a detached fake batch,
then G minimises its loss (``kind``: saturating log(1 − D(G(z))), non-saturating −log D(G(z)) or least squares)
with D held fixed. Both optimisers are Adam with β₁ = 0.5, as in DCGAN.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_choice
from ..data import TOY_2D, sample_2d, toy_modes
from ..metrics import mode_coverage
from .losses import GENERATOR_KINDS, discriminator_loss, generator_loss
from .nets import MLPDiscriminator, MLPGenerator
from .training import decision_surface, gradient_norm

REBUILD = ("data", "pack", "seed", "hidden", "latent_dim")       # settings that need new networks
LIVE = ("kind", "k", "lr_g", "lr_d")                            # settings that apply at the next step


class LiveGAN:
    """G and D on a 2-D toy set (``coursekit.data.TOY_2D``), trained ``train(n)`` steps at a time."""

    def __init__(self, data: str = "ring8", kind: str = "non_saturating", k: int = 1, lr_g: float = 1e-3,
                 lr_d: float = 1e-3, pack: int = 1, batch_size: int = 128, latent_dim: int = 8, hidden: int = 64,
                 seed: int = 0, n_data: int = 20_000):
        self.settings: dict[str, object] = dict(data=data, kind=kind, k=k, lr_g=lr_g, lr_d=lr_d, pack=pack, seed=seed,
                                                hidden=hidden, latent_dim=latent_dim)
        self.batch_size, self.n_data = batch_size, n_data
        self._validate(self.settings)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if batch_size % pack:
            raise ValueError(f"batch_size must be a multiple of pack = {pack}, got {batch_size}")
        self.reset()

    @staticmethod
    def _validate(settings: dict) -> None:
        for name, value in settings.items():
            if name == "data":
                check_choice("data", value, TOY_2D)
            elif name == "kind":
                check_choice("kind", value, GENERATOR_KINDS)
            elif name in ("k", "pack", "hidden", "latent_dim"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ValueError(f"{name} must be a positive int, got {value!r}")
            elif name in ("lr_g", "lr_d"):
                if not isinstance(value, (int, float)) or not value > 0:
                    raise ValueError(f"{name} must be > 0, got {value!r}")
            elif name == "seed":
                if not isinstance(value, int):
                    raise ValueError(f"seed must be an int, got {value!r}")
            else:
                raise ValueError(f"unknown setting {name!r}; settings are {REBUILD + LIVE}")

    def set(self, **settings) -> bool:
        """Change settings; returns True when the networks were rebuilt (data, pack, seed, sizes changed)."""
        self._validate(settings)
        if "pack" in settings and self.batch_size % settings["pack"]:
            raise ValueError(f"pack must divide batch_size = {self.batch_size}, got {settings['pack']}")
        rebuild = any(k in REBUILD and settings[k] != self.settings.get(k) for k in settings)
        self.settings.update(settings)
        if rebuild:
            self.reset()
        else:
            for group in self.opt_g.param_groups:
                group["lr"] = float(self.settings["lr_g"])
            for group in self.opt_d.param_groups:
                group["lr"] = float(self.settings["lr_d"])
        return rebuild

    def reset(self) -> None:
        """New networks, optimisers and history for the current settings (same seed: same start)."""
        s = self.settings
        gen = torch.Generator().manual_seed(int(s["seed"]))
        self.data = sample_2d(str(s["data"]), self.n_data, seed=int(s["seed"]))
        torch.manual_seed(int(s["seed"]))
        self.G = MLPGenerator(latent_dim=int(s["latent_dim"]), hidden=int(s["hidden"]), depth=2)
        self.D = MLPDiscriminator(hidden=int(s["hidden"]), depth=2, pack=int(s["pack"]))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=float(s["lr_g"]), betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=float(s["lr_d"]), betas=(0.5, 0.999))
        self._gen = gen
        self.history: dict[str, list[float]] = {"d_loss": [], "g_loss": [], "grad_norm": [], "d_fake": []}
        self.steps = 0

    def _real(self) -> Tensor:
        idx = torch.randint(len(self.data), (self.batch_size,), generator=self._gen)
        return self.data[idx]

    def _fake(self) -> Tensor:
        z = torch.randn(self.batch_size, self.G.latent_dim, generator=self._gen)      # z ∼ N(0, I)
        return self.G(z)

    def train(self, steps: int) -> None:
        """``steps`` generator steps, each after k discriminator steps."""
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        kind = str(self.settings["kind"])
        d_kind = "least_squares" if kind == "least_squares" else "minimax"
        self.G.train()
        self.D.train()
        for _ in range(steps):
            d_total = 0.0
            for _ in range(int(self.settings["k"])):              # k steps of gradient ascent on V
                with torch.no_grad():
                    fake = self._fake()                            # G fixed: no gradient reaches θ_g
                loss_d = discriminator_loss(self.D(self._real()), self.D(fake), d_kind)
                self.opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                self.opt_d.step()
                d_total += float(loss_d.detach())
            fake_logits = self.D(self._fake())
            loss_g = generator_loss(fake_logits, kind)             # D fixed: only opt_g steps
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            self.history["d_loss"].append(d_total / int(self.settings["k"]))
            self.history["g_loss"].append(float(loss_g.detach()))
            self.history["grad_norm"].append(gradient_norm(self.G))
            self.history["d_fake"].append(float(torch.sigmoid(fake_logits.detach()).mean()))  # mean D(G(z))
            self.steps += 1
        self.G.eval()
        self.D.eval()

    @torch.no_grad()
    def samples(self, n: int = 1000, seed: int = 1) -> Tensor:
        """n points G(z) from a fixed z (the same z at every call, so pictures show G changing, not z)."""
        z = torch.randn(n, self.G.latent_dim, generator=torch.Generator().manual_seed(seed))
        return self.G(z)

    def surface(self, lim: float = 3.0, n: int = 60) -> tuple[Tensor, Tensor, Tensor]:
        """D(x) on an n × n grid over [−lim, lim]² (:func:`coursekit.gan.decision_surface`)."""
        return decision_surface(self.D, lim=lim, n=n)

    def report(self, n: int = 2000) -> dict[str, float] | None:
        """VEEGAN mode coverage of n samples (None for sets without modes)."""
        if toy_modes(str(self.settings["data"])) is None:
            return None
        return mode_coverage(self.samples(n), str(self.settings["data"]))
