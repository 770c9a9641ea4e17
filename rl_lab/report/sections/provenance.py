"""Section 8: the resolved config as run, the trials of a sweep, and which files each section read."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rl_lab.report.context import Context
from rl_lab.report.view import Card, Cell, Section, table

KEY, TITLE = "config", "Configuration and provenance"
LEAD = "The resolved config as run, and every file each section read."


def build(ctx: Context, sections: Sequence[Section]) -> Section:
    sec = Section(KEY, TITLE, LEAD)
    if ctx.config_text:
        sec.blocks.append(Card(f"Config ({ctx.config_file})", code=ctx.config_text))
    else:
        sec.blocks.append(Card("Config", missing="no config.yaml / sweep_config.yaml found"))
    if ctx.kind == "sweep":
        rows = [[r.label, r.group, json.dumps(r.info.config_point), r.info.summary_status or r.info.state() or "–",
                 str(r.info.path)] for r in ctx.runs]
        sec.blocks.append(Card("Trials (config points)", table(["trial", "group", "config point", "status", "run dir"],
                                                               rows, numeric_from=99)))
    rows = [[s.title, "not available: " + s.reason if s.reason else "ok", Cell(lines=s.read_files()) if s.inputs else "–"]
            for s in sections]
    sec.blocks.append(Card("What each section read", table(["section", "state", "files"], rows, numeric_from=99)))
    return sec
