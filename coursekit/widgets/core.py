"""What every widget shares: an ``ipywidgets.Image`` holding the rendered PNG, and an output bundle that carries
the widget *and* a PNG of its current state, so a headless run (nbval, nbconvert, GitHub's viewer) keeps a
static figure. Figures are drawn off-screen (no pyplot)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import ipywidgets as W

from .._checks import check_choice
from ..i18n import LANGS
from ..viz import diffusion_plots as P


class _Figure:
    """Shared plumbing: an Image widget holding the rendered PNG, and the output bundle."""

    widget: W.Widget
    image: W.Image

    def _render(self) -> bytes:          # overridden: PNG bytes of the current state
        raise NotImplementedError

    def _static_png(self) -> bytes:      # what a headless run keeps (the current state unless overridden)
        return self.image.value

    def refresh(self) -> None:
        self.image.value = self._render()

    def _cached(self, key: int, draw: Callable, figsize: tuple[float, float], dpi: int = 72) -> bytes:
        """The PNG of frame ``key``, drawn once: moving back to a state already seen costs nothing."""
        frames = self.__dict__.setdefault("_frames", {})
        if key not in frames:
            frames[key] = _png(draw, figsize, dpi)
        return frames[key]

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        bundle = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        # Jupyter messages are JSON: binary MIME data travels base64-encoded (raw bytes fail nbformat's schema)
        bundle["image/png"] = base64.b64encode(self._static_png()).decode("ascii")
        return bundle

    def show(self):
        """Display now (keeps a handle so :meth:`update_display` can refresh the static picture)."""
        from IPython.display import display

        self._handle = display(self, display_id=True)
        return self

    def update_display(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.update(self)


class _Player(_Figure):
    """A replay of stored frames: Play button + frame slider (linked in the browser) + caption + image.

    Subclasses draw frame ``self.slider.value`` in ``_render`` through ``_cached``, so moving the slider never
    calls a model again.
    """

    def _controls(self, n: int, value: int, interval_ms: int, frame_label: str, play_label: str,
                  first: int = 0, play_tooltip: str | None = None) -> None:
        """Slider and Play over the frames ``first`` … ``first + n − 1`` (``first = 1`` counts frames as a title
        "frame i/n" does). ``play_tooltip`` is shown on hovering the Play buttons (play/pause, stop, loop); the
        browser shows a widget's tooltip only when its description is empty, so the Play then has none."""
        last = first + n - 1
        self.slider = W.IntSlider(value=value, min=first, max=last, step=1, description=frame_label,
                                  continuous_update=True, layout=W.Layout(width="420px"))
        if play_tooltip:
            self.play = W.Play(value=value, min=first, max=last, step=1, interval=interval_ms, description="",
                               tooltip=play_tooltip)
        else:
            self.play = W.Play(value=value, min=first, max=last, step=1, interval=interval_ms,
                               description=play_label)
        W.jslink((self.play, "value"), (self.slider, "value"))     # runs in the browser: smooth playback
        self.caption = W.HTML()
        self.image = W.Image(format="png")
        self.slider.observe(lambda _c: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox([self.play, self.slider, self.caption]), self.image])
        self.refresh()


def _check_lang(lang: str) -> str:
    return check_choice("lang", lang, LANGS)


def _png(draw: Callable, figsize: tuple[float, float], dpi: int = 72) -> bytes:
    fig = P.new_figure(figsize, managed=False)
    draw(fig)
    return P.fig_to_png(fig, dpi)
