"""The live GAN training panel of unit 05 (GAN Lab's idea, inside Jupyter): choose the generator loss, D steps
per G step, both learning rates and PacGAN packing; press Train and watch the samples, D's decision surface
(heat map), both losses, G's gradient norm and the mean D(G(z)) change as it trains.

    panel = GANPanel(lang=LANG, warmup=200)     # trains 200 steps first, so a headless run keeps a picture
    panel                                       # Train: `chunks` × `chunk` steps, redrawn after every chunk

The training itself is :class:`coursekit.gan.live.LiveGAN`; this file only wires controls and draws.
Changing the loss, k or a learning rate applies at the next step; changing the data or the packing starts
again from fresh networks (Reset does that too), and the panel says so in a line under the controls.
Every label, choice and tooltip is in the panel's language (``lang``); a legend line under the status explains
the numbers it shows (modes covered, the high-quality share, the mean D(G(z))).
"""

from __future__ import annotations

import ipywidgets as W

from ..data import toy_modes
from ..gan.live import LiveGAN
from ..viz import gan as VG
from .core import _check_lang, _Figure, _png

_TEXT = {
    "kind": {"zh": "G 的损失", "en": "G loss"},
    "k": {"zh": "D 步数 k", "en": "D steps k"},
    "lr_g": {"zh": "G 学习率", "en": "G lr"},
    "lr_d": {"zh": "D 学习率", "en": "D lr"},
    "pack": {"zh": "打包 m", "en": "pack m"},
    "data": {"zh": "数据", "en": "data"},
    "train": {"zh": "训练", "en": "Train"},
    "reset": {"zh": "重置", "en": "Reset"},
    "tip_kind": {"zh": "G 最小化的损失：饱和 log(1 − D(G(z)))、非饱和 −log D(G(z)) 或最小二乘；下一步生效",
                 "en": "the loss G minimises: saturating log(1 − D(G(z))), non-saturating −log D(G(z)) or least "
                       "squares; applies at the next step"},
    "tip_k": {"zh": "每更新 1 次 G 之前更新 D 的次数；下一步生效",
              "en": "discriminator steps before each generator step; applies at the next step"},
    "tip_lr_g": {"zh": "G 的 Adam 学习率；下一步生效", "en": "G's Adam learning rate; applies at the next step"},
    "tip_lr_d": {"zh": "D 的 Adam 学习率；下一步生效", "en": "D's Adam learning rate; applies at the next step"},
    "tip_pack": {"zh": "PacGAN：D 一次判断 m 个样本；改变它会换一对新网络，从第 0 步重新开始",
                 "en": "PacGAN: D judges m samples at once; changing it builds new networks and starts again at "
                       "step 0"},
    "tip_data": {"zh": "真实数据 p_data；改变它会换一对新网络，从第 0 步重新开始",
                 "en": "the data p_data; changing it builds new networks and starts again at step 0"},
    "tip_train": {"zh": "训练 {n} 步 G（每 {chunk} 步刷新一次图）", "en": "train {n} G steps (redrawn every {chunk})"},
    "tip_reset": {"zh": "以当前设置换一对新网络，回到第 0 步",
                  "en": "new networks with the current settings, back to step 0"},
    "status": {"zh": "第 {steps} 步 · D 的损失 {d:.3f} · G 的损失 {g:.3f} · ‖∇θ_g‖ {gn:.3g} · 平均 D(G(z)) {df:.3f}",
               "en": "step {steps} · D loss {d:.3f} · G loss {g:.3f} · ‖∇θ_g‖ {gn:.3g} · mean D(G(z)) {df:.3f}"},
    "modes": {"zh": " · 覆盖 {modes}/{n_modes} 个模式 · 高质量样本 {hq:.1f}%",
              "en": " · {modes}/{n_modes} modes covered · {hq:.1f}% high-quality samples"},
    "legend_modes": {"zh": "高质量样本：离最近的模式中心不超过 3σ 的样本（VEEGAN 协议，2,000 个样本）；"
                           "一个模式至少分到平均份额 1% 的高质量样本才算被覆盖。",
                     "en": "high-quality samples: within 3σ of their nearest mode centre (the VEEGAN protocol, "
                           "2,000 samples); a mode counts as covered when it gets at least 1 % of an even share "
                           "of them."},
    "legend_d": {"zh": "平均 D(G(z))：D 认为样本是真实数据的平均概率（均衡点为 ½）；D 的损失 −V 是它的交叉熵，"
                       "均衡点为 log 4 ≈ 1.386。",
                 "en": "mean D(G(z)): D's average probability that a sample is real (½ at the equilibrium); D's "
                       "loss −V is its cross-entropy, log 4 ≈ 1.386 at the equilibrium."},
    "legend_ls": {"zh": "最小二乘时 D 的损失是 ½E(ℓ(x) − 1)² + ½E ℓ(G(z))²（ℓ 为 D 的输出），不再是 −V。",
                  "en": "with least squares D's loss is ½E(ℓ(x) − 1)² + ½E ℓ(G(z))² (ℓ: D's output), not −V."},
    "rebuilt_data": {"zh": "⟳ 已换数据：网络重新初始化，从第 0 步开始（之前的训练已丢弃）。",
                     "en": "⟳ The data changed: new networks, back to step 0 (the earlier training is discarded)."},
    "rebuilt_pack": {"zh": "⟳ 已换打包数 m：网络重新初始化，从第 0 步开始（之前的训练已丢弃）。",
                     "en": "⟳ The packing m changed: new networks, back to step 0 (the earlier training is "
                           "discarded)."},
    "rebuilt_reset": {"zh": "⟳ 已重置：网络重新初始化，从第 0 步开始。",
                      "en": "⟳ Reset: new networks, back to step 0."},
    "training": {"zh": "训练中……", "en": "training…"},
}
KINDS = ("non_saturating", "saturating", "least_squares")
DATA = ("ring8", "grid25", "moons", "swissroll")
DATA_NAMES = {
    "ring8": {"zh": "圆环上的 8 个高斯 (ring8)", "en": "8 Gaussians on a ring (ring8)"},
    "grid25": {"zh": "5×5 网格上的 25 个高斯 (grid25)", "en": "25 Gaussians on a 5×5 grid (grid25)"},
    "moons": {"zh": "两个半月 (moons)", "en": "two moons (moons)"},
    "swissroll": {"zh": "瑞士卷 (swissroll)", "en": "Swiss roll (swissroll)"},
}


