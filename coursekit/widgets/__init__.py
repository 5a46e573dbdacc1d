"""Live widgets (ipywidgets 8, JupyterLab 4, Colab), one file per unit; with ``coursekit.viz`` the only modules
that import plotting or widget libraries.

- ``diffusion``: :class:`ScheduleExplorer`, :class:`DenoisingPlayer`, :class:`TrainingPanel` (unit 04)

Each widget displays as the widget *and* a PNG of its current state (``core``), so every widget cell leaves a
static figure when run headless.
"""

from .autoregressive import ReceptiveFieldExplorer, SamplingPlayer  # unit 02
from .diffusion import DenoisingPlayer, ScheduleExplorer, TrainingPanel
from .gan import GANPanel  # noqa: F401  (unit 05: the live GAN training panel)
from .overview import DensityExplorer  # unit 01

__all__ = ["DenoisingPlayer", "ScheduleExplorer", "TrainingPanel"]
__all__ += ["ReceptiveFieldExplorer", "SamplingPlayer"]  # unit 02
__all__ += ["DensityExplorer"]  # unit 01
