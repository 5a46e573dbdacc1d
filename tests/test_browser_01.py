"""A real browser on the Chinese overview notebook 01: run every cell up to the widget, move the density explorer's
capacity and training-size sliders, switch its model and pick a data set by its Chinese label, check that the figure
and the numbers changed and that no error (or stderr) output appeared, and save a screenshot under artifacts/. The
plumbing is in tests/browser.py."""

from __future__ import annotations

import time
from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "zh" / "01_生成式模型概论.ipynb"

pytestmark = browser.needs_browser


def test_chinese_notebook_01_density_explorer_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.notebook_in_lab(tmp_path, NOTEBOOK, through="DensityExplorer(", timeout_s=480) as page:
        # the density explorer: the box with the "容量" (capacity) slider
        explorer = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="容量")).first
        explorer.scroll_into_view_if_needed()
        caption = explorer.locator(".widget-html").first
        before = caption.inner_text()
        capacity = explorer.locator(".widget-slider", has_text="容量").first
        browser.move_slider_and_check_figure(page, explorer, capacity, 24, "the density explorer (capacity)")
        assert caption.inner_text() != before and "24" in caption.inner_text()
        size = explorer.locator(".widget-slider", has_text="训练点数").first
        browser.move_slider_and_check_figure(page, explorer, size, 100, "the density explorer (training points)")

        # switch the model to the histogram: the caption names it and the figure changes
        src = browser.image_src(explorer)
        explorer.locator(".widget-dropdown", has_text="模型").locator("select").select_option(label="直方图")
        browser.wait_src_change(explorer, src)
        deadline = time.monotonic() + 30
        while "直方图" not in caption.inner_text() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert "直方图" in caption.inner_text()

        # the data choices are in Chinese: pick the checkerboard by its Chinese label
        src = browser.image_src(explorer)
        data_choice = explorer.locator(".widget-dropdown", has_text="数据").locator("select")
        data_choice.select_option(label="棋盘 (checkerboard)")
        browser.wait_src_change(explorer, src)
        explorer.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_01_zh_density_explorer.png"))

        browser.assert_no_error_output(page, "after moving the controls")