def text(key: str, lang: str, **fields: object) -> str:
    """The panel's string ``key`` in ``lang``."""
    return _TEXT[key][lang].format(**fields)


class GANPanel(_Figure):
    """Controls + one picture (decision surface and samples, losses, gradient norm and mean D(G(z))) + a status
    line, a legend that explains it, and a notice when a change started the run again."""

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
        t = lambda key, **f: text(key, lang, **f)  # noqa: E731
        self.kind = W.Dropdown(options=[(VG.gan_label(f"kind_{k_}", lang), k_) for k_ in KINDS], value=kind,
                               description=t("kind"), tooltip=t("tip_kind"), style=style, layout=layout)
        self.k = W.IntSlider(value=k, min=1, max=5, description=t("k"), tooltip=t("tip_k"), style=style,
                             layout=layout, continuous_update=False)
        self.lr_g = W.FloatLogSlider(value=lr_g, base=10, min=-4, max=-1.5, step=0.25, description=t("lr_g"),
                                     tooltip=t("tip_lr_g"), readout_format=".1e", style=style, layout=layout,
                                     continuous_update=False)
        self.lr_d = W.FloatLogSlider(value=lr_d, base=10, min=-4, max=-1.5, step=0.25, description=t("lr_d"),
                                     tooltip=t("tip_lr_d"), readout_format=".1e", style=style, layout=layout,
                                     continuous_update=False)
        self.pack = W.Dropdown(options=[1, 2, 4], value=pack, description=t("pack"), tooltip=t("tip_pack"),
                               style=style, layout=layout)
        self.data = W.Dropdown(options=[(DATA_NAMES[d][lang], d) for d in DATA], value=data, description=t("data"),
                               tooltip=t("tip_data"), style=style, layout=layout)
        self.train_button = W.Button(description=t("train"), button_style="success", icon="play",
                                     tooltip=t("tip_train", n=chunk * chunks, chunk=chunk))
        self.reset_button = W.Button(description=t("reset"), icon="refresh", tooltip=t("tip_reset"))
        self.status = W.HTML("")
        self.notice = W.HTML("")
        self.legend = W.HTML("")
        self.image = W.Image(format="png")
        for control in (self.kind, self.k, self.lr_g, self.lr_d):
            control.observe(self._live_changed, names="value")
        self.pack.observe(lambda change: self._rebuild_changed("pack"), names="value")
        self.data.observe(lambda change: self._rebuild_changed("data"), names="value")
        self.train_button.on_click(lambda _: self.train())
        self.reset_button.on_click(lambda _: self.reset())
        left = W.VBox([self.kind, self.k, self.lr_g, self.lr_d])
        right = W.VBox([self.pack, self.data, W.HBox([self.train_button, self.reset_button])])
        self.widget = W.VBox([W.HBox([left, right]), self.notice, self.status, self.legend, self.image])
        if warmup:
            self.live.train(warmup)
        self.refresh()

    # -- controls -------------------------------------------------------------------------------------------
    def _live_changed(self, change) -> None:
        self.live.set(kind=self.kind.value, k=int(self.k.value), lr_g=float(self.lr_g.value),
                      lr_d=float(self.lr_d.value))
        self.legend.value = self.legend_text()

    def _rebuild_changed(self, what: str) -> None:
        self.lim = 4.5 if self.data.value in ("grid25", "swissroll") else 3.0
        if self.live.set(pack=int(self.pack.value), data=str(self.data.value)):
            self._say_rebuilt(what)
        self.refresh()

    def _say_rebuilt(self, what: str) -> None:
        message = text(f"rebuilt_{what}", self.lang)
        self.notice.value = f"<span style='color: #b35900'>{message}</span>"

    def reset(self) -> None:
        """Fresh networks with the current settings (step 0)."""
        self.live.reset()
        self._say_rebuilt("reset")
        self.refresh()

    def train(self, chunks: int | None = None) -> None:
        """``chunks`` × ``chunk`` generator steps, redrawing the picture after each chunk."""
        chunks = self.chunks if chunks is None else chunks
        self.train_button.disabled = True
        self.notice.value = ""
        try:
            for _ in range(chunks):
                self.status.value = _TEXT["training"][self.lang]
                self.live.train(self.chunk)
                self.refresh()
        finally:
            self.train_button.disabled = False

    # -- picture ----------------------------------------------------------------------------------------------
    def status_text(self) -> str:
        h = self.live.history
        if not h["d_loss"]:
            return VG.gan_label("untrained", self.lang)
        status = text("status", self.lang, steps=self.live.steps, d=h["d_loss"][-1], g=h["g_loss"][-1],
                      gn=h["grad_norm"][-1], df=h["d_fake"][-1])
        report = self.live.report()
        if report is not None:
            status += text("modes", self.lang, modes=report["modes"], n_modes=report["n_modes"],
                           hq=report["high_quality"])
        return status

    def legend_text(self) -> str:
        """What the status line's numbers mean (the modes only for data that have modes)."""
        parts = [text("legend_d", self.lang)]
        if self.live.settings["kind"] == "least_squares":
            parts.append(text("legend_ls", self.lang))
        if toy_modes(str(self.live.settings["data"])) is not None:
            parts.append(text("legend_modes", self.lang))
        return "<span style='font-size: 90%; color: #555'>" + "<br>".join(parts) + "</span>"

    def refresh(self) -> None:
        self.status.value = self.status_text()
        self.legend.value = self.legend_text()
        super().refresh()

    def _render(self) -> bytes:
        surface = self.live.surface(lim=self.lim, n=60)
        samples = self.live.samples(1000)
        kind = str(self.live.settings["kind"])

        def draw(fig):
            VG.draw_live(fig, surface, samples, self.live.data, self.live.history, self.live.steps, self.lang,
                         lim=self.lim, kind=kind)

        return _png(draw, (11.5, 3.4))
