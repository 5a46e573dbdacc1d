"""A real browser on the Chinese diffusion notebook 04a: run every cell up to the widget, move the β-schedule
explorer's t slider and the denoising player's slider, check that each figure changed and that no error (or stderr)
output appeared, and save screenshots under artifacts/. The plumbing is in tests/browser.py."""

from __future__ import annotations

from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "zh" / "04a_扩散模型_前向过程与DDPM.ipynb"

pytestmark = browser.needs_browser


def test_chinese_notebook_widgets_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.notebook_in_lab(tmp_path, NOTEBOOK, through="DenoisingPlayer(") as page:
        # β-schedule explorer: the box with the "时间步 t" slider and the two schedule dropdowns
        explorer = page.locator(".widget-vbox", has=page.locator(".widget-dropdown", has_text="调度 A")).first
        explorer.scroll_into_view_if_needed()
        t_slider = explorer.locator(".widget-slider", has_text="时间步 t").last
        browser.move_slider_and_check_figure(page, explorer, t_slider, 650, "the schedule explorer")
        assert t_slider.locator(".widget-readout").inner_text().strip() == "650"
        explorer.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_04a_zh_explorer.png"))

        # denoising player: the box whose slider is labelled "帧"
        player = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="帧")).last
        player.scroll_into_view_if_needed()
        frame = player.locator(".widget-slider", has_text="帧").first
        browser.move_slider_and_check_figure(page, player, frame, 40, "the denoising player")
        assert "t = " in player.locator(".widget-html").first.inner_text()
        player.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_04a_zh_player.png"))

        browser.assert_no_error_output(page, "after moving the sliders")
