"""The claims atlas page: each study's numbers gathered from its analysis JSONs, decided by the pure
verdicts of ``rl_lab.analysis.claims``, drawn, and rendered with ``templates/atlas.html.j2``.

Writes ``<root>/atlas.html`` (self-contained) and ``<root>/atlas.json`` (every verdict and number).
A study that has not run (or not finished) gets a "not run" section naming the command; nothing is
filled in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_lab.analysis.claims import (
    Claim,
    CollapseRun,
    ExposurePoint,
    PrecisionArm,
    crossover_claim,
    drift_claim,
    easy_to_hard_claim,
    exposure_claim,
    format_collapse_claim,
    hard_only_claims,
    precision_claim,
)
from rl_lab.analysis.intervals import Estimate, paired_difference, seeds_bootstrap
from rl_lab.core.io import atomic_write_json, atomic_write_text, read_json, read_jsonl
from rl_lab.report.view import data_uri

# What each paper reports, beside which we print ours (only figures the papers state).
LITERATURE = {
    "precision": "Miahi & Belilovsky 2026 (arXiv 2602.03839) and Zhu et al. 2025 (arXiv 2511.08567): the 5–30% "
                 "update sparsity reported for RL checkpoints is largely bf16 rounding (an Adam step below about "
                 "|w|·2⁻⁹ vanishes in bf16 storage). The sparsity paper's seed overlap: 60.5% observed vs 36.7% chance.",
    "format_collapse": "Echo Chamber (arXiv 2504.07912): RL drives the model to one of the formats its pretraining "
                       "mixed; a KL penalty keeps minority formats; which format wins depended on model scale.",
    "exposure": "CMU 2025 (arXiv 2512.07783): RL helps only where pretraining left headroom and the task sits at "
                "the edge of competence — it amplifies what pretraining put there rather than creating it; "
                "about 1% exposure in pretraining was enough for RL to build on (compare the exposures at which "
                "our RL raised pass@1).",
    "hard_only_causes": "rl_lab's quickstart (2 seeds): hard-only RL lost −12.5 and −34.4 pp of prior-skill "
                        "accuracy, matched RL +1.6 and −4.7 pp. The suspected causes are the arms of this study.",
    "easy_to_hard": "Easy-to-hard generalisation (e.g. Sun et al. 2024, arXiv 2403.09472): training on easy "
                    "problems improves accuracy on harder, unseen ones.",
    "passk_drift": "Yue et al. 2025 (arXiv 2504.13837): the base model overtakes the RL model at large k (pass@k "
                   "crossover). RL's Razor (Shenfeld et al. 2025, arXiv 2509.04259): forward KL on the new task "
                   "predicts forgetting, weight-change measures do not.",
}


@dataclass
class ClaimView:
    title: str
    claim: Claim


@dataclass
class StudyView:
    key: str
    title: str
    literature: str
    claims: list[ClaimView] = field(default_factory=list)
    figure: str | None = None  # data URI
    commands: list[str] = field(default_factory=list)
    wall: str = ""
    missing: str = ""
    notes: list[str] = field(default_factory=list)


# =========================================================================== reading a study
def _summary(root: Path, study: str) -> dict[str, Any] | None:
    path = root / study / "sweep" / "sweep_summary.json"
    if not path.is_file():
        return None
    summary = read_json(path)
    return summary if summary.get("trials") and all(t["status"] == "done" for t in summary["trials"]) else None


def _analysis(run_dir: str, name: str) -> dict[str, Any] | None:
    path = Path(run_dir) / "analysis" / f"{name}.json"
    return read_json(path) if path.is_file() else None


def _prior_correct(payload: dict[str, Any], step: str, family: str | None = None) -> list[float]:
    """Per-problem correctness on the run's prior-skill probes at ``step``: every probe cell the
    contamination analysis drew (prior-skill families, and trained levels the curriculum never drew, as
    rl-lab analyze contamination defines them), or only ``family``'s."""
    cells = payload["probe_cells"]
    return [float(v) for c, v in zip(cells, payload["probe_correct"][step], strict=True)
            if family is None or c.split("/")[0] == family]


