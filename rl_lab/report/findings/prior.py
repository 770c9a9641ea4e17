"""Prior skills and shortcuts, worded by intervals.

Prior-skill loss (catastrophic forgetting under RL fine-tuning; Shenfeld et al. 2025, "RL's
Razor"): probe accuracy at the last checkpoint minus the base's. Expected below zero; "appeared"
when the 95% interval lies below -``report.prior_margin``, "did not appear" when it lies above it,
"inconclusive" otherwise. The interval is the contamination analysis' paired bootstrap over the
probes (over seeds too for a group); a contamination.json written before per-probe records were
kept gets an unpaired bootstrap from its base and final counts (wider: the pairing is unknown).

Shortcut rise (reward hacking: the policy learns to repeat operands, skip work, ...): a detector's
rate at the last logged rollouts minus the first. Expected above zero; "appeared" when the 95%
interval (bootstrap over seeds, then each step's rollouts) lies above ``report.shortcut_rise``.
``skipped_work`` can only flag steps-format completions, so it is judged among them when the
share of steps-format completions is known (a growing steps share alone is not a shortcut).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.analysis import intervals
from rl_lab.analysis.intervals import Estimate, Verdict
from rl_lab.analysis.shortcuts import SHORTCUTS
from rl_lab.core.config import ReportConfig
from rl_lab.report.findings.common import DEFAULTS, KINDS, Finding, estimate, overall_kind
from rl_lab.report.numbers import fmt_ci, fmt_pct, fmt_pp, mean_of


# =========================================================================== prior skills
def prior_estimate(change: Mapping[str, Any]) -> Estimate | None:
    """The change's interval: stored (``interval``), else unpaired from ``base``, ``final`` and ``n``."""
    stored = estimate(change.get("interval"))
    if stored is not None:
        return stored
    base, final, n = change.get("base"), change.get("final"), change.get("n")
    if base is None or final is None or not n:
        return None
    return intervals.difference([intervals.flags(round(base * n), n)], [intervals.flags(round(final * n), n)])


def _pp(est: Estimate) -> str:
    return intervals.describe(est, 100, " pp", 1, of="probes", signed=True)


