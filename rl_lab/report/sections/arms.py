"""The "choosing vs changing" comparison: per run, every way of getting the trained behaviour out of
the same base, side by side, from the analyses that measured them:

* base, and base with the best forced format (analysis/forcing.json, ``rl-lab analyze forcing``);
* base steered at its best strength (analysis/steering.json, ``rl-lab analyze steering``);
* another base proxy-tuned with the run's change (analysis/proxy.json, ``rl-lab analyze proxy``);
* the run's trained checkpoint, named by its arm (GRPO, GRPO + LoRA r, SFT; from its config), with its
  prior-skill change (contamination.json) and forward-KL drift (drift.json).

Only measured numbers: a missing analysis is a "not run" cell naming the command that writes it.
"""

from __future__ import annotations

from typing import Any

from rl_lab.analysis import plots_behaviour
from rl_lab.analysis.drift import FORWARD
from rl_lab.report.context import Context, RunData, lookup
from rl_lab.report.findings.common import estimate
from rl_lab.report.numbers import fmt_ci
from rl_lab.report.view import Card, Cell, FigureBlock, figure, table

UNTOUCHED = "weights untouched; not measured"
HEADERS = ["run", "arm", "pass@1, trained levels [95%]", "share of RL's gain [95%]", "prior-skill change [95%]",
           "KL(base‖tuned) per token [95%]"]


def arm_name(run: RunData) -> str:
    """GRPO / SFT, full fine-tuning or LoRA at rank r, from the run's config."""
    method = "SFT" if lookup(run.info, "train.method") == "sft" else "GRPO"
    peft = lookup(run.info, "train.peft")
    return f"{method} + LoRA r={peft.get('r', 8)}" if isinstance(peft, dict) else f"{method} (full fine-tuning)"


def _not_run(command: str) -> Cell:
    return Cell("not run", note=f"run: {command}")


def _share(head: dict[str, Any] | None) -> str | Cell:
    if not head:
        return "–"
    if head.get("share") is None:
        return Cell("undefined", note=str(head.get("why_no_share", "")))
    si = estimate(head.get("share_interval"))
    return fmt_ci(si, "num", 2) if si else f"{head['share']:.2f}"


def _steering_command(ctx: Context, path: str) -> str:
    labels = list(ctx.taxonomy.forcing) if ctx.taxonomy is not None else []
    contrast = f"{labels[1]}:{labels[0]}" if len(labels) >= 2 else "TOWARDS:AWAY"
    return f"rl-lab analyze steering {path} --contrast {contrast}"


