"""Runner of the proxy-tuning analysis (``rl-lab analyze proxy RUN_OR_SWEEP``).

Proxy-tuning (``rl_lab.core.proxy``) moves another, untouched base by the run's *change*: at every
decoding step its logits plus α (tuned − untuned), with tuned = the run's last checkpoint and
untuned = the run's own base (checkpoints/step_0). The other base is ``--onto`` (a checkpoint, or a
run dir's step_0: a different seed's base, or a larger preset sharing the tokenizer); for a sweep
without ``--onto``, each trial is proxied onto the next trial's base that has a different seed and
different weights (a sweep whose trials share one pretrained base needs ``--onto``).

The same problems as ``rl-lab analyze forcing`` (``forcing_run.problems_for``) are answered by four
policies: the run's base, the run's RL-tuned checkpoint, the other base, and the other base
proxy-tuned. The headline is the share of RL's gain (run base → tuned) that proxy-tuning reaches on
the other base (other → proxied), with a paired bootstrap over problems
(``analysis.forcing.share_of_gain``). Writes ``<run>/analysis/proxy.json`` and ``plots/proxy.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_lab.analysis import forcing, plots_behaviour
from rl_lab.analysis.figures import save_figure
from rl_lab.analysis.forcing_run import answers, problems_for
from rl_lab.analysis.runs import AnalysisOutput, checkpoints_with_base, each_run, stamp
from rl_lab.analysis.settings import ForcingSettings
from rl_lab.core import rundir
from rl_lab.core.errors import RunDirError
from rl_lab.core.rundir import Resolved, RunDir
from rl_lab.environments.scoring import solved

BASE, TUNED, ONTO, PROXY = "base", "RL-tuned", "other base", "other base proxy-tuned"


@dataclass(frozen=True)
class ProxySettings:
    onto: Path | None  # a checkpoint dir or a run dir (its step_0); None: a sweep's next trial's base
    alpha: float
    problems: ForcingSettings


def onto_checkpoint(path: Path) -> Path:
    """A run dir given as --onto stands for its base (checkpoints/step_0); a checkpoint stands for itself."""
    run = RunDir(path)
    if not (path / "config.json").is_file() and run.checkpoints():
        return checkpoints_with_base(run, "proxy-tune onto")[0]
    return path


def same_weights(a: Path, b: Path) -> bool:
    """Two checkpoints hold byte-identical weight files (sizes first, then SHA-256)."""
    import hashlib

    files_a, files_b = sorted(a.glob("*.safetensors")), sorted(b.glob("*.safetensors"))
    if [f.name for f in files_a] != [f.name for f in files_b] or \
            [f.stat().st_size for f in files_a] != [f.stat().st_size for f in files_b]:
        return False

    def digest(files: list[Path]) -> list[str]:
        out = []
        for f in files:
            h = hashlib.sha256()
            with f.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    h.update(block)
            out.append(h.hexdigest())
        return out

    return digest(files_a) == digest(files_b)


def default_onto(run: RunDir, resolved: Resolved) -> Path:
    """The base of the next trial (cyclically) with a different seed and different base weights.
    Trials that all start from one pretrained base (the quickstart's sweep) have none: proxy-tuning
    onto the run's own base just reproduces the tuned model."""
    runs = resolved.runs
    start = next(i for i, r in enumerate(runs) if r.path == run.path)
    own = run.checkpoint_dir(0)
    for other in runs[start + 1:] + runs[:start]:
        if other.seed() != run.seed() and 0 in other.checkpoints() and not same_weights(own, other.checkpoint_dir(0)):
            return other.checkpoint_dir(0)
    raise RunDirError(f"run {str(run.path)!r}: no other trial has a different base to proxy-tune onto (the trials "
                      "start from the same weights, or from none); pass --onto CHECKPOINT: another base sharing the "
                      "tokenizer, e.g. one pretrained with another seed or a larger model.preset")


def proxy_for_run(run: RunDir, onto: Path, s: ProxySettings) -> dict[str, Any]:
    from rl_lab.core.model_spec import parse_model_spec
    from rl_lab.core.sampler import load_sampler

    cfg = run.config
    ckpts = checkpoints_with_base(run, "proxy-tune with")
    last = max(ckpts)
    if last == 0:
        raise RunDirError(f"run {str(run.path)!r} has no trained checkpoint beside step_0: nothing to proxy-tune with")
    onto = onto_checkpoint(onto)
    # validated completely (checkpoints, shared tokenizer) before anything is sampled
    spec = parse_model_spec(f"proxy:base={onto},tuned={ckpts[last]},untuned={ckpts[0]},alpha={s.alpha:g}")
    parse_model_spec(onto)
    problems = problems_for(cfg, s.problems)
    rows = {}
    for label, model in ((BASE, ckpts[0]), (TUNED, ckpts[last]), (ONTO, onto), (PROXY, spec)):
        rows[label] = answers(cfg, load_sampler(model, cfg.model.dtype), problems, s.problems)
    correct = {policy: [1.0 if solved(r["reward"]) else 0.0 for r in rs] for policy, rs in rows.items()}
    cells = [f"{r['family']}/{r['difficulty']}" for r in rows[BASE]]
    by_cell = {cell: {policy: forcing.accuracy([c[i] for i in range(len(cells)) if cells[i] == cell]).to_dict()
                      for policy, c in correct.items()} for cell in dict.fromkeys(cells)}
    headline = forcing.share_of_gain(correct[BASE], correct[TUNED], correct[ONTO], correct[PROXY],
                                     seed=s.problems.seed, what="proxy-tuning")
    payload = {
        "analysis": "proxy", **stamp(),
        "inputs": {"run_dir": str(run.path), "base": str(ckpts[0]), "tuned": str(ckpts[last]), "tuned_step": last,
                   "onto": str(onto), "alpha": s.alpha, "spec": str(spec), "config_point": run.config_point,
                   "seed": run.seed(), "problems": len(cells), "problems_per_level": s.problems.problems_per_level,
                   "problem_seed": s.problems.seed, "max_new_tokens": s.problems.max_new_tokens,
                   "decoding": "greedy" if s.problems.temperature == 0 else
                   f"temperature {s.problems.temperature}, top_p {s.problems.top_p}"},
        "policies": list(rows),
        "accuracy": {policy: forcing.accuracy(c).to_dict() for policy, c in correct.items()},
        "by_cell": by_cell,
        "share_of_rl_gain": headline,
        "share_note": "(other base proxy-tuned - other base) / (RL-tuned - base), all on the same problems",
        "examples": {policy: [rs[i]["completion"] for i in range(min(3, len(rs)))] for policy, rs in rows.items()},
    }
    run.write_analysis("proxy", payload)
    save_figure(plots_behaviour.plot_forcing(by_cell, list(rows), title=f"{run.name}: proxy-tuning onto {onto.name}"),
                run.plots_dir() / "proxy.png")
    return payload


def analyze_proxy(resolved: Resolved, settings_for) -> AnalysisOutput:
    """``settings_for(cfg)``: each run's ``ProxySettings``."""
    def one(run: RunDir) -> dict[str, Any]:
        s = settings_for(run.config)
        if s.onto is None and resolved.kind == "run":
            raise RunDirError("--onto is required for a lone run: another base checkpoint (or run dir) sharing the "
                              "run's tokenizer, e.g. a different seed's runs/<name>/checkpoints/step_0")
        return proxy_for_run(run, s.onto if s.onto is not None else default_onto(run, resolved), s)

    per_run, skipped = each_run(resolved, one, f"no run under {str(resolved.root)!r} could be proxy-tuned")
    out = AnalysisOutput("proxy", resolved, per_run, skipped=skipped)
    if resolved.kind == "sweep":
        out.sweep = {"analysis": "proxy", **stamp(), "inputs": resolved.describe(),
                     "runs": {str(r.path): {"group": rundir.group_label(r), "seed": r.seed(), "onto": p["inputs"]["onto"],
                                            "share_of_rl_gain": p["share_of_rl_gain"], "accuracy": p["accuracy"]}
                              for r, p in per_run}}
        rundir.write_analysis(resolved.root, "proxy", out.sweep)
    return out
