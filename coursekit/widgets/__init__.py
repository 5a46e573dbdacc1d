"""Live widgets (ipywidgets 8, JupyterLab 4, Colab), one file per unit; with ``coursekit.viz`` the only modules
that import plotting or widget libraries.

- ``overview``: :class:`DensityExplorer` (unit 01)
- ``autoregressive``: :class:`ReceptiveFieldExplorer`, :class:`SamplingPlayer` (unit 02)
- ``vae``: :class:`LatentExplorer`, :class:`BetaExplorer` (unit 03)
- ``diffusion``: :class:`ScheduleExplorer`, :class:`DenoisingPlayer`, :class:`TrainingPanel` (unit 04)
- ``gan``: :class:`GANPanel`, the live GAN training panel (unit 05)
- ``conditional``: :class:`GuidanceExplorer`, :class:`PatchGANExplorer` (unit 06)
- ``flow``: :class:`StepsExplorer`, Algorithm 2, DDIM and flow matching side by side (unit 07)

Each widget displays as the widget *and* a PNG of its current state (``core``), so every widget cell leaves a
static figure when run headless.
"""

from .autoregressive import ReceptiveFieldExplorer, SamplingPlayer
from .conditional import GuidanceExplorer, PatchGANExplorer
from .diffusion import DenoisingPlayer, ScheduleExplorer, TrainingPanel
from .flow import StepsExplorer
from .gan import GANPanel
from .overview import DensityExplorer
from .vae import BetaExplorer, LatentExplorer

__all__ = ["BetaExplorer", "DenoisingPlayer", "DensityExplorer", "GANPanel", "GuidanceExplorer", "LatentExplorer",
           "PatchGANExplorer", "ReceptiveFieldExplorer", "SamplingPlayer", "ScheduleExplorer", "StepsExplorer",
           "TrainingPanel"]
