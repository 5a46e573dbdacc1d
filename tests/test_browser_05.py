"""A real browser on the Chinese GAN notebook 05a: run every cell up to the widget, press the live training panel's
Train button and check that the picture (samples, D's decision surface, losses, gradient norm and mean D(G(z)))
changes while it trains and that the step count grows; switch the loss and k, train again; change the packing and
the data (new networks, step 0, and an orange line that says so); the data choices, the status line and its legend
are Chinese; Reset says what it did; no error (or stderr) output anywhere. Screenshots under artifacts/. The
plumbing is in tests/browser.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "zh" / "05a_生成对抗网络_极大极小博弈与训练.ipynb"

pytestmark = browser.needs_browser


def _status(panel) -> str:
    """The status line (the second HTML line: the first is the notice above it, empty until a reset)."""
    return panel.locator(".widget-html").nth(1).inner_text()


def _notice(panel) -> str:
    return panel.locator(".widget-html").first.inner_text()


def _step(panel) -> int:
    found = re.search(r"第 (\d+) 步", _status(panel))
    return int(found.group(1)) if found else -1


def _wait_idle(panel, timeout_s: float = 120.0) -> None:
    """Until the Train button is enabled again (a press trains chunks × chunk steps, redrawing each chunk)."""
    button = panel.locator("button", has_text="训练").first
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if button.is_enabled() and "训练中" not in _status(panel):
            return
        time.sleep(0.5)
    raise TimeoutError("the panel was still training")


def test_gan_training_panel_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.notebook_in_lab(tmp_path, NOTEBOOK, through="GANPanel(", timeout_s=480) as page:
        panel = (page.locator(".widget-vbox", has=page.locator("button", has_text="训练"))
                 .filter(has=page.locator(".widget-html")).filter(has=page.locator("img.widget-image")).last)
        panel.scroll_into_view_if_needed()
        assert _step(panel) == 150, panel.inner_text()                 # the warm-up the static picture shows
        before = browser.image_src(panel)
        assert before, "the panel shows no picture"
        # the numbers of the status line are explained under it, in Chinese
        text = panel.inner_text()
        assert "高质量样本" in _status(panel) and "平均 D(G(z))" in _status(panel), _status(panel)
        assert "离最近的模式中心不超过 3σ" in text and "均衡点为 log 4" in text, text
        options = [o.replace("\xa0", " ") for o in panel.locator("select").nth(2).locator("option").all_inner_texts()]
        assert options[0].startswith("圆环上的 8 个高斯") and len(options) == 4, options
        assert all(re.search(r"[\u4e00-\u9fff]", o) for o in options), options

        # press Train: the picture changes while it trains, and the step count grows by chunks × chunk = 200
        panel.locator("button", has_text="训练").first.click()
        browser.wait_src_change(panel, before, timeout_s=60)
        _wait_idle(panel)
        assert _step(panel) == 350, panel.inner_text()
        trained = browser.image_src(panel)
        assert trained != before
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_05a_zh_trained.png"))

        # the saturating loss with k = 5: the settings reach the running GAN, and training continues from there
        panel.locator("select").first.select_option(label="饱和损失")
        browser.set_slider(page, panel.locator(".widget-slider", has_text="D 步数 k").first, 5)
        panel.locator("button", has_text="训练").first.click()
        browser.wait_src_change(panel, trained, timeout_s=60)
        _wait_idle(panel)
        assert _step(panel) == 550, panel.inner_text()

        # packing m = 4 rebuilds the networks: back to step 0, a new picture, and the panel says so
        again = browser.image_src(panel)
        panel.locator("select").nth(1).select_option(label="4")
        browser.wait_src_change(panel, again, timeout_s=30)
        assert "尚未训练" in _status(panel)
        assert "已换打包数 m" in _notice(panel) and "第 0 步" in _notice(panel), _notice(panel)
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_05a_zh_packed.png"))

        # the data: the 5×5 grid, chosen by its Chinese name; a new picture and the notice names the data
        packed = browser.image_src(panel)
        panel.locator("select").nth(2).select_option(index=1)          # 5×5 网格上的 25 个高斯 (grid25)
        browser.wait_src_change(panel, packed, timeout_s=30)
        assert "已换数据" in _notice(panel), _notice(panel)
        switched = browser.image_src(panel)
        panel.locator("button", has_text="训练").first.click()
        # training has begun once the picture changes (waiting for idle at once raced the click under load in CI:
        # the button was still enabled and the status not yet "训练中", so the wait ended before training started)
        browser.wait_src_change(panel, switched, timeout_s=60)
        _wait_idle(panel)
        assert _step(panel) == 200 and "/25 个模式" in _status(panel), _status(panel)
        assert _notice(panel) == "", _notice(panel)                    # training clears the notice

        # Reset: back to step 0, said in the notice
        panel.locator("button", has_text="重置").first.click()
        deadline = time.monotonic() + 30
        while "已重置" not in _notice(panel) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert "已重置" in _notice(panel) and "尚未训练" in _status(panel), panel.inner_text()

        browser.assert_no_error_output(page, "after training in the panel")
