"""Runner of the update analysis: resolve the checkpoints, stream them, write the JSON and plots.

``rl-lab analyze updates`` (rl_lab/cli/updates.py) builds ``UpdatesSettings`` and calls
``run_updates``; the streaming itself is ``analysis.updates.analyze_updates``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_lab.analysis.checkpoint_io import is_run_dir, resolve_base, resolve_tuned
from rl_lab.analysis.figures import save_figures
from rl_lab.analysis.settings import UpdatesSettings
from rl_lab.core import rundir
from rl_lab.core.io import atomic_write_json
from rl_lab.core.rundir import RunDir


def default_run_dir(base: str | Path, tuned: list[str | Path]) -> RunDir | None:
    """The run dir an input belongs to (the first tuned one's, else the base's), if any."""
    for raw in [*tuned, base]:
        path = Path(raw).parent if Path(raw).is_file() else Path(raw)
        owner = rundir.run_of_checkpoint(path)  # RUN/checkpoints/step_N belongs to RUN
        path = owner.path if owner is not None else path
        if is_run_dir(path):
            return RunDir(path)
    return None


@dataclass
class UpdatesOutput:
    result: dict[str, Any]
    json_path: Path | None  # None: no --out and no run dir to default to
    plots: list[Path] = field(default_factory=list)


def run_updates(base: str | Path, tuned: list[str | Path], settings: UpdatesSettings, out: Path | None = None,
                plots: Path | None = None, progress: bool = True, run: RunDir | None = None) -> UpdatesOutput:
    """Compare ``base`` with every ``tuned`` input; the JSON goes to ``out`` (default:
    ``RUN/analysis/updates.json`` for ``run``, the run dir the inputs belong to), PNGs to
    ``plots`` (default: ``RUN/plots`` when the JSON goes to the run dir). Bad inputs raise
    InputError before any work."""
    from rl_lab.analysis.update_plots import update_figures
    from rl_lab.analysis.updates import analyze_updates

    if out is None and run is not None:
        out = run.analysis_file("updates")
        plots = plots or run.path / rundir.PLOTS
    result = analyze_updates(resolve_base(base), resolve_tuned(tuned), settings, progress=progress)
    if out is not None:
        atomic_write_json(out, result)
    written = save_figures(update_figures(result), plots) if plots is not None else []
    return UpdatesOutput(result, out, written)
