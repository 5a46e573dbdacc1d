"""Unit 07's widget in a real browser (JupyterLab + Chromium): the Chinese edition's StepsExplorer (Algorithm 2,
DDIM and flow matching side by side on the ring, a slider for the number of steps). Every cell up to the widget runs
(the rest is the notebook tests' job); the slider is moved to 3 and to 250 steps, the figure must change each time,
the line under the slider must follow (in Chinese, naming the three samplers), and no error or stderr output may
appear. A screenshot goes under artifacts/. The plumbing is in tests/browser.py."""

from __future__ import annotations

import time
from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
STEPS = REPO / "notebooks" / "zh" / "07_扩散模型_快速采样_DDIM与流匹配.ipynb"

pytestmark = browser.needs_browser


def _wait_readout(box, wanted: str, timeout_s: float = 30.0) -> str:
    readout = box.locator(".widget-html").first
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = readout.inner_text()
        if wanted in text:
            return text
        time.sleep(0.25)
    raise AssertionError(f"the readout does not say {wanted!r}: {readout.inner_text()!r}")


def test_steps_slider_in_jupyterlab(tmp_path, artifacts_dir):
    """07 (zh): the steps slider redraws the three panels, and the Chinese readout gives each sampler's modes and
    high-quality share at the new number of calls."""
    with browser.notebook_in_lab(tmp_path, STEPS, through="StepsExplorer(") as page:
        box = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="步数")).last
        box.scroll_into_view_if_needed()
        text = _wait_readout(box, "10 次调用：")
        for name in ("算法 2", "DDIM", "流匹配（欧拉法）", "高质量"):
            assert name in text, f"the readout does not name {name!r}: {text!r}"
        slider = box.locator(".widget-slider", has_text="步数").first
        browser.move_slider_and_check_figure(page, box, slider, 3, "the steps explorer (3 steps)")
        _wait_readout(box, "3 次调用：")
        browser.move_slider_and_check_figure(page, box, slider, 250, "the steps explorer (250 steps)")
        _wait_readout(box, "250 次调用：")
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_07_zh_steps.png"))
        browser.assert_no_error_output(page, "after moving the slider")