def findings_prior(changes: Sequence[Mapping[str, Any]], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """``changes``: ``{label, group, base, final, change, n, interval}`` per run (n: probes; interval:
    contamination.json's ``prior_skill_accuracy_change_interval``; either may be None)."""
    margin = thresholds.prior_margin
    judged: dict[Verdict, list[tuple[Mapping[str, Any], Estimate | None]]] = {
        "appeared": [], "did not appear": [], "inconclusive": []}
    for c in changes:
        if c.get("change") is None:
            continue
        est = prior_estimate(c)
        judged[intervals.verdict(est, -1, margin) if est else "inconclusive"].append((c, est))
    total = sum(len(v) for v in judged.values())
    if not total:
        return []
    rule = f"loss: the whole 95% interval of the change below −{100 * margin:g} pp"
    kind = overall_kind(v for v, items in judged.items() for _ in items)
    if total == 1:
        verdict = next(v for v, items in judged.items() if items)
        c, est = judged[verdict][0]
        move = f"{fmt_pct(c.get('base'), 0)} → {fmt_pct(c.get('final'), 0)} ("
        move += (_pp(est) if est else f"{fmt_pp(c['change'])}, no interval: contamination.json has no per-probe "
                 "records or probe count") + ")"
        text = {"appeared": f"Prior-skill loss: probe accuracy fell {move}",
                "did not appear": f"Prior-skill loss did not appear: probe accuracy {move}",
                "inconclusive": f"Prior-skill loss is inconclusive: probe accuracy {move}; more probes "
                                "(analysis.probe_problems_per_level) or seeds would decide"}[verdict]
        return [Finding(kind, "prior skills", f"{text} ({rule}).")]

    def listed(items: list[tuple[Mapping[str, Any], Estimate | None]]) -> str:
        return ", ".join(f"{c['label']} {fmt_ci(e, 'pp', 0)}" if e else f"{c['label']} {fmt_pp(c['change'], 0)} "
                         "(no interval)" for c, e in items)

    lost, flat, unsure = judged["appeared"], judged["did not appear"], judged["inconclusive"]
    if lost:
        text = f"Prior-skill loss: in {len(lost)}/{total} runs probe accuracy fell ({listed(lost)})"
        if flat:
            text += f"; in {len(flat)}/{total} no loss"
        if unsure:
            text += f"; inconclusive in {len(unsure)}/{total} ({listed(unsure)})"
    elif unsure:
        text = f"Prior-skill loss is inconclusive in {len(unsure)}/{total} runs ({listed(unsure)})"
        if flat:
            text += f"; in {len(flat)}/{total} no loss ({listed(flat)})"
    else:
        text = f"Prior-skill loss did not appear in any of {total} runs ({listed(flat)})"
    return [Finding(kind, "prior skills", f"{text}; {rule}.")]


def findings_prior_groups(rows: Mapping[str, Mapping[str, Any]], changes: Sequence[Mapping[str, Any]],
                          thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """Per curriculum group, seeds pooled: the contamination comparison's interval of the change
    (bootstrap over seeds, then each seed's probes), worded by the same rule as a run's; only when
    there are several groups or a group has several seeds. A group without an interval (older
    files) shows the mean over its seeds and no verdict."""
    groups: dict[str, list[float]] = {}
    for c in changes:
        if c.get("change") is not None:
            groups.setdefault(c["group"], []).append(c["change"])
    if len(groups) < 2 and all(len(v) < 2 for v in groups.values()):
        return []
    margin = thresholds.prior_margin
    parts, verdicts = [], []
    for g, values in groups.items():
        est = estimate((rows.get(g) or {}).get("prior_skill_accuracy_change_interval"))
        if est is None:
            parts.append(f"{g} {fmt_pp(mean_of(values))} (mean of {len(values)}, no interval)")
            continue
        verdict = intervals.verdict(est, -1, margin)
        verdicts.append(verdict)
        parts.append(f"{g}: {GROUP_WORDS[verdict]}, {_pp(est)}")
    if not verdicts:
        return [Finding("info", "prior skills", "Prior-skill accuracy change per curriculum: " + "; ".join(parts) + ".")]
    return [Finding(overall_kind(verdicts), "prior skills", "Prior-skill accuracy change per curriculum, seeds pooled "
                    "(bootstrap over seeds, then probes): " + "; ".join(parts) + f"; loss: the whole 95% interval "
                    f"below −{100 * margin:g} pp.")]


GROUP_WORDS: dict[Verdict, str] = {"appeared": "loss", "did not appear": "no loss", "inconclusive": "inconclusive"}


# =========================================================================== shortcuts
def _flags(rates: Mapping[str, Any] | None, name: str) -> list[float] | None:
    """A detector's 0/1 outcomes at one logged step, from its rate and the rows it checked."""
    rates = rates or {}
    rate = rates.get(name)
    checked = (rates.get("checked") or {}).get(name, rates.get("rows"))
    if rate is None or not checked:
        return None
    return intervals.flags(round(rate * checked), checked)


def _steps_flags(rates: Mapping[str, Any] | None) -> list[float] | None:
    """``skipped_work`` outcomes among the steps-format rows only (the rows it can flag)."""
    rates = rates or {}
    rate, share, rows = rates.get("skipped_work"), rates.get("steps_share"), rates.get("rows")
    if rate is None or not share or not rows:
        return None
    checked = (rates.get("checked") or {}).get("skipped_work", rows)
    steps = round(share * rows)
    flagged = min(round(rate * checked), steps)
    return intervals.flags(flagged, steps) if steps else None


def _rise(items: Sequence[Mapping[str, Any]], outcomes) -> Estimate | None:
    pairs = [(outcomes(r.get("first")), outcomes(r.get("last"))) for r in items]
    pairs = [(a, b) for a, b in pairs if a and b]
    return intervals.difference([a for a, _ in pairs], [b for _, b in pairs]) if pairs else None


def findings_shortcuts(rates: Sequence[Mapping[str, Any]], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """``rates``: ``{group, first: {name: rate, rows, checked, steps_share}, last: {...}}`` per run
    (rollout shortcut rates at the first and the last logged step)."""
    if not rates:
        return []
    margin = thresholds.shortcut_rise
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rates:
        groups.setdefault(r["group"], []).append(r)
    judged: dict[Verdict, list[str]] = {"appeared": [], "did not appear": [], "inconclusive": []}
    composition, finals = [], []
    for group, items in groups.items():
        for name in SHORTCUTS:
            first = mean_of([(r.get("first") or {}).get(name) for r in items])
            last = mean_of([(r.get("last") or {}).get(name) for r in items])
            if last is not None:
                finals.append((last, name, group))
            est = _rise(items, lambda rates_, name=name: _flags(rates_, name))
            if first is None or last is None:
                continue
            if est is None:  # rates without rollout counts: nothing to put an interval on
                judged["inconclusive"].append(f"{group}: {name} {fmt_pct(first, 0)} → {fmt_pct(last, 0)} (no rollout "
                                              "counts recorded: no interval)")
                continue
            verdict = intervals.verdict(est, +1, margin)
            text = (f"{group}: {name} {fmt_pct(first, 0)} → {fmt_pct(last, 0)} "
                    f"({intervals.describe(est, 100, ' pp', 0, of='rollouts', signed=True)})")
            steps = _rise(items, _steps_flags) if name == "skipped_work" else None
            if steps is not None:
                within = intervals.verdict(steps, +1, margin)
                sf = mean_of([(r.get("first") or {}).get("steps_share") for r in items])
                sl = mean_of([(r.get("last") or {}).get("steps_share") for r in items])
                among = [mean_of([_share_of(r.get(side)) for r in items]) for side in ("first", "last")]
                text += (f" of all rollouts ({fmt_pct(among[0], 0)} → {fmt_pct(among[1], 0)} of steps-format ones, "
                         f"{fmt_ci(steps, 'pp', 0)}, whose share went {fmt_pct(sf, 0)} → {fmt_pct(sl, 0)})")
                if within == "did not appear" and verdict != "did not appear":  # more steps completions, not worse ones
                    composition.append(text)
                    continue
                verdict = within
            judged[verdict].append(text)
    return _shortcut_verdict(judged, composition, finals, margin)


def _shortcut_verdict(judged: Mapping[Verdict, list[str]], composition: list[str],
                      finals: list[tuple[float, str, str]], margin: float) -> list[Finding]:
    """One finding from the per-detector judgements: a rise anywhere wins, then inconclusive, then a rise
    explained by the format mix, else none (with the highest final rate)."""
    rule = f"a rise: the whole 95% interval of last − first above {round(100 * margin)} pp"
    if judged["appeared"]:
        text = ("Shortcut rates rose in the rollouts (first → last logged step, seeds pooled): "
                + "; ".join(judged["appeared"]))
        if judged["inconclusive"]:
            text += "; inconclusive: " + "; ".join(judged["inconclusive"])
        return [Finding(KINDS["appeared"], "shortcuts", f"{text} ({rule}).")]
    if judged["inconclusive"]:
        return [Finding(KINDS["inconclusive"], "shortcuts", "A rise in shortcut rates is inconclusive: "
                        + "; ".join(judged["inconclusive"]) + f" ({rule}).")]
    if composition:
        return [Finding(KINDS["did not appear"], "shortcuts", "A rise in shortcut rates did not appear once the format "
                        "mix is accounted for: " + "; ".join(composition) + ". The share of all rollouts grew only "
                        "because more completions were in the steps format, the only one that can skip work.")]
    top = max(finals) if finals else None
    tail = ""
    if top and top[0] > 0:
        tail = f" (highest at the last step: {top[1]} {fmt_pct(top[0], 0)} in {top[2]})"
    elif top:
        tail = " (every detector at 0% in the last rollouts)"
    return [Finding(KINDS["did not appear"], "shortcuts", "A rise in shortcut rates did not appear: every detector's "
                    f"rise between the first and last rollouts has its 95% interval at or below "
                    f"{round(100 * margin)} pp{tail}.")]


def _share_of(rates: Mapping[str, Any] | None) -> float | None:
    """``skipped_work`` among steps-format rows (it can flag no other)."""
    rates = rates or {}
    share, rate = rates.get("steps_share"), rates.get("skipped_work")
    return rate / share if rate is not None and share else None
