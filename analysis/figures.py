"""Matplotlib plumbing shared by every plot: the Agg pyplot, the format colours, and the one
place a Figure becomes PNG bytes (``figure_png``) or a file (``save_figure``).

Plot functions (``plots_behaviour``, ``update_plots``, the report's ``figures``) only draw and
return ``matplotlib.figure.Figure`` objects; runners save them here, the report embeds them.
A figure keeps its own dpi (``Figure.set_dpi`` at creation), which the PNG is written at.
matplotlib is imported inside the functions so ``rl-lab --help`` stays fast.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rl_lab.core.io import atomic_write_bytes
from rl_lab.environments.formats import OTHER, STEPS, TAGGED, TERSE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

# rl_lab's own formats keep their colours in every plot; other taxonomies' labels take the rest
_FIXED = {TERSE: "#4C72B0", STEPS: "#55A868", TAGGED: "#C44E52", OTHER: "#8C8C8C"}
_SPARE = ("#8172B3", "#CCB974", "#64B5CD", "#DD8452", "#937860", "#DA8BC3", "#4C72B0", "#55A868", "#C44E52")


def format_colors(labels: Sequence[str]) -> dict[str, str]:
    """A colour per format label, in the labels' order (a taxonomy's labels end with ``other``)."""
    used = {_FIXED[label] for label in labels if label in _FIXED}
    spare = iter([c for c in _SPARE if c not in used])
    return {label: _FIXED.get(label) or next(spare, "#333333") for label in labels}


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes at its own dpi, cropped to its content; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi="figure", bbox_inches="tight")
    pyplot().close(fig)
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write the figure as a PNG, atomically; the figure is closed."""
    return atomic_write_bytes(path, figure_png(fig))


def save_figures(figures: Mapping[str, Figure], folder: str | Path) -> list[Path]:
    """``{file name: figure}`` -> PNG files in ``folder``, in order."""
    return [save_figure(fig, Path(folder) / name) for name, fig in figures.items()]
