"""Plot functions return matplotlib Figures; analysis.figures is the one place they become PNGs."""

from __future__ import annotations

import base64

from behaviour_fixtures import rollout_rows

from rl_lab.analysis import format_collapse, plots_behaviour
from rl_lab.analysis.figures import figure_png, pyplot, save_figures
from rl_lab.report.view import data_uri

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_return_figures_named_by_their_reading_guide(tmp_path):
    from matplotlib.figure import Figure

    summary = format_collapse.summarise_run({s: rollout_rows(s, {"steps": 6, "terse": 4}) for s in (1, 2, 3)}, 0.9)
    figures = plots_behaviour.plot_format_run(summary, title="run")
    assert set(figures) == {"format_shares.png", "format_shares_by_level.png", "format_entropy.png"}
    assert all(isinstance(f, Figure) and f.dpi == plots_behaviour.DPI for f in figures.values())
    assert set(figures) <= set(plots_behaviour.READING_GUIDE)
    paths = save_figures(figures, tmp_path)
    assert [p.name for p in paths] == list(figures) and all(p.read_bytes()[:8] == PNG for p in paths)
    assert not pyplot().get_fignums()  # saving closed every figure


def test_a_figure_becomes_png_bytes_and_a_data_uri():
    fig, ax = pyplot().subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1], [1, 0])
    png = figure_png(fig)
    assert png[:8] == PNG
    fig, ax = pyplot().subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1], [1, 0])
    uri = data_uri(fig)
    assert uri.startswith("data:image/png;base64,") and base64.b64decode(uri.split(",", 1)[1]) == png