def _pass_at(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _passk_models(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    models = payload["models"]
    base = models[payload["base"]]
    return base, {k: v for k, v in models.items() if k != payload["base"]}


def _per_problem(model: dict[str, Any], level: int | None, k: int, family: str = "addition") -> list[float]:
    return [_pass_at(p["n"], p["c"], k) for p in model["per_problem"]
            if p["family"] == family and (level is None or p["difficulty"] == level)]


# =========================================================================== the studies
def precision_view(root: Path, summary: dict[str, Any], sparse_share: float) -> tuple[list[ClaimView], Any]:
    from safetensors import safe_open

    from rl_lab.analysis.precision import predicted_shares

    arms: list[PrecisionArm] = []
    base_path = Path(summary["trials"][0]["base"]["model"])
    with safe_open(str(base_path / "model.safetensors"), framework="pt") as f:
        tensors = [f.get_tensor(k) for k in f.keys()]
    groups: dict[tuple[str, float], list[str]] = {}
    for t in summary["trials"]:
        p = t["config_point"]
        groups.setdefault((p["model.dtype"], float(p["train.learning_rate"])), []).append(t["name"])
    lrs = sorted({lr for _, lr in groups})
    predicted = dict(zip(lrs, predicted_shares(tensors, lrs)["share"], strict=True))
    for (dtype, lr), _names in sorted(groups.items()):
        label = f"model.dtype-{dtype}_train.learning_rate-{_num(lr)}"
        upd = read_json(root / "precision" / "sweep" / "analysis" / "updates" / f"{label}.json")
        changed = [m["share"]["exact"] for m in upd["tuned"]]
        cast = [m["share"]["bf16"] for m in upd["tuned"]]
        crit = "exact"
        overlap = [(p["criteria"][crit]["o1"], p["criteria"][crit]["o1_chance"]) for p in upd["pairs"]]
        arms.append(PrecisionArm(dtype, lr, changed, cast, predicted[lr], overlap))
    claim = precision_claim(arms, sparse_share)
    return [ClaimView("Update sparsity is bf16 rounding", claim)], _plot_precision(arms)


def _num(value: float) -> str:
    import json

    return json.dumps(value)


def hard_only_view(summary: dict[str, Any], margin: float) -> tuple[list[ClaimView], Any, list[str]]:
    arms: dict[str, list[tuple[list[float], list[float]]]] = {}
    one_success: dict[str, list[list[float]]] = {}
    kl: dict[str, list[float]] = {}
    shared: dict[str, list[tuple[list[float], list[float]]]] = {}  # the prior family every arm shares
    for t in summary["trials"]:
        arm = t["config_point"].get("arm", "all")
        cont = _analysis(t["run_dir"], "contamination")
        last = str(cont["final_step"])
        arms.setdefault(arm, []).append((_prior_correct(cont, "0"), _prior_correct(cont, last)))
        shared.setdefault(arm, []).append((_prior_correct(cont, "0", "comparison"),
                                           _prior_correct(cont, last, "comparison")))
        rows = read_jsonl(Path(t["run_dir"]) / "metrics.jsonl")
        one_success.setdefault(arm, []).append([r["groups/one_success_update_share"] for r in rows
                                                if isinstance(r.get("groups/one_success_update_share"), int | float)])
        drift = _analysis(t["run_dir"], "drift")
        kl.setdefault(arm, []).append(drift["final"]["forward_kl_base_tuned_on_base_samples"]["per_token"])
    change = {arm: paired_difference([b for b, _ in v], [a for _, a in v], crossed=True) for arm, v in arms.items()}
    claim, per_arm = hard_only_claims(change, margin)
    extra = []
    for arm, v in shared.items():
        if all(b for b, _ in v):
            extra.append((f"{arm}: comparison-only change (the prior family every arm shares)",
                          claim_numbers(paired_difference([b for b, _ in v], [a for _, a in v], crossed=True))))
    for arm in change:
        os_est = seeds_bootstrap([v for v in one_success[arm] if v]) if any(one_success[arm]) else None
        extra.append((f"{arm}: share of the update from one-success groups (mean over steps)",
                      f"{os_est.value:.2f} [{os_est.low:.2f}, {os_est.high:.2f}] ({os_est.seeds} seeds)" if os_est else "–"))
        extra.append((f"{arm}: forward KL per token at the end", f"{sum(kl[arm]) / len(kl[arm]):.3f} (mean of "
                      f"{len(kl[arm])} seeds: {', '.join(f'{x:.3f}' for x in kl[arm])})"))
    claim = Claim(claim.verdict, claim.summary, claim.numbers + extra)
    views = [ClaimView("Hard-only RL damages prior skills (matched RL beside it)", claim)]
    for arm, v in per_arm.items():
        if arm not in ("hard_only", "matched"):
            words = {"did not appear": "this arm lost no prior-skill accuracy: removing its cause removed the loss",
                     "appeared": "this arm lost prior-skill accuracy too: its cause is not the one",
                     "inconclusive": "the interval straddles the margin"}
            views.append(ClaimView(f"{arm}: does the prior-skill loss remain?",
                                   Claim(v, words[v], [(arm, claim_numbers(change[arm]))], from_paper=False)))
    ref_kl = sum(kl.get("hard_only", [0.0])) / max(1, len(kl.get("hard_only", [])))
    notes = [f"{arm} lost no prior skill, but it also drifted {ref_kl / (sum(kl[arm]) / len(kl[arm])):.0f}x less than "
             f"hard_only (forward KL {sum(kl[arm]) / len(kl[arm]):.3f} vs {ref_kl:.3f}): this arm does not separate its "
             "cause from moving less." for arm, v in per_arm.items()
             if arm not in ("hard_only", "matched") and v == "did not appear" and kl.get(arm) and sum(kl[arm]) > 0]
    return views, _plot_bars(change, "prior-skill accuracy change (pp)", "arm"), notes


def claim_numbers(est: Estimate) -> str:
    from rl_lab.analysis.intervals import describe

    return describe(est, scale=100, unit=" pp", digits=1, signed=True, of="problems")


def easy_to_hard_view(root: Path, margin: float) -> tuple[list[ClaimView], Any]:
    change: dict[int, Estimate] = {}
    for passk in sorted((root / "easy_to_hard" / "sweep" / "by_base").glob("*/analysis/passk.json")):
        payload = read_json(passk)
        base, tuned = _passk_models(payload)
        for level in (3, 4):
            before = _per_problem(base, level, 1)
            change[level] = paired_difference([before] * len(tuned), [_per_problem(m, level, 1) for m in tuned.values()],
                                              crossed=True)
    claim = easy_to_hard_claim(change, margin)
    return [ClaimView("RL on levels 1–2 raises accuracy on held-out levels 3–4", claim)], _plot_bars(
        {f"level {lv}": e for lv, e in change.items()}, "pass@1 change (pp)", "held-out level")


def exposure_view(root: Path, summary: dict[str, Any], margin: float, k: int, level: int,
                  ) -> tuple[list[ClaimView], Any]:
    """RL gain per exposure on ``level`` (the one level the study trains, whose pretraining share it varies)."""
    points = []
    for passk in sorted((root / "exposure" / "sweep" / "by_base").glob("*/analysis/passk.json")):
        payload = read_json(passk)
        base, tuned = _passk_models(payload)
        variant = Path(passk).parents[1].name
        weights = next(b["point"]["pretrain.difficulty_weights"] for b in summary["bases"] if b["name"] == variant)
        w = {int(a): float(b) for a, b in weights.items()}
        exposure = w.get(level, 0.0) / sum(w.values())
        n = len(tuned)
        b1, bk = _per_problem(base, level, 1), _per_problem(base, level, k)
        points.append(ExposurePoint(
            exposure, seeds_bootstrap([b1]), seeds_bootstrap([bk]),
            paired_difference([b1] * n, [_per_problem(m, level, 1) for m in tuned.values()], crossed=True),
            paired_difference([bk] * n, [_per_problem(m, level, k) for m in tuned.values()], crossed=True), k))
    claim = exposure_claim(points, margin)
    return [ClaimView(f"RL amplifies a skill pretraining showed; it does not create one (level {level})", claim)], \
        _plot_exposure(points, level)


def collapse_view(summary: dict[str, Any], steps: int) -> tuple[list[ClaimView], Any]:
    runs = []
    for t in summary["trials"]:
        p = t["config_point"]
        fm = _analysis(t["run_dir"], "formats")
        counts = fm["final_counts"]
        top = max(counts, key=counts.get) if counts else None
        flags = [0.0] * counts.get(top, 0) + [1.0] * (sum(counts.values()) - counts.get(top, 0))
        size, beta = p.get("model.preset", "tiny"), float(p.get("train.beta", 0.0))
        runs.append(CollapseRun(f"{size}, beta {beta:g}", size, beta, int(p.get("seed", 0)), bool(fm["collapsed"]),
                                fm["collapse_step"], fm["winner"], top, flags))
    collapse, kl, scale = format_collapse_claim(runs, steps)
    return [ClaimView("Without KL, one format takes over (> 90% of rollouts, and stays)", collapse),
            ClaimView("A KL anchor keeps minority formats", kl),
            ClaimView("Which format wins depends on model scale", scale)], _plot_collapse(runs)


def across_view(root: Path, studies: Sequence[str]) -> tuple[list[ClaimView], Any]:
    kl, weight, prior, statuses = [], [], [], []
    for study in studies:
        summary = _summary(root, study)
        if summary is None:
            continue
        l2 = _update_l2(root / study / "sweep" / "analysis" / "updates")
        for t in summary["trials"]:
            drift, cont = _analysis(t["run_dir"], "drift"), _analysis(t["run_dir"], "contamination")
            final = str(Path(t["run_dir"]) / "checkpoints")
            key = next((k for k in l2 if k.startswith(final)), None)
            if drift and cont and key:
                kl.append(drift["final"]["forward_kl_base_tuned_on_base_samples"]["per_token"])
                prior.append(cont["prior_skill_accuracy_change_interval"]["value"])
                weight.append(l2[key])
        for passk in (root / study / "sweep" / "by_base").glob("*/analysis/passk.json"):
            statuses += [c["overall"]["status"] for c in read_json(passk).get("crossover", {}).values()]
    views = []
    if len(kl) >= 3:
        views.append(ClaimView("Forward KL predicts forgetting; weight change does not", drift_claim(kl, weight, prior)))
    views.append(ClaimView("The base catches up with the tuned model at large k (pass@k crossover)",
                           crossover_claim(statuses)))
    return views, _plot_scatter(kl, weight, prior) if len(kl) >= 3 else None


def _update_l2(folder: Path) -> dict[str, float]:
    """Tuned checkpoint path -> L2 norm of its whole update (from the updates analyses' per-tensor norms)."""
    out: dict[str, float] = {}
    for path in folder.glob("*.json"):
        upd = read_json(path)
        labels = {m["label"]: m["path"] for m in upd["tuned"]}
        sq: dict[str, float] = {}
        for tensor in upd["tensors"]:
            for label, row in (tensor.get("tuned") or {}).items():
                sq[label] = sq.get(label, 0.0) + float(row.get("delta_l2") or 0.0) ** 2
        for label, total in sq.items():
            out[labels[label]] = math.sqrt(total)
    return out


# =========================================================================== plots
def _plt():
    from rl_lab.analysis.figures import pyplot

    return pyplot()


def _plot_precision(arms: Sequence[PrecisionArm]):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    for dtype, attr, label, color in (("float32", "changed", "fp32 weights", "#3b6ea5"),
                                      ("float32", "cast_changed", "fp32 read in bf16", "#2e9b6c"),
                                      ("bfloat16", "changed", "bf16 weights", "#d1495b")):
        pts = sorted((a.learning_rate, getattr(a, attr)) for a in arms if a.dtype == dtype)
        for lr, vals in pts:
            ax.scatter([lr] * len(vals), vals, color=color, s=12, alpha=0.7)
        ax.plot([p[0] for p in pts], [sum(v) / len(v) for _, v in pts], color=color, label=label)
    pred = sorted({(a.learning_rate, a.predicted) for a in arms})
    ax.plot([p[0] for p in pred], [p[1] for p in pred], "k--", label="predicted changeable in bf16")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("share of parameters changed")
    ax.legend(fontsize=7)
    return data_uri(fig)


def _plot_bars(values: dict[str, Estimate], ylabel: str, xlabel: str):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.2))
    names = list(values)
    mid = [values[n].value * 100 for n in names]
    err = [[(values[n].value - values[n].low) * 100 for n in names], [(values[n].high - values[n].value) * 100 for n in names]]
    ax.bar(range(len(names)), mid, yerr=err, color="#3b6ea5", capsize=3)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return data_uri(fig)


