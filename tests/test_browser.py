"""A real browser on the Chinese diffusion notebook 04a: run every cell up to the widget, then in the β-schedule
explorer move the t slider, pick another schedule by its Chinese name and check that the figure changed, that the
β-range readout shows the whole range (not cut off) and that the greyed-out β slider under the cosine schedule says
why; in the denoising player check the Play buttons' Chinese tooltip, that frames count from 1 to n as the figure's
title does, and move its slider. No error (or stderr) output may appear. Screenshots under artifacts/. The plumbing
is in tests/browser.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "zh" / "04a_扩散模型_前向过程与DDPM.ipynb"

pytestmark = browser.needs_browser


def _fits(element) -> bool:
    """The element's text is not clipped (its content is no wider than its box)."""
    return element.evaluate("e => e.scrollWidth <= e.clientWidth + 1")


def _readout(page, slider, timeout_s: float = 20.0) -> str:
    """The slider's readout once the browser has drawn it (under load a freshly rendered slider's readout stays
    empty for a moment after the rest of the widget is there)."""
    readout = slider.locator(".widget-readout")
    deadline = time.monotonic() + timeout_s
    while not (text := readout.inner_text().strip()) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    return text


def test_chinese_notebook_widgets_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.notebook_in_lab(tmp_path, NOTEBOOK, through="DenoisingPlayer(") as page:
        # β-schedule explorer: the box with the "时间步 t" slider and the two schedule dropdowns
        explorer = page.locator(".widget-vbox", has=page.locator(".widget-dropdown", has_text="调度 A")).first
        explorer.scroll_into_view_if_needed()
        t_slider = explorer.locator(".widget-slider", has_text="时间步 t").last
        browser.move_slider_and_check_figure(page, explorer, t_slider, 650, "the schedule explorer")
        assert t_slider.locator(".widget-readout").inner_text().strip() == "650"

        # the schedule names are Chinese (the code's name in brackets); picking one redraws the figure
        first, second = explorer.locator("select").nth(0), explorer.locator("select").nth(1)
        options = [o.replace("\xa0", " ") for o in first.locator("option").all_inner_texts()]   # rendered with nbsp
        assert options == ["线性 (linear)", "余弦 (cosine)", "二次 (quadratic)", "S 型 (sigmoid)"], options
        before = browser.image_src(explorer)
        first.select_option(index=3)                                               # S 型 (sigmoid)
        browser.wait_src_change(explorer, before)

        # the β range is readable in full, and under cosine (schedule B) the greyed-out slider says why
        readouts = explorer.locator(".widget-html")
        texts = [t.replace("\xa0", " ") for t in readouts.all_inner_texts()]
        assert any("β₁ = 0.0001，β_T = 0.0200" in t for t in texts), texts
        assert any("余弦调度不使用 β 范围" in t for t in texts), texts
        for i in range(readouts.count()):
            assert _fits(readouts.nth(i)), f"clipped: {readouts.nth(i).inner_text()!r}"
        beta_sliders = explorer.locator(".widget-slider", has_text="β 范围")
        assert beta_sliders.count() == 2
        assert beta_sliders.nth(1).locator("[disabled]").count() > 0, "the cosine β slider is not greyed out"
        assert beta_sliders.nth(0).locator("[disabled]").count() == 0
        assert "余弦调度不使用 β 范围" in (beta_sliders.nth(1).locator("label").first.get_attribute("title") or "")
        # back from cosine: the slider is live again and the line shows the range
        before = browser.image_src(explorer)
        second.select_option(index=2)                                              # 二次 (quadratic)
        browser.wait_src_change(explorer, before)
        texts = [t.replace("\xa0", " ") for t in explorer.locator(".widget-html").all_inner_texts()]
        assert sum("β₁ = 0.0001，β_T = 0.0200" in t for t in texts) == 2, texts
        explorer.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_04a_zh_explorer.png"))

        # denoising player: the box whose slider is labelled "帧"
        player = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="帧")).last
        player.scroll_into_view_if_needed()
        play = player.locator(".widget-play").first
        tooltip = play.get_attribute("title") or ""
        assert "播放" in tooltip and "停止" in tooltip and "循环" in tooltip, f"Play tooltip: {tooltip!r}"
        frame = player.locator(".widget-slider", has_text="帧").first
        assert _readout(page, frame) == "1", player.inner_html()[:2000]           # frame 1 is t = T, as the title
        browser.move_slider_and_check_figure(page, player, frame, 40, "the denoising player")
        assert frame.locator(".widget-readout").inner_text().strip() == "40"
        caption = player.locator(".widget-html").first.inner_text()
        assert re.fullmatch(r"t = \d+", caption.strip()), caption
        browser.set_slider(page, frame, 0)                                         # below frame 1: clamped to 1
        page.wait_for_timeout(500)
        assert frame.locator(".widget-readout").inner_text().strip() == "1"
        player.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_04a_zh_player.png"))

        browser.assert_no_error_output(page, "after moving the controls")