def run_rows(ctx: Context, run: RunData) -> tuple[list[list[Any]], list[tuple[str, dict[str, Any]]]]:
    """The table rows of one run and the ``(arm, accuracy estimate)`` pairs its plot shows."""
    path = str(run.info.path)
    forced = ctx.analysis("forcing", run.info.path).payload
    steer = ctx.analysis("steering", run.info.path).payload
    proxy = ctx.analysis("proxy", run.info.path).payload
    prior = ctx.analysis("contamination", run.info.path).payload
    drift = ctx.analysis("drift", run.info.path).payload
    acc = (forced or {}).get("accuracy") or (proxy or {}).get("accuracy") or {}
    rows: list[list[Any]] = []
    bars: list[tuple[str, dict[str, Any]]] = []

    def add(arm: str, est: Any, share: Any = "–", prior_cell: Any = UNTOUCHED, kl: Any = UNTOUCHED) -> None:
        rows.append([run.label, arm, fmt_ci(estimate(est), "pct") if isinstance(est, dict) else est, share,
                     prior_cell, kl])
        if isinstance(est, dict) and estimate(est) is not None:
            bars.append((arm, est))

    add("base", acc.get("base") or _not_run(f"rl-lab analyze forcing {path}"), "0 (reference)")
    if forced:
        best = forced.get("best_format", "?")
        add(f"base, forced format {best} (best)", acc.get(f"forced {best}"), _share(forced.get("share_of_rl_gain")))
    else:
        add("base, best forced format", _not_run(f"rl-lab analyze forcing {path}"))
    if steer:
        key = f"{steer.get('best_strength', 0):g}"
        c = steer.get("contrast") or {}
        add(f"base steered {c.get('towards', '?')} − {c.get('away_from', '?')}, layer {steer.get('layer')}, "
            f"strength {key} (best of {len(steer.get('by_strength') or {})}, in-sample; held-out half)",
            ((steer.get("by_strength") or {}).get(key) or {}).get("accuracy") or "–")
    else:
        add("base steered", _not_run(_steering_command(ctx, path)))
    if proxy:
        pa = proxy.get("accuracy") or {}
        onto = str((proxy.get("inputs") or {}).get("onto", "?"))
        add(f"other base ({onto}), untouched", pa.get("other base"))
        add(f"other base proxy-tuned, α={(proxy.get('inputs') or {}).get('alpha', 1):g}", pa.get("other base proxy-tuned"),
            _share(proxy.get("share_of_rl_gain")))
    else:
        add("other base proxy-tuned", _not_run(f"rl-lab analyze proxy {path} --onto OTHER_BASE"))
    prior_cell = (fmt_ci(estimate(prior.get("prior_skill_accuracy_change_interval")), "pp") if prior
                  else _not_run(f"rl-lab analyze contamination {path}"))
    final = ((drift or {}).get("final") or {}).get(FORWARD) or {}
    kl = (fmt_ci(estimate(final.get("per_token_interval")), "num", 4) if final.get("per_token_interval")
          else f"{final['per_token']:.4f}" if final.get("per_token") is not None
          else _not_run(f"rl-lab analyze drift {path}"))
    tuned = acc.get("RL-tuned") or _not_run(f"rl-lab analyze forcing {path}")
    add(f"{arm_name(run)}, trained (changes weights)", tuned, "1 (by definition)", prior_cell, kl)
    return rows, bars


def comparison_blocks(ctx: Context) -> list[Card | FigureBlock]:
    """The table over every run (and a plot of pass@1 per arm), or nothing when no run has any of the
    elicitation analyses (the section then says what to run)."""
    rows, bars = [], {}
    for run in ctx.runs:
        if not any(ctx.analysis(name, run.info.path).payload for name in ("forcing", "steering", "proxy")):
            continue
        r, b = run_rows(ctx, run)
        rows += r
        bars[run.label] = b
    if not rows:
        return []
    blocks: list[Card | FigureBlock] = [Card("Choosing vs changing: every arm on the same base", table(
        HEADERS, rows, numeric_from=2,
        caption="pass@1: greedy accuracy on the trained families at the curriculum's levels (rl-lab analyze forcing's "
                "problems; steering on their held-out half), exact binomial 95% interval. Share of RL's gain: "
                "(arm − its untouched base) / (RL-tuned − base) with a paired bootstrap over problems; undefined when "
                "RL's own gain is not distinguishable from 0. Prior-skill change and drift are measured on trained "
                "checkpoints only."))]
    blocks.append(figure("pass@1 of each arm", plots_behaviour.plot_arms(bars),
                         plots_behaviour.READING_GUIDE["arms.png"]))
    return blocks


def proxy_findings(ctx: Context) -> list[tuple[str, str]]:
    """``(kind, text)`` per run with analysis/proxy.json: the share of RL's gain proxy-tuning reaches."""
    out = []
    for run in ctx.runs:
        proxy = ctx.analysis("proxy", run.info.path).payload
        if not proxy:
            continue
        head = proxy.get("share_of_rl_gain") or {}
        onto = (proxy.get("inputs") or {}).get("onto", "?")
        if head.get("share") is None:
            out.append(("inconclusive", f"{run.label}, proxy-tuned onto {onto}: share undefined "
                                        f"({head.get('why_no_share', 'no share recorded')})"))
        else:
            out.append(("observed", f"{run.label}: proxy-tuning {onto} with the run's change reaches "
                                    f"{_share(head)} of RL's gain"))
    return out
