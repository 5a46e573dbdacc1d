"""A real browser on the Chinese GAN notebook 05a: run every cell up to the widget, press the live training panel's
Train button and check that the picture (samples, D's decision surface, losses, gradient norm) changes while it
trains and that the step count grows; switch the loss and k, train again; change the packing (new networks, step 0);
no error (or stderr) output anywhere. Screenshots under artifacts/. The plumbing is in tests/browser.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "zh" / "05a_生成对抗网络_极大极小博弈与训练.ipynb"

pytestmark = browser.needs_browser


def _step(panel) -> int:
    found = re.search(r"第 (\d+) 步", panel.locator(".widget-html").first.inner_text())
    return int(found.group(1)) if found else -1


def _wait_idle(panel, timeout_s: float = 120.0) -> None:
    """Until the Train button is enabled again (a press trains chunks × chunk steps, redrawing each chunk)."""
    button = panel.locator("button", has_text="训练").first
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if button.is_enabled() and "训练中" not in panel.locator(".widget-html").first.inner_text():
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

        # packing m = 4 rebuilds the networks: back to step 0, a new picture
        again = browser.image_src(panel)
        panel.locator("select").nth(1).select_option(label="4")
        browser.wait_src_change(panel, again, timeout_s=30)
        assert "尚未训练" in panel.locator(".widget-html").first.inner_text()
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_05a_zh_packed.png"))

        browser.assert_no_error_output(page, "after training in the panel")