def _plot_exposure(points: Sequence[ExposurePoint], level: int):
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.0))
    pts = sorted(points, key=lambda p: p.exposure)
    xs = range(len(pts))
    for ax, which, label in ((axes[0], "1", "pass@1"), (axes[1], "k", f"pass@{pts[0].k if pts else 'k'}")):
        base = [(p.base_pass1 if which == "1" else p.base_passk).value for p in pts]
        gain = [(p.gain_pass1 if which == "1" else p.gain_passk) for p in pts]
        ax.plot(xs, base, "o-", color="#7f7f7f", label="base")
        ax.errorbar(xs, [b + g.value for b, g in zip(base, gain, strict=True)],
                    yerr=[[g.value - g.low for g in gain], [g.high - g.value for g in gain]], fmt="o-", color="#d1495b",
                    capsize=3, label="after RL (mean of seeds)")
        ax.set_xticks(list(xs), [f"{p.exposure:.1%}" for p in pts])
        ax.set_xlabel(f"level-{level} share of addition pretraining")
        ax.set_ylabel(f"{label} on level {level}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return data_uri(fig)


def _plot_collapse(runs: Sequence[CollapseRun]):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.2))
    conds = sorted({r.condition for r in runs})
    for i, cond in enumerate(conds):
        rs = [r for r in runs if r.condition == cond]
        tops = [1 - sum(r.minority) / len(r.minority) if r.minority else float("nan") for r in rs]
        ax.scatter([i] * len(tops), tops, color=["#d1495b" if r.collapsed else "#3b6ea5" for r in rs])
    ax.axhline(0.9, color="k", ls="--", lw=0.8)
    ax.set_xticks(range(len(conds)), conds, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("top format's share, final window")
    fig.tight_layout()
    return data_uri(fig)


def _plot_scatter(kl: Sequence[float], weight: Sequence[float], prior: Sequence[float]):
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.0), sharey=True)
    axes[0].scatter(kl, [p * 100 for p in prior], s=12, color="#3b6ea5")
    axes[0].set_xlabel("forward KL per token (trained-task prompts)")
    axes[0].set_ylabel("prior-skill change (pp)")
    axes[1].scatter(weight, [p * 100 for p in prior], s=12, color="#d1495b")
    axes[1].set_xlabel("L2 norm of the weight update")
    fig.tight_layout()
    return data_uri(fig)


