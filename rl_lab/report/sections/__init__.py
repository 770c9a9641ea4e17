"""The report's sections, in page order: each module has ``KEY``, ``TITLE`` and
``build(ctx) -> Section`` (a view model: findings, figures, tables, inputs read).

A builder that fails on a malformed JSON costs only its own section, which then shows
"not run / not available: <why>"; the provenance section comes last and lists them all.
"""

from __future__ import annotations

import sys

from rl_lab.report.context import Context
from rl_lab.report.sections import (
    choosing,
    contamination,
    drift,
    formats,
    passk,
    provenance,
    training,
    updates,
)
from rl_lab.report.view import Section

BUILDERS = (training, formats, passk, contamination, drift, choosing, updates)


def build_sections(ctx: Context) -> list[Section]:
    sections = []
    for module in BUILDERS:
        try:
            sections.append(module.build(ctx))
        except Exception as exc:  # one malformed JSON must not cost the whole report
            print(f"warning: report section {module.KEY!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            sections.append(Section(module.KEY, module.TITLE, "",
                                    reason=f"could not be built from its inputs: {type(exc).__name__}: {exc}"))
    sections.append(provenance.build(ctx, sections))
    return sections
