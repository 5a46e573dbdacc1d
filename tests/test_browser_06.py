"""Unit 06's widgets in a real browser (JupyterLab + Chromium): the Chinese 06b (guidance-scale slider beside the
measured trade-off curve), the English 06c (PatchGAN layers and output position) and the Chinese 06d (text to
image: a prompt typed into a text box, a guidance slider); the 06b explorer also shows its Chinese hint and snaps an
unmeasured w to the nearest measured one. Every cell up to the widget runs (the rest is the
notebook tests' job), each control is moved or typed into, its figure must change, and no error or stderr output
may appear. Screenshots under artifacts/. The plumbing is in tests/browser.py."""

from __future__ import annotations

import time
from pathlib import Path

import browser

REPO = Path(__file__).resolve().parent.parent
GUIDANCE = REPO / "notebooks" / "zh" / "06b_条件生成式模型_条件扩散与无分类器引导.ipynb"
PATCHGAN = REPO / "notebooks" / "en" / "06c_conditional_models_cgan_and_pix2pix.ipynb"
TEXT2IMAGE = REPO / "notebooks" / "zh" / "06d_条件生成式模型_CycleGAN与文本生成图像.ipynb"

pytestmark = browser.needs_browser


def test_guidance_slider_in_jupyterlab(tmp_path, artifacts_dir):
    """06b (zh): the guidance explorer explains itself in Chinese, its figure follows the slider, and a w between two
    measured values snaps to the nearest measured one (5 → 4: the readout shows the w of the picture)."""
    with browser.notebook_in_lab(tmp_path, GUIDANCE, through="GuidanceExplorer(") as page:
        box = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="引导系数 w")).last
        box.scroll_into_view_if_needed()
        assert "滑块" in box.locator(".widget-html").first.inner_text(), "the explorer's Chinese hint is missing"
        slider = box.locator(".widget-slider", has_text="引导系数 w").first
        browser.move_slider_and_check_figure(page, box, slider, 4, "the guidance explorer")
        browser.move_slider_and_check_figure(page, box, slider, 0, "the guidance explorer (w = 0)")
        browser.move_slider_and_check_figure(page, box, slider, 5, "the guidance explorer (w = 5, unmeasured)")
        readout = slider.locator(".widget-readout").first
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and readout.inner_text().strip() not in ("4.00", "4.0", "4"):
            time.sleep(0.25)
        assert readout.inner_text().strip() in ("4.00", "4.0", "4"), \
            f"w = 5 was not snapped to the measured w = 4 (readout {readout.inner_text()!r})"
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_06b_zh_guidance.png"))
        browser.assert_no_error_output(page, "after moving the slider")


def test_patchgan_explorer_in_jupyterlab(tmp_path, artifacts_dir):
    with browser.notebook_in_lab(tmp_path, PATCHGAN, through="PatchGANExplorer(") as page:
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


def test_text_to_image_prompt_box_in_jupyterlab(tmp_path, artifacts_dir):
    """06d (zh): prompts sent with Enter, a prompt typed and sent with the Generate button (typing alone does not
    redraw; the hint line under the box says so), then the guidance slider."""
    with browser.notebook_in_lab(tmp_path, TEXT2IMAGE, through="TextToImageExplorer(") as page:
        box = page.locator(".widget-vbox", has=page.locator(".widget-text", has_text="提示词")).last
        box.scroll_into_view_if_needed()
        for prompt in ("a thin 3 slanted to the right", "画一个大的八"):
            before = browser.image_src(box)
            assert before, "the text-to-image explorer shows no figure"
            field = box.locator(".widget-text input").first
            field.click()
            page.keyboard.press("Control+A")
            page.keyboard.type(prompt)
            page.keyboard.press("Enter")
            browser.wait_src_change(box, before)
        # typed but not sent (no Enter): the Generate button draws it
        before = browser.image_src(box)
        field = box.locator(".widget-text input").first
        field.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("一个细的四")
        box.locator("button", has_text="生成").first.click()
        browser.wait_src_change(box, before)
        assert "回车" in box.locator(".widget-html").first.inner_text(), "the hint under the prompt box is missing"
        slider = box.locator(".widget-slider", has_text="引导系数 w").first
        browser.move_slider_and_check_figure(page, box, slider, 0, "the text-to-image explorer (w = 0)")
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_06d_zh_text2image.png"))
        browser.assert_no_error_output(page, "after typing prompts and moving the slider")
