"""The live GAN training panel of unit 05 (GAN Lab's idea, inside Jupyter): choose the generator loss, D steps
per G step, both learning rates and PacGAN packing; press Train and watch the samples, D's decision surface
(heat map), both losses and G's gradient norm change as it trains.

    panel = GANPanel(lang=LANG, warmup=200)     # trains 200 steps first, so a headless run keeps a picture
    panel                                       # Train: `chunks` × `chunk` steps, redrawn after every chunk

The training itself is :class:`coursekit.gan.live.LiveGAN`; this file only wires controls and draws.
Changing the loss, k or a learning rate applies at the next step; changing the data, packing or seed starts
again from fresh networks (Reset does that too).
"""

from __future__ import annotations

import ipywidgets as W

from ..gan.live import LiveGAN
from ..viz import gan as VG
from .core import _check_lang, _Figure, _png

_CONTROLS = {
    "kind": {"zh": "G 的损失", "en": "G loss"},
    "k": {"zh": "D 步数 k", "en": "D steps k"},
    "lr_g": {"zh": "G 学习率", "en": "G lr"},
    "lr_d": {"zh": "D 学习率", "en": "D lr"},
    "pack": {"zh": "打包 m", "en": "pack m"},
    "data": {"zh": "数据", "en": "data"},
    "train": {"zh": "训练", "en": "Train"},
    "reset": {"zh": "重置", "en": "Reset"},
    "status": {"zh": "第 {steps} 步 · D 损失 {d:.3f} · G 损失 {g:.3f} · ‖∇θ_g‖ {gn:.3g}",
               "en": "step {steps} · D loss {d:.3f} · G loss {g:.3f} · ‖∇θ_g‖ {gn:.3g}"},
    "modes": {"zh": " · {modes}/{n_modes} 个模式，高质量 {hq:.1f}%", "en": " · {modes}/{n_modes} modes, {hq:.1f}% HQ"},
    "training": {"zh": "训练中……", "en": "training…"},
}
KINDS = ("non_saturating", "saturating", "least_squares")
DATA = ("ring8", "grid25", "moons", "swissroll")


class GANPanel(_Figure):
    """Controls + one picture (decision surface and samples, losses, gradient norm) + a status line."""

    def __init__(self, lang: str = "en", data: str = "ring8", kind: str = "non_saturating", k: int = 1,
                 lr_g: float = 1e-3, lr_d: float = 1e-3, pack: int = 1, chunk: int = 25, chunks: int = 8,
                 warmup: int = 0, seed: int = 0):
        self.lang = _check_lang(lang)
        if not isinstance(chunk, int) or chunk < 1 or not isinstance(chunks, int) or chunks < 1:
            raise ValueError(f"chunk and chunks must be positive ints, got {chunk!r}, {chunks!r}")
        if not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
        self.live = LiveGAN(data=data, kind=kind, k=k, lr_g=lr_g, lr_d=lr_d, pack=pack, seed=seed)
        self.chunk, self.chunks = chunk, chunks
        self.lim = 4.5 if data in ("grid25", "swissroll") else 3.0
        style, layout = {"description_width": "90px"}, W.Layout(width="300px")
        t = lambda key: _CONTROLS[key][lang]  # noqa: E731
        self.kind = W.Dropdown(options=[(VG.gan_label(f"kind_{k_}", lang), k_) for k_ in KINDS], value=kind,
                               description=t("kind"), style=style, layout=layout)
        self.k = W.IntSlider(value=k, min=1, max=5, description=t("k"), style=style, layout=layout,
                             continuous_update=False)
        self.lr_g = W.FloatLogSlider(value=lr_g, base=10, min=-4, max=-1.5, step=0.25, description=t("lr_g"),
                                     readout_format=".1e", style=style, layout=layout, continuous_update=False)
        self.lr_d = W.FloatLogSlider(value=lr_d, base=10, min=-4, max=-1.5, step=0.25, description=t("lr_d"),
                                     readout_format=".1e", style=style, layout=layout, continuous_update=False)
        self.pack = W.Dropdown(options=[1, 2, 4], value=pack, description=t("pack"), style=style, layout=layout)
        self.data = W.Dropdown(options=list(DATA), value=data, description=t("data"), style=style, layout=layout)
        self.train_button = W.Button(description=t("train"), button_style="success", icon="play")
        self.reset_button = W.Button(description=t("reset"), icon="refresh")
        self.status = W.HTML("")
        self.image = W.Image(format="png")
        for control in (self.kind, self.k, self.lr_g, self.lr_d):
            control.observe(self._live_changed, names="value")
        for control in (self.pack, self.data):
            control.observe(self._rebuild_changed, names="value")
        self.train_button.on_click(lambda _: self.train())
        self.reset_button.on_click(lambda _: self.reset())
        left = W.VBox([self.kind, self.k, self.lr_g, self.lr_d])
        right = W.VBox([self.pack, self.data, W.HBox([self.train_button, self.reset_button])])
        self.widget = W.VBox([W.HBox([left, right]), self.status, self.image])
        if warmup:
            self.live.train(warmup)
        self.refresh()

    # -- controls -------------------------------------------------------------------------------------------
    def _live_changed(self, change) -> None:
        self.live.set(kind=self.kind.value, k=int(self.k.value), lr_g=float(self.lr_g.value),
                      lr_d=float(self.lr_d.value))

    def _rebuild_changed(self, change) -> None:
        self.lim = 4.5 if self.data.value in ("grid25", "swissroll") else 3.0
        self.live.set(pack=int(self.pack.value), data=str(self.data.value))
        self.refresh()

    def reset(self) -> None:
        """Fresh networks with the current settings (step 0)."""
        self.live.reset()
        self.refresh()

    def train(self, chunks: int | None = None) -> None:
        """``chunks`` × ``chunk`` generator steps, redrawing the picture after each chunk."""
        chunks = self.chunks if chunks is None else chunks
        self.train_button.disabled = True
        try:
            for _ in range(chunks):
                self.status.value = _CONTROLS["training"][self.lang]
                self.live.train(self.chunk)
                self.refresh()
        finally:
            self.train_button.disabled = False

    # -- picture ----------------------------------------------------------------------------------------------
    def status_text(self) -> str:
        h = self.live.history
        if not h["d_loss"]:
            return VG.gan_label("untrained", self.lang)
        text = _CONTROLS["status"][self.lang].format(steps=self.live.steps, d=h["d_loss"][-1], g=h["g_loss"][-1],
                                                     gn=h["grad_norm"][-1])
        report = self.live.report()
        if report is not None:
            text += _CONTROLS["modes"][self.lang].format(modes=report["modes"], n_modes=report["n_modes"],
                                                         hq=report["high_quality"])
        return text

    def refresh(self) -> None:
        self.status.value = self.status_text()
        super().refresh()

    def _render(self) -> bytes:
        surface = self.live.surface(lim=self.lim, n=60)
        samples = self.live.samples(1000)

        def draw(fig):
            VG.draw_live(fig, surface, samples, self.live.data, self.live.history, self.live.steps, self.lang,
                         lim=self.lim)

        return _png(draw, (11.5, 3.4))
