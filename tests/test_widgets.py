"""The lecture widgets' logic without a browser: replay without recomputation, figures that follow the
controls, a static PNG in every output bundle, throttled training redraws, edition detection and labels."""

from __future__ import annotations

import base64

import pytest
import torch
from torch import nn

from coursekit import diffusion as D
from coursekit import i18n, widgets
from coursekit.viz import diffusion_plots as P

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class CountingDenoiser(nn.Module):
    """ε_θ(x_t, t) = 0.1·x_t, counting its calls."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.1))
        self.calls = 0

    def forward(self, x, t, y=None):
        self.calls += 1
        return self.scale * x


@pytest.fixture
def trajectory():
    s = D.make_schedule("linear", T=40, beta_start=1e-3, beta_end=0.2)
    model = CountingDenoiser()
    g = torch.Generator().manual_seed(torch.seed() % 2**31)
    _, traj = D.sample(model, s, (300, 2), generator=g, trajectory_every=4)
    return model, traj


def _static_png(widget) -> bytes:
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle      # the live widget for JupyterLab …
    png = base64.b64decode(bundle["image/png"], validate=True)      # … and a picture for headless runs
    assert png.startswith(PNG_MAGIC)
    return png


def test_player_replays_without_calling_the_model(trajectory, monkeypatch):
    model, traj = trajectory
    calls_after_sampling = model.calls
    drawn = []
    original = P.draw_trajectory_frame
    monkeypatch.setattr(P, "draw_trajectory_frame", lambda fig, tr, i, lang: (drawn.append(i), original(
        fig, tr, i, lang)))
    player = widgets.DenoisingPlayer(traj, lang="zh")
    n = len(traj.steps)
    # frames count from 1 on the slider, as in the title "第 i/n 帧": frame i shows record i − 1
    assert (player.slider.min, player.slider.max, player.slider.value) == (1, n, 1)
    assert (player.play.min, player.play.max) == (1, n)
    images = {1: player.image.value}
    for frame in range(2, n + 1):
        player.slider.value = frame
        images[frame] = player.image.value
        assert player.index == frame - 1
        assert player.caption.value == f"<b>t = {traj.steps[frame - 1]}</b>"
    assert model.calls == calls_after_sampling                      # no recomputation on slider moves
    assert len(set(images.values())) == n                           # every frame is a different picture
    for frame in (4, 1, n):                                         # revisiting: cached, not redrawn
        player.slider.value = frame
        assert player.image.value == images[frame]
    assert sorted(drawn) == list(range(n))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_player_title_counts_frames_as_the_slider_does(trajectory, lang, monkeypatch):
    _, traj = trajectory
    titles = []
    original = P.label
    monkeypatch.setattr(P, "label", lambda key, lg="en", **kw: (titles.append((key, kw)), original(key, lg, **kw))[1])
    player = widgets.DenoisingPlayer(traj, lang=lang)
    player.slider.value = 3
    frames = [kw for key, kw in titles if key == "reverse_step"]
    assert [(kw["i"], kw["n"]) for kw in frames] == [(1, len(traj.steps)), (3, len(traj.steps))]
    assert frames[-1]["t"] == traj.steps[2]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_player_buttons_have_a_tooltip_in_the_editions_language(trajectory, lang):
    _, traj = trajectory
    player = widgets.DenoisingPlayer(traj, lang=lang)
    assert player.play.tooltip == i18n.label("play_tooltip", lang)
    assert player.play.description == ""            # the browser shows a tooltip only without a description
    if lang == "zh":
        assert "播放" in player.play.tooltip and "循环" in player.play.tooltip and "停止" in player.play.tooltip


def test_player_static_picture_is_the_strip(trajectory):
    _, traj = trajectory
    player = widgets.DenoisingPlayer(traj, lang="en")
    png = _static_png(player)
    assert png != player.image.value                                # the strip, not the current frame
    player.slider.value = 2
    assert _static_png(player) == png


def test_player_rejects_bad_input(trajectory):
    _, traj = trajectory
    with pytest.raises(ValueError, match="trajectory"):
        widgets.DenoisingPlayer(traj.x_t, lang="en")
    with pytest.raises(ValueError, match="lang"):
        widgets.DenoisingPlayer(traj, lang="fr")


def test_explorer_follows_its_controls():
    g = torch.Generator().manual_seed(torch.seed() % 2**31)
    images = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1
    cloud = torch.randn(200, 2, generator=g)
    ex = widgets.ScheduleExplorer(images=images, cloud=cloud, lang="zh", first="linear", second="quadratic",
                                  T=500, t=100)
    a, b = ex.schedules()
    ref = D.make_schedule("quadratic", T=500, beta_start=1e-4, beta_end=0.02)
    assert (a.name, a.T, b.name) == ("linear", 500, "quadratic")
    torch.testing.assert_close(b.betas, ref.betas)
    first = ex.image.value
    ex.t.value = 400
    moved = ex.image.value
    assert moved != first
    ex.controls[1]["name"].value = "cosine"
    assert ex.image.value != moved
    assert ex.controls[1]["beta"].disabled and not ex.controls[0]["beta"].disabled   # cosine ignores β range
    # … and says so, in Chinese, where the greyed-out slider is (readout line and tooltip)
    assert "余弦调度不使用 β 范围" in ex.controls[1]["beta_readout"].value
    assert ex.controls[1]["beta"].tooltip == i18n.label("cosine_no_beta", "zh")
    assert "β₁ = 0.0001，β_T = 0.0200" in ex.controls[0]["beta_readout"].value    # the whole range, not cut off
    assert ex.controls[0]["beta"].readout is False                                 # the slider's own readout was
    ex.controls[0]["T"].value = 100                                   # t beyond a shorter T is clipped
    assert ex.schedules()[0].T == 100
    ex.controls[0]["beta"].value = (1e-3, 0.05)
    torch.testing.assert_close(ex.schedules()[0].betas, torch.linspace(1e-3, 0.05, 100))
    assert "β_T = 0.0500" in ex.controls[0]["beta_readout"].value
    ex.controls[1]["name"].value = "sigmoid"                          # leaving cosine enables the slider again
    assert not ex.controls[1]["beta"].disabled and "β₁" in ex.controls[1]["beta_readout"].value
    _static_png(ex)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_explorer_schedule_names_are_in_the_editions_language(lang):
    ex = widgets.ScheduleExplorer(lang=lang, first="linear", second="cosine")
    shown = dict(ex.controls[0]["name"].options)                      # {label: value}
    assert sorted(shown.values()) == sorted(D.SCHEDULES)              # the code's names stay the values
    if lang == "zh":
        assert {"线性 (linear)", "余弦 (cosine)", "二次 (quadratic)", "S 型 (sigmoid)"} == set(shown)
    else:
        assert set(shown) == set(D.SCHEDULES)
    assert ex.schedule_label(ex.schedules()[1]) == i18n.label("schedule_cosine", lang)
    assert ex.schedule_label(ex.schedules()[1], short=True) == ("余弦" if lang == "zh" else "cosine")   # image titles


def test_explorer_noise_is_fixed_so_only_the_schedule_changes_the_picture():
    images = torch.zeros(2, 1, 8, 8)
    ex = widgets.ScheduleExplorer(images=images, lang="en", T=1000, t=1000)
    s = ex.schedules()[0]
    # x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε with x_0 = 0: exactly the stored noise scaled
    torch.testing.assert_close(P.noised(s, images, 1000, ex.image_noise),
                               s.sqrt_one_minus_alpha_bars[-1] * ex.image_noise)


def test_explorer_rejects_bad_input():
    with pytest.raises(ValueError, match="first"):
        widgets.ScheduleExplorer(first="exponential")
    with pytest.raises(ValueError, match="T"):
        widgets.ScheduleExplorer(T=1)
    with pytest.raises(ValueError, match="cloud"):
        widgets.ScheduleExplorer(cloud=torch.zeros(10, 3))


def test_training_panel_records_every_loss_and_throttles_sampling():
    sampled = []

    def sampler(model):
        sampled.append(1)
        return torch.randn(50, 2)

    panel = widgets.TrainingPanel(100, sampler=sampler, reference=torch.randn(80, 2), lang="zh",
                                  redraw_seconds=3600)
    model = CountingDenoiser()
    for step in range(10, 101, 10):
        panel.update(step, 1.0 / step, model)
    assert panel.steps == list(range(10, 101, 10))
    assert panel.losses == pytest.approx([1.0 / s for s in range(10, 101, 10)])
    assert len(sampled) == 1                                        # only the first update redraws
    assert panel.bar.value == pytest.approx(1.0)
    assert "100/100" in panel.status.value

    class Result:
        model, steps, seconds = CountingDenoiser(), 100, 2.0

    before = panel.image.value
    panel.finish(Result())
    assert len(sampled) == 2 and panel.sample_step == 100
    assert panel.image.value != before
    assert _static_png(panel) == panel.image.value


def test_training_panel_needs_a_length():
    with pytest.raises(ValueError, match="total_steps"):
        widgets.TrainingPanel(None)


def test_every_label_exists_in_both_languages():
    for key, texts in i18n.LABELS.items():
        assert set(texts) == set(i18n.LANGS), key
        assert all(texts[lang].strip() for lang in i18n.LANGS), key
    assert i18n.label("guidance", "zh", w=2) == "引导强度 w = 2"
    with pytest.raises(ValueError, match="key"):
        i18n.label("no-such-label", "en")


@pytest.mark.parametrize("path, expected", [
    ("notebooks/zh/04a_x.ipynb", "zh"), ("notebooks/en/04a_x.ipynb", "en"),
    ("lectures/04a_扩散模型.ipynb", "zh"), ("lectures/diffusion_en.ipynb", "en"), ("lectures/x.ipynb", None),
])
def test_edition_from_notebook_path(path, expected):
    assert i18n._from_path(path) == expected


def test_edition_override_and_bad_value(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_LANG", "zh")
    assert i18n.edition() == "zh"
    monkeypatch.setenv("COURSEKIT_LANG", "fr")
    with pytest.raises(ValueError, match="COURSEKIT_LANG"):
        i18n.edition()
    monkeypatch.delenv("COURSEKIT_LANG")
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "zh" / "lecture.ipynb"))
    assert i18n.edition() == "zh"
    monkeypatch.delenv("JPY_SESSION_NAME")
    (tmp_path / "en").mkdir()
    monkeypatch.chdir(tmp_path / "en")
    assert i18n.edition(default="zh") == "en"
