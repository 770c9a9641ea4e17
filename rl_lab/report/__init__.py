"""``rl-lab report RUN_OR_SWEEP [--out FILE]``: one self-contained HTML page of a run or a sweep.

It reads only what training and the analyses wrote (config, metrics.jsonl, sweep_summary.json,
``analysis/*.json``) and re-draws every figure from those numbers, so each plot agrees with the
table beside it.  Images are base64 data URIs, the CSS is inline and a Content-Security-Policy
forbids any network fetch: the file can be mailed or archived as is.  A section whose JSON is
missing or unreadable becomes a "not run / not available: <why>" box; the page is still written.

The pieces: ``context`` loads the run dirs and JSONs once; each module of ``sections`` turns
them into a view model (``view``: findings, tables, figures), with the headline sentences from
``findings`` (pure functions, thresholds from the config's ``report`` section); ``page``
renders the one Jinja2 template with autoescaping.
"""

from __future__ import annotations

from pathlib import Path


def build_report(path: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """Read RUN_OR_SWEEP, write the HTML atomically (default ``<dir>/report.html``), return its path."""
    from rl_lab.analysis.figures import pyplot
    from rl_lab.core.io import atomic_write_text
    from rl_lab.report.context import Context
    from rl_lab.report.page import render_page
    from rl_lab.report.sections import build_sections

    ctx = Context(Path(path))
    try:
        page = render_page(ctx, build_sections(ctx), title)
    finally:
        pyplot().close("all")  # figures of a section that failed half-way
    return atomic_write_text(Path(out) if out else ctx.root / "report.html", page)