# =========================================================================== the page
def build_atlas(root: Path, studies: Sequence[str], titles: dict[str, str]) -> Path:
    from rl_lab.config import load_config
    from rl_lab.report.page import CSP, environment

    root = Path(root)
    timings = read_json(root / "timings.json") if (root / "timings.json").is_file() else {}
    views: list[StudyView] = []
    for study in studies:
        view = StudyView(study, titles.get(study, study), LITERATURE.get(study, ""))
        t = timings.get(study, {})
        view.commands = t.get("commands") or [f"rl-lab sweep configs/studies/{study}.yaml"]
        if t:
            view.wall = f"sweep {t.get('sweep_s', 0) / 60:.1f} min, analyses {t.get('analysis_s', 0) / 60:.1f} min"
        summary = _summary(root, study)
        if summary is None:
            view.missing = f"not run (or not finished): rl-lab atlas --only {study}"
            views.append(view)
            continue
        cfg = load_config(Path(summary["sweep_dir"]) / "sweep_config.yaml")
        rep = cfg.report
        try:
            if study == "precision":
                view.claims, view.figure = precision_view(root, summary, rep.sparse_share)
            elif study == "hard_only_causes":
                view.claims, view.figure, view.notes = hard_only_view(summary, rep.prior_margin)
            elif study == "easy_to_hard":
                view.claims, view.figure = easy_to_hard_view(root, rep.passk_margin)
            elif study == "exposure":
                view.claims, view.figure = exposure_view(root, summary, rep.passk_margin, _max_k(root / study),
                                                         (cfg.curriculum.levels or [4])[0])
            elif study == "format_collapse":
                view.claims, view.figure = collapse_view(summary, cfg.train.steps)
        except (FileNotFoundError, KeyError) as exc:
            view.missing = f"analyses incomplete ({type(exc).__name__}: {exc}); rerun rl-lab atlas --only {study}"
        views.append(view)
    across = StudyView("passk_drift", "pass@k and drift across every atlas run", LITERATURE["passk_drift"])
    across.claims, across.figure = across_view(root, studies)
    views.append(across)
    counts = {v: sum(1 for s in views for c in s.claims if c.claim.verdict == v)
              for v in ("appeared", "did not appear", "inconclusive")}
    html = environment().get_template("atlas.html.j2").render(
        title="rl_lab claims atlas", csp=CSP, studies=views, counts=counts, css=_css(),
        total_wall=sum((t.get("sweep_s", 0) + t.get("analysis_s", 0)) for t in timings.values()) / 60)
    out = root / "atlas.html"
    atomic_write_text(out, html)
    atomic_write_json(root / "atlas.json", {"studies": [{
        "study": s.key, "title": s.title, "missing": s.missing or None, "wall": s.wall, "commands": s.commands,
        "literature": s.literature, "claims": [{"claim": c.title, "verdict": c.claim.verdict, "agrees": c.claim.agrees,
                                                "from_paper": c.claim.from_paper,
                                                "summary": c.claim.summary, "numbers": c.claim.numbers}
                                               for c in s.claims]} for s in views], "timings": timings})
    return out


def _max_k(study_dir: Path) -> int:
    for passk in (study_dir / "sweep" / "by_base").glob("*/analysis/passk.json"):
        return max(int(k) for k in read_json(passk)["inputs"]["ks"])
    return 1


def _css() -> str:
    from importlib.resources import files

    return files("rl_lab.report").joinpath("templates/report.css").read_text()
