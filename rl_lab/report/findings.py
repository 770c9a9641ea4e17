"""Headline findings of ``rl-lab report``: pure functions from analysis numbers to sentences.

Each ``findings_*`` takes the numbers an analysis JSON holds and returns ``Finding``s whose
text states what was measured, including the plain "did not appear" when a phenomenon was
looked for and not seen.  The thresholds that decide "appeared" are the config's ``report``
section (``rl_lab.core.config.ReportConfig``; schema defaults when not given); docs/report.md
lists them. Shortcut names are ``analysis.shortcuts.SHORTCUTS``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rl_lab.analysis.drift import FORWARD, REVERSE
from rl_lab.analysis.shortcuts import SHORTCUTS
from rl_lab.core.config import ReportConfig
from rl_lab.report.numbers import dig, fmt_num, fmt_pct, fmt_pp, fmt_range, mean_of

DEFAULTS = ReportConfig()  # the schema's thresholds, for callers without a config


@dataclass
class Finding:
    kind: str  # observed | absent | info | missing
    topic: str
    text: str


# =========================================================================== helpers over data
def head_tail(curve: Mapping[int, float], fraction: float = DEFAULTS.tail_fraction) -> tuple[float, float] | None:
    """Mean of the first and of the last ``fraction`` of logged steps (at least one each)."""
    steps = sorted(curve)
    if not steps:
        return None
    k = max(1, math.ceil(fraction * len(steps)))
    return (sum(curve[s] for s in steps[:k]) / k, sum(curve[s] for s in steps[-k:]) / k)


def level_keys(series_list: Sequence[Mapping[str, Any]]) -> list[int]:
    levels = set()
    for s in series_list:
        for key in s:
            if key.startswith("accuracy/level_") and key[len("accuracy/level_"):].isdigit():
                levels.add(int(key[len("accuracy/level_"):]))
    return sorted(levels)


def prior_noise_bound(p0: float | None, p1: float | None, n: int | None,
                      unknown_n_bound: float = DEFAULTS.unknown_n_bound) -> float:
    """Twice the binomial standard error of a difference of two accuracies over n probes each
    (floor 1/n): a smaller change is within what re-drawing the probes could give."""
    if not n or p0 is None or p1 is None:
        return unknown_n_bound
    se = math.sqrt(max(p0 * (1 - p0) + p1 * (1 - p1), 0.0) / n)
    return max(2 * se, 1.0 / n)


# =========================================================================== findings (pure)
def findings_training(runs: Sequence[Mapping[str, Any]], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """``runs``: ``{group, series}``. Reward and accuracy per level, first vs last 10% of steps."""
    out = []
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        groups.setdefault(r["group"], []).append(r)
    for group, items in groups.items():
        parts = []
        fraction = thresholds.tail_fraction
        rw = [head_tail(r["series"].get("reward") or {}, fraction) for r in items]
        rw = [x for x in rw if x]
        if rw:
            parts.append(f"reward {fmt_num(mean_of([a for a, _ in rw]))} → {fmt_num(mean_of([b for _, b in rw]))}")
        accs = []
        for level in level_keys([r["series"] for r in items]):
            ht = [head_tail(r["series"].get(f"accuracy/level_{level}") or {}, fraction) for r in items]
            ht = [x for x in ht if x]
            if ht:
                accs.append(f"L{level} {fmt_pct(mean_of([a for a, _ in ht]), 0)} → {fmt_pct(mean_of([b for _, b in ht]), 0)}")
        if accs:
            parts.append("accuracy " + ", ".join(accs))
        if parts:
            who = f"{group} ({len(items)} run{'s' if len(items) != 1 else ''})" if len(groups) > 1 or len(items) > 1 else "Training"
            out.append(Finding("info", "training", f"{who}: " + "; ".join(parts)
                               + f" (mean of the first vs the last {fmt_pct(fraction, 0)} of logged steps)."))
    return out


def findings_formats(runs: Mapping[str, Mapping[str, Any]], threshold: float) -> list[Finding]:
    """``runs``: label -> ``{collapsed, collapse_step, winner, final_shares}`` (formats.json)."""
    n = len(runs)
    if not n:
        return []
    thr = fmt_pct(threshold, 0)
    collapsed = {k: v for k, v in runs.items() if v.get("collapsed")}
    if not collapsed:
        largest = []
        for v in runs.values():
            fs = v.get("final_shares") or {}
            if fs:
                f = max(fs, key=lambda x: fs[x])
                largest.append((fs[f], f))
        tail = ""
        if largest:
            top = max(largest)
            tail = f" (largest final share: {top[1]} {fmt_pct(top[0], 0)})"
        where = "the run" if n == 1 else f"0/{n} runs"
        return [Finding("absent", "format collapse",
                        f"Format collapse did not appear: in {where} did one format exceed {thr} of rollouts "
                        f"and stay above it through the last logged step{tail}.")]
    by_winner: dict[str, list[int]] = {}
    for v in collapsed.values():
        by_winner.setdefault(str(v.get("winner")), []).append(v.get("collapse_step"))
    parts = []
    for winner, steps in sorted(by_winner.items(), key=lambda kv: -len(kv[1])):
        steps_text = ", ".join(str(s) for s in sorted(s for s in steps if s is not None))
        label = "step" if len(steps) == 1 else "steps"
        if n == 1:
            parts.append(f"`{winner}` exceeded {thr} of rollouts from step {steps_text} on")
        else:
            parts.append(f"in {len(steps)}/{n} runs `{winner}` exceeded {thr} ({label} {steps_text})")
    text = "Format collapse: " + "; ".join(parts)
    if n > 1 and len(collapsed) < n:
        text += f"; in {n - len(collapsed)}/{n} no collapse"
    return [Finding("observed", "format collapse", text + ".")]


def findings_passk(payload: Mapping[str, Any]) -> list[Finding]:
    base = payload.get("base")
    models = payload.get("models") or {}
    crossings = payload.get("crossover") or {}
    n = dig(payload, "inputs.n")
    ks = sorted({int(k) for m in models.values() for k in (dig(m, "overall.pass_at_k") or {})})
    kmax = ks[-1] if ks else n
    if not crossings:
        return [Finding("missing", "pass@k", "pass@k: only one model was sampled; no base-vs-tuned comparison.")]

    def at(label: str, k: int) -> float | None:
        return (dig(models.get(label, {}), "overall.pass_at_k") or {}).get(str(k))

    crosses, never, ahead = [], [], []
    for label, c in crossings.items():
        status = dig(c, "overall.status")
        k = dig(c, "overall.k")
        if status == "crosses":
            crosses.append((label, k))
        elif status == "base_ahead_from_start":
            ahead.append(label)
        else:
            never.append(label)
    total = len(crossings)
    out = []
    if total == 1:
        label = next(iter(crossings))
        p1 = f"pass@1 base {fmt_num(at(base, ks[0]) if ks else None)} vs tuned {fmt_num(at(label, ks[0]) if ks else None)}"
        pk = f"pass@{kmax} {fmt_num(at(base, kmax))} vs {fmt_num(at(label, kmax))}"
        if crosses:
            out.append(Finding("observed", "pass@k", f"pass@k crossover: the base model catches up with {label} at "
                               f"k = {crosses[0][1]} ({p1}; {pk})."))
        elif ahead:
            out.append(Finding("observed", "pass@k", f"pass@k: the base model is at or above {label} from the smallest "
                               f"k measured, so RL did not raise pass@1 on these problems ({p1}; {pk})."))
        else:
            out.append(Finding("absent", "pass@k", f"pass@k crossover did not appear within k ≤ {kmax}: {label} stays "
                               f"above the base at every k measured ({p1}; {pk})."))
        return out
    if crosses:
        ktext = ", ".join(str(k) for _, k in sorted(crosses, key=lambda x: x[1] or 0))
        text = f"pass@k crossover: the base catches up in {len(crosses)}/{total} tuned models (k = {ktext})"
        if never:
            text += f"; no crossover within k ≤ {kmax} in {len(never)}/{total}"
        if ahead:
            text += f"; base ahead from k = 1 in {len(ahead)}/{total}"
        out.append(Finding("observed", "pass@k", text + "."))
    elif ahead and not never:
        out.append(Finding("observed", "pass@k", f"pass@k: the base is at or above all {total} tuned models from the "
                           "smallest k measured (RL did not raise pass@1)."))
    else:
        text = f"pass@k crossover did not appear within k ≤ {kmax}: the tuned model stays above the base at every k in {len(never)}/{total}"
        if ahead:
            text += f"; base ahead from k = 1 in {len(ahead)}/{total}"
        out.append(Finding("absent", "pass@k", text + "."))
    return out


def findings_prior(changes: Sequence[Mapping[str, Any]], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """``changes``: ``{label, group, base, final, change, n}`` per run (n: probes, may be None)."""
    if not changes:
        return []
    lost, gained, flat = [], [], []
    for c in changes:
        bound = prior_noise_bound(c.get("base"), c.get("final"), c.get("n"), thresholds.unknown_n_bound)
        ch = c.get("change")
        if ch is None:
            continue
        (lost if ch < -bound else gained if ch > bound else flat).append(c)
    total = len(lost) + len(gained) + len(flat)
    if not total:
        return []
    noise = "twice the binomial standard error of the difference"
    out = []
    if total == 1:
        c = (lost or gained or flat)[0]
        move = f"{fmt_pct(c.get('base'), 0)} → {fmt_pct(c.get('final'), 0)} ({fmt_pp(c['change'])}"
        move += f", {c['n']} probes)" if c.get("n") else ")"
        if lost:
            out.append(Finding("observed", "prior skills", f"Prior-skill loss: probe accuracy fell {move}, beyond {noise}."))
        else:
            extra = " It rose beyond noise." if gained else ""
            out.append(Finding("absent", "prior skills", f"Prior-skill loss did not appear: probe accuracy {move}, "
                               f"not a fall beyond {noise}.{extra}"))
        return out
    if lost:
        names = ", ".join(f"{c['label']} {fmt_pp(c['change'], 0)}" for c in lost)
        text = f"Prior-skill loss: in {len(lost)}/{total} runs probe accuracy fell beyond {noise} ({names})"
        if len(lost) < total:
            text += f"; in {total - len(lost)}/{total} no loss"
        out.append(Finding("observed", "prior skills", text + "."))
    else:
        out.append(Finding("absent", "prior skills", f"Prior-skill loss did not appear: in none of {total} runs did "
                           f"probe accuracy fall beyond {noise} (changes {fmt_range([c['change'] for c in flat + gained], fmt_pp)})."))
    groups: dict[str, list[float]] = {}
    for c in changes:
        if c.get("change") is not None:
            groups.setdefault(c["group"], []).append(c["change"])
    if len(groups) > 1:
        out.append(Finding("info", "prior skills", "Prior-skill accuracy change by curriculum (mean over seeds): "
                           + ", ".join(f"{g} {fmt_pp(mean_of(v))} ({len(v)})" for g, v in groups.items()) + "."))
    return out


def findings_shortcuts(rates: Sequence[Mapping[str, Any]], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """``rates``: ``{group, first: {name: rate}, last: {name: rate}}`` per run (rollout shortcut rates)."""
    if not rates:
        return []
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rates:
        groups.setdefault(r["group"], []).append(r)
    def per_steps(r: Mapping[str, Any] | None, name: str) -> float | None:
        """skipped_work can only flag steps-format completions: its rate among them."""
        r = r or {}
        share, rate = r.get("steps_share"), r.get(name)
        return rate / share if rate is not None and share else None

    rises, composition, finals = [], [], []
    for group, items in groups.items():
        for name in SHORTCUTS:
            first = mean_of([(r.get("first") or {}).get(name) for r in items])
            last = mean_of([(r.get("last") or {}).get(name) for r in items])
            if last is not None:
                finals.append((last, name, group))
            if first is None or last is None or last - first < thresholds.shortcut_rise:
                continue
            text = f"{group}: {name} {fmt_pct(first, 0)} → {fmt_pct(last, 0)}"
            cf = mean_of([per_steps(r.get("first"), name) for r in items]) if name == "skipped_work" else None
            cl = mean_of([per_steps(r.get("last"), name) for r in items]) if name == "skipped_work" else None
            if cf is not None and cl is not None:
                sf = mean_of([(r.get("first") or {}).get("steps_share") for r in items])
                sl = mean_of([(r.get("last") or {}).get("steps_share") for r in items])
                text += (f" of all rollouts ({fmt_pct(cf, 0)} → {fmt_pct(cl, 0)} of steps-format ones, "
                         f"whose share went {fmt_pct(sf, 0)} → {fmt_pct(sl, 0)})")
                if cl - cf < thresholds.shortcut_rise:  # more steps completions, not worse ones
                    composition.append(text)
                    continue
            rises.append(text)
    if rises:
        return [Finding("observed", "shortcuts", "Shortcut rates rose in the rollouts (first → last logged step, mean "
                        "over seeds): " + "; ".join(rises) + ".")]
    if composition:
        return [Finding("absent", "shortcuts", "A rise in shortcut rates did not appear once the format mix is "
                        "accounted for: " + "; ".join(composition) + ". The share of all rollouts grew only because "
                        "more completions were in the steps format, the only one that can skip work.")]
    top = max(finals) if finals else None
    tail = ""
    if top and top[0] > 0:
        tail = f" (highest at the last step: {top[1]} {fmt_pct(top[0], 0)} in {top[2]})"
    elif top:
        tail = " (every detector at 0% in the last rollouts)"
    return [Finding("absent", "shortcuts", f"A rise in shortcut rates did not appear: no detector's rate grew by "
                    f"{round(100 * thresholds.shortcut_rise)} pp or more between the first and last rollouts{tail}.")]


def findings_drift_points(points: Sequence[Mapping[str, Any]], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """Sweep drift: forward KL per token against prior-skill change across runs."""
    pts = [p for p in points if p.get("kl") is not None and p.get("prior_change") is not None]
    kls = [p["kl"] for p in points if p.get("kl") is not None]
    if not kls:
        return []
    if fmt_num(min(kls), 4) == fmt_num(max(kls), 4):
        span = f"forward KL(base‖tuned) per token was {fmt_num(kls[0], 4)} nats in all {len(kls)} runs"
    else:
        span = (f"forward KL(base‖tuned) per token ranged {fmt_num(min(kls), 4)} to {fmt_num(max(kls), 4)} nats "
                f"over {len(kls)} runs")
    if len(pts) < 3:
        return [Finding("info", "drift", f"Drift: {span}; too few runs with prior-skill results ({len(pts)}) "
                        "for a correlation.")]
    xs, ys = [p["kl"] for p in pts], [p["prior_change"] for p in pts]
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return [Finding("info", "drift", f"Drift: {span}; no correlation (one of the two quantities is constant).")]
    r = statistics.correlation(xs, ys)
    if r <= -thresholds.correlation_r:
        return [Finding("observed", "drift", f"Drift vs prior skills: over {len(pts)} runs, more forward KL went with "
                        f"more prior-skill loss (Pearson r = {r:.2f}); {span}.")]
    if r >= thresholds.correlation_r:
        return [Finding("info", "drift", f"Drift vs prior skills: over {len(pts)} runs, more forward KL went with a "
                        f"smaller loss or a gain (Pearson r = {r:.2f}); {span}.")]
    return [Finding("absent", "drift", f"A relation between drift and prior-skill change did not appear: Pearson "
                    f"r = {r:.2f} over {len(pts)} runs (|r| < {thresholds.correlation_r}); {span}.")]


def findings_drift_run(payload: Mapping[str, Any]) -> list[Finding]:
    fin = payload.get("final") or {}
    fwd = dig(fin, f"{FORWARD}.per_token")
    rev = dig(fin, f"{REVERSE}.per_token")
    if fwd is None and rev is None:
        return []
    return [Finding("info", "drift", f"Drift at step {payload.get('final_step')}: KL(base‖tuned) {fmt_num(fwd, 4)} "
                    f"nats/token on base samples, KL(tuned‖base) {fmt_num(rev, 4)} nats/token on tuned samples.")]


def findings_updates(result: Mapping[str, Any], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    tuned = result.get("tuned") or []
    if not tuned:
        return []
    tol = dig(result, "settings.tol")
    out = []

    def shares(c: str) -> list[float]:
        return [t["share"][c] for t in tuned if (t.get("share") or {}).get(c) is not None]

    compared = sorted({d for t in tuned for d in (t.get("compared_in") or [])})
    many = len(tuned) > 1
    where = f" over {len(tuned)} tuned checkpoints" if many else ""
    text = (f"Parameters changed vs the base{where}: {fmt_range(shares('exact'))} exact (compared in "
            f"{', '.join(compared) or '?'}), {fmt_range(shares('tol'))} beyond |Δ| > {tol:g}, "
            f"{fmt_range(shares('bf16'))} in bf16, {fmt_range(shares('paper'))} under the reference criterion.")
    out.append(Finding("info", "updates", text))
    paper = shares("paper")
    if shares("exact") and max(shares("exact")) == 0:
        who = f"all {len(tuned)} tuned checkpoints equal" if many else "the tuned checkpoint equals"
        out.append(Finding("info", "updates", f"No parameter changed at all: {who} the base bit for bit, so "
                           "sparsity and overlap are undefined here."))
        return out
    if paper:
        if max(paper) <= thresholds.sparse_share:
            out.append(Finding("observed", "updates", f"Update sparsity: under the reference criterion (bf16, "
                               f"isclose atol 1e-5) only {fmt_range(paper)} of parameters changed{where}."))
        elif min(paper) > thresholds.sparse_share:
            out.append(Finding("absent", "updates", f"Update sparsity did not appear: {fmt_range(paper)} of parameters "
                               f"changed under the reference criterion (bf16, isclose atol 1e-5){where}."))
        else:
            out.append(Finding("info", "updates", f"Update sparsity varied: {fmt_range(paper)} of parameters changed "
                               f"under the reference criterion{where}."))
    pairs = result.get("pairs") or []
    if pairs:
        def stat(c: str, key: str) -> float | None:
            return mean_of([dig(p, f"criteria.{c}.{key}") for p in pairs])

        ratio, iou, chance = stat("exact", "iou_ratio"), stat("exact", "iou"), stat("exact", "iou_chance")
        paper_ratio = stat("paper", "iou_ratio")
        detail = (f"IoU {fmt_num(iou)} vs {fmt_num(chance)} by chance ({fmt_num(ratio)}x, exact criterion; "
                  f"reference criterion {fmt_num(paper_ratio)}x), mean over {len(pairs)} pair{'s' if len(pairs) > 1 else ''}")
        if ratio is not None and ratio >= thresholds.overlap_ratio:
            out.append(Finding("observed", "updates", f"Overlap of updated sets beyond chance: {detail}."))
        elif ratio is not None:
            out.append(Finding("absent", "updates", f"Overlap of updated sets beyond chance did not appear: {detail}."))
    return out
