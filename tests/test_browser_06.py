"""Unit 06's widgets in a real browser (JupyterLab + Chromium): the Chinese 06b (guidance-scale slider beside the
measured trade-off curve) and the English 06c (PatchGAN layers and output position). Every cell runs, each
control is moved, its figure must change, and no error or stderr output may appear. Screenshots under
artifacts/. The plumbing is in tests/browser.py."""

from __future__ import annotations

from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
GUIDANCE = REPO / "notebooks" / "zh" / "06b_条件生成式模型_条件扩散与无分类器引导.ipynb"
PATCHGAN = REPO / "notebooks" / "en" / "06c_conditional_models_cgan_and_pix2pix.ipynb"

pytestmark = browser.needs_browser


def test_guidance_slider_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.jupyterlab(tmp_path, GUIDANCE) as (base, token, rel), browser.browser_page() as page:
        browser.open_and_run_all(page, base, token, rel, browser.code_cell_count(GUIDANCE), timeout_s=420)
        browser.assert_no_error_output(page, "after Run All")
        box = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="引导系数 w")).last
        box.scroll_into_view_if_needed()
        slider = box.locator(".widget-slider", has_text="引导系数 w").first
        browser.move_slider_and_check_figure(page, box, slider, 4, "the guidance explorer")
        browser.move_slider_and_check_figure(page, box, slider, 0, "the guidance explorer (w = 0)")
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_06b_zh_guidance.png"))
        browser.assert_no_error_output(page, "after moving the slider")


def test_patchgan_explorer_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.jupyterlab(tmp_path, PATCHGAN) as (base, token, rel), browser.browser_page() as page:
        browser.open_and_run_all(page, base, token, rel, browser.code_cell_count(PATCHGAN), timeout_s=420)
        browser.assert_no_error_output(page, "after Run All")
        box = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="PatchGAN layers")).last
        box.scroll_into_view_if_needed()
        layers = box.locator(".widget-slider", has_text="PatchGAN layers").first
        browser.move_slider_and_check_figure(page, box, layers, 1, "the PatchGAN explorer (layers)")
        browser.move_slider_and_check_figure(page, box, layers, 5, "the PatchGAN explorer (5 layers)")
        position = box.locator(".widget-slider", has_text="output position").first
        browser.move_slider_and_check_figure(page, box, position, 0, "the PatchGAN explorer (position)")
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_06c_en_patchgan.png"))
        browser.assert_no_error_output(page, "after moving the sliders")
