"""Which edition (Chinese or English) a notebook is, and the plot labels of each.

The two editions of a lecture notebook share every code cell, so the code cannot say ``LANG = "zh"``.
Instead :func:`edition` finds out where it runs, in this order:

1. ``COURSEKIT_LANG=zh|en`` in the environment (an explicit override);
2. the notebook's path, which Jupyter Server gives the kernel as ``JPY_SESSION_NAME`` (JupyterLab,
   Notebook 7) or VS Code as ``__vsc_ipynb_file__``: a ``zh``/``en`` folder or a Chinese file name;
3. the kernel's working directory (nbval, nbclient and JupyterLab start it in the notebook's folder,
   ``notebooks/zh`` or ``notebooks/en``);
4. on Colab, the open notebook itself: its ``coursekit.edition`` metadata, else whether its markdown is
   mostly Chinese;
5. otherwise English.

Labels: ``label("beta", "zh")`` → "β_t（噪声调度）"; every key exists in both languages (a test checks).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath

from ._checks import check_choice

LANGS = ("zh", "en")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _from_path(path: str | None) -> str | None:
    if not path:
        return None
    parts = PurePath(path).parts
    for part in reversed(parts[:-1] if path.endswith(".ipynb") else parts):
        if part in LANGS:
            return part
    name = parts[-1] if parts else ""
    if name.endswith(".ipynb"):
        if _CJK.search(name) or re.search(r"[_-]zh\.ipynb$", name):
            return "zh"
        if re.search(r"[_-]en\.ipynb$", name):
            return "en"
    return None


def _from_colab() -> str | None:
    import sys

    if "google.colab" not in sys.modules:
        return None
    try:  # the front end hands the open notebook to the kernel (Colab only)
        from google.colab import _message  # type: ignore[import-not-found]

        nb = _message.blocking_request("get_ipynb", timeout_sec=10)["ipynb"]
    except Exception:  # noqa: BLE001 - any failure just means "unknown"
        return None
    found = nb.get("metadata", {}).get("coursekit", {}).get("edition")
    if found in LANGS:
        return found
    text = "".join("".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "markdown")
    return "zh" if len(_CJK.findall(text)) > 0.1 * max(len(text), 1) else "en"


def _vscode_path() -> str | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell.user_ns.get("__vsc_ipynb_file__") if shell is not None else None


def edition(default: str = "en") -> str:
    """"zh" or "en": the edition of the running notebook (see the module docstring for how)."""
    check_choice("default", default, LANGS)
    forced = os.environ.get("COURSEKIT_LANG", "").strip().lower()
    if forced:
        check_choice("COURSEKIT_LANG", forced, LANGS)
        return forced
    for found in (_from_path(os.environ.get("JPY_SESSION_NAME")), _from_path(_vscode_path()),
                  _from_path(str(Path.cwd())), _from_colab()):
        if found is not None:
            return found
    return default


# Plot labels. Chinese terms follow the slides (../shared/glossary.md): 前向扩散过程, 逆向去噪过程, 噪声调度 …
# Math is written in Unicode (βₜ, ᾱₜ, x̂₀), never as $…$ mathtext: matplotlib's mathtext has no CJK
# fallback, so a label mixing $…$ and Chinese would draw boxes.
LABELS: dict[str, dict[str, str]] = {
    "beta": {"zh": "βₜ（噪声调度）", "en": "βₜ (noise schedule)"},
    "alpha_bar": {"zh": "ᾱₜ（保留的信号比例）", "en": "ᾱₜ (signal kept)"},
    "log_snr": {"zh": "log-SNR = log ᾱₜ/(1−ᾱₜ)（信噪比）", "en": "log-SNR = log ᾱₜ/(1−ᾱₜ)"},
    "step": {"zh": "时间步 t", "en": "step t"},
    "digit_at": {"zh": "数字图像 · {name} · t = {t}", "en": "digits · {name} · t = {t}"},
    "cloud_at": {"zh": "二维点云 · {name} · t = {t}", "en": "2-D cloud · {name} · t = {t}"},
    "x_t": {"zh": "当前的 xₜ", "en": "current xₜ"},
    "x0_pred": {"zh": "预测的 x̂₀", "en": "predicted x̂₀"},
    "added_noise": {"zh": "加入的噪声 σₜz", "en": "added noise σₜz"},
    "reverse_step": {"zh": "逆向去噪过程：第 {i}/{n} 帧，t = {t}", "en": "reverse process: frame {i}/{n}, t = {t}"},
    "forward_chain": {"zh": "前向扩散过程 q(xₜ | xₜ₋₁)", "en": "forward diffusion process q(xₜ | xₜ₋₁)"},
    "data": {"zh": "真实数据", "en": "data"},
    "samples": {"zh": "生成样本", "en": "samples"},
    "loss": {"zh": "训练损失", "en": "training loss"},
    "loss_smooth": {"zh": "平滑后", "en": "smoothed"},
    "train_step": {"zh": "训练步数", "en": "training step"},
    "samples_at": {"zh": "生成样本（第 {step} 步）", "en": "samples (step {step})"},
    "untrained": {"zh": "尚未训练", "en": "not trained yet"},
    "progress": {"zh": "第 {step}/{total} 步 · 损失 {loss:.4f} · {seconds:.1f} 秒 · {rate:.0f} 步/秒",
                 "en": "step {step}/{total} · loss {loss:.4f} · {seconds:.1f} s · {rate:.0f} it/s"},
    "done": {"zh": "训练完成", "en": "done"},
    "play": {"zh": "播放", "en": "play"},
    "frame": {"zh": "帧", "en": "frame"},
    "t_slider": {"zh": "时间步 t", "en": "step t"},
    "T_slider": {"zh": "总步数 T", "en": "steps T"},
    "beta_range": {"zh": "β 范围", "en": "β range"},
    "schedule_a": {"zh": "调度 A", "en": "schedule A"},
    "schedule_b": {"zh": "调度 B", "en": "schedule B"},
    "guidance": {"zh": "引导强度 w = {w:g}", "en": "guidance w = {w:g}"},
    "prediction_x_prev": {"zh": "算法 1.2：直接回归 xₜ₋₁", "en": "Algorithm 1.2: regress xₜ₋₁"},
    # the β-schedule explorer: schedule names (the code's names in brackets), the β-range readout and why it is
    # greyed out under cosine; the players' Play buttons
    "schedule_linear": {"zh": "线性 (linear)", "en": "linear"},
    "schedule_cosine": {"zh": "余弦 (cosine)", "en": "cosine"},
    "schedule_quadratic": {"zh": "二次 (quadratic)", "en": "quadratic"},
    "schedule_sigmoid": {"zh": "S 型 (sigmoid)", "en": "sigmoid"},
    "beta_readout": {"zh": "β₁ = {lo:.4f}，β_T = {hi:.4f}", "en": "β₁ = {lo:.4f}, β_T = {hi:.4f}"},
    "beta_tooltip": {"zh": "线性、二次、S 型调度的 β₁ 与 β_T（拖动两端）",
                     "en": "β₁ and β_T of the linear, quadratic and sigmoid schedules (drag either end)"},
    "cosine_no_beta": {"zh": "余弦调度不使用 β 范围：βₜ 由它的 ᾱₜ 公式 cos²(…) 算出",
                       "en": "the cosine schedule has no β range: βₜ follows from its formula for ᾱₜ, cos²(…)"},
    "play_tooltip": {"zh": "▶ 播放 / ❚❚ 暂停 · ■ 停止并回到第 1 帧 · ↻ 循环播放",
                     "en": "▶ play / ❚❚ pause · ■ stop and go back to frame 1 · ↻ loop"},
    "prediction_eps": {"zh": "DDPM：预测噪声 ε", "en": "DDPM: predict the noise ε"},
}


def label(key: str, lang: str = "en", **fields: object) -> str:
    """The label ``key`` in ``lang`` ("zh"/"en"), with ``{fields}`` filled in."""
    check_choice("lang", lang, LANGS)
    if key not in LABELS:
        raise ValueError(f"key must be one of the labels in coursekit.i18n.LABELS, got {key!r}")
    text = LABELS[key][lang]
    return text.format(**fields) if fields else text
