"""A real browser on the Chinese VAE notebook 03: run every cell up to the widget, move the latent explorer's z₁ and z₂
sliders and the β slider, check that each figure changed, that the controls speak Chinese (labels and the tooltips on
their names) and that no error (or stderr) output appeared, and save screenshots under artifacts/. The plumbing is in
tests/browser.py."""

from __future__ import annotations

from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "zh" / "03_变分自编码器.ipynb"

pytestmark = browser.needs_browser


def test_vae_notebook_widgets_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.notebook_in_lab(tmp_path, NOTEBOOK, through="BetaExplorer(") as page:
        # latent explorer: the box with the two "隐变量 z" sliders; moving z₁ redraws the decoded digit
        explorer = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="隐变量 z₁")).last
        explorer.scroll_into_view_if_needed()
        z1 = explorer.locator(".widget-slider", has_text="隐变量 z₁").first
        assert "解码器" in (z1.locator("label").first.get_attribute("title") or "")     # the tooltip, in Chinese
        browser.move_slider_and_check_figure(page, explorer, z1, -2, "the latent explorer")
        assert z1.locator(".widget-readout").inner_text().strip().replace("\u2212", "-") == "-2.00"   # U+2212 minus
        z2 = explorer.locator(".widget-slider", has_text="隐变量 z₂").first
        browser.move_slider_and_check_figure(page, explorer, z2, 1, "the latent explorer (z₂)")
        explorer.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_03_zh_latent.png"))

        # β slider: switches between the β-VAEs trained once; β = 4 is the collapsed one
        beta = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="KL 权重 β")).last
        beta.scroll_into_view_if_needed()
        slider = beta.locator(".widget-slider", has_text="KL 权重 β").first
        assert "不重新训练" in (slider.locator("label").first.get_attribute("title") or "")   # says it never retrains
        browser.move_slider_and_check_figure(page, beta, slider, 4, "the β explorer")
        assert float(slider.locator(".widget-readout").inner_text().strip()) == 4.0
        beta.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_03_zh_beta.png"))

        browser.assert_no_error_output(page, "after moving the sliders")
