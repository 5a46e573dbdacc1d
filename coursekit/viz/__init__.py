"""Plotting (the only package, with ``coursekit.widgets``, that imports matplotlib).

``core`` holds what every unit uses (image grids, saving PNGs, the CJK font set-up); each unit adds its
own file (``diffusion``, ``gan``, ``models``).
"""

from .core import image_grid, save_figure, save_image_grid, setup_fonts, show_images

__all__ = ["image_grid", "save_image_grid", "save_figure", "show_images", "setup_fonts"]
