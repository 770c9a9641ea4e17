"""Headline findings of ``rl-lab report``: pure functions from analysis numbers to sentences.

Each ``findings_*`` takes the numbers an analysis JSON holds and returns ``Finding``s whose text
states what was measured, each headline number as value [95% interval] with the problems (probes,
prompts, rollouts) and seeds it rests on (``rl_lab.analysis.intervals.describe``). Whether a
phenomenon "appeared", "did not appear" or is "inconclusive" is decided by its interval
(``intervals.verdict``) against the direction the literature predicts and a margin from the
config's ``report`` section (``rl_lab.core.config.ReportConfig``; schema defaults when not
given), never by a point estimate; docs/report.md lists the rule of every claim.

One module per topic: ``common`` (the Finding and the verdict -> kind mapping), ``training``,
``formats``, ``passk``, ``prior`` (prior skills and shortcuts), ``drift``, ``updates``.
"""

from rl_lab.report.findings.common import DEFAULTS, KINDS, Finding, head_tail, level_keys, overall_kind
from rl_lab.report.findings.drift import findings_drift_points, findings_drift_run
from rl_lab.report.findings.formats import final_share, findings_formats
from rl_lab.report.findings.passk import findings_passk
from rl_lab.report.findings.prior import (
    findings_prior,
    findings_prior_groups,
    findings_shortcuts,
    prior_estimate,
)
from rl_lab.report.findings.training import findings_training
from rl_lab.report.findings.updates import findings_updates
from rl_lab.report.numbers import fmt_num, fmt_pct, fmt_pp, fmt_range

__all__ = [
    "DEFAULTS", "KINDS", "Finding", "final_share", "findings_drift_points", "findings_drift_run", "findings_formats",
    "findings_passk", "findings_prior", "findings_prior_groups", "findings_shortcuts", "findings_training",
    "findings_updates", "fmt_num", "fmt_pct", "fmt_pp", "fmt_range", "head_tail", "level_keys", "overall_kind",
    "prior_estimate",
]
