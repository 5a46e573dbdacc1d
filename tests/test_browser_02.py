"""A real browser on the Chinese autoregressive notebook 02: run every cell up to the widget, move the receptive field
explorer's layer and column sliders and the sampling player's slider, check that each figure changed and that no
error (or stderr) output appeared, and save screenshots under artifacts/. The plumbing is in tests/browser.py."""

from __future__ import annotations

from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "zh" / "02_自回归生成模型_PixelRNN与PixelCNN.ipynb"

pytestmark = browser.needs_browser


def test_chinese_notebook_02_widgets_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.notebook_in_lab(tmp_path, NOTEBOOK, through="SamplingPlayer(") as page:
        # receptive field explorer: the box with the "层数" (layers) slider and the "第一层掩码" dropdown
        explorer = page.locator(".widget-vbox", has=page.locator(".widget-dropdown", has_text="第一层掩码")).first
        explorer.scroll_into_view_if_needed()
        layers = explorer.locator(".widget-slider", has_text="层数").first
        caption = explorer.locator(".widget-html").first.inner_text()
        browser.move_slider_and_check_figure(page, explorer, layers, 7, "the receptive field explorer (layers)")
        assert layers.locator(".widget-readout").inner_text().strip() == "7"
        assert explorer.locator(".widget-html").first.inner_text() != caption     # the counts follow the field
        column = explorer.locator(".widget-slider", has_text="列").first
        browser.move_slider_and_check_figure(page, explorer, column, 8, "the receptive field explorer (column)")
        assert "盲点" in explorer.locator(".widget-html").first.inner_text()
        explorer.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_02_zh_receptive_field.png"))

        # sampling player: the box whose slider is labelled "步"
        player = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="步")).last
        player.scroll_into_view_if_needed()
        frame = player.locator(".widget-slider", has_text="步").first
        browser.move_slider_and_check_figure(page, player, frame, 21, "the sampling player")
        assert "(2, 4)" in player.locator(".widget-html").first.inner_text()      # step 21 draws pixel (2, 4)
        player.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_02_zh_player.png"))

        browser.assert_no_error_output(page, "after moving the sliders")
