"""CLI glue for the behaviour analyses (routed by rl_lab/cli.py):

  rl-lab analyze formats RUN_OR_SWEEP [--threshold 0.9]
  rl-lab analyze contamination RUN_OR_SWEEP
  rl-lab analyze drift RUN_OR_SWEEP
  rl-lab eval passk --model A --model B ... --config CFG [--n N] [--k 1,2,4] [--out DIR]

Each command writes ``<root>/analysis/<name>.json`` (root: the run dir, or the sweep dir for a
sweep, whose trials also get their own) recording every input it read, and PNGs in
``<root>/plots/``.  The metrics are pure functions in the sibling modules; this file only
reads run dirs, runs models and writes files.  Heavy imports happen inside functions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rl_lab.core import rundir, seeds
from rl_lab.core.errors import RunDirError
from rl_lab.core.rundir import Resolved, RunDir
from rl_lab.environments.scoring import solved


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _resolve(path: str) -> Resolved:
    return rundir.resolve(path)


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's); on a machine shared with other jobs "
                             "--threads 1 is often much faster for tiny models")


def _set_threads(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(max(1, int(args.threads)))


def _stamp() -> dict[str, Any]:
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# =========================================================================== formats
def add_arguments_formats(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="RUN_OR_SWEEP", help="a run dir (rollouts/) or a sweep dir (sweep_summary.json)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="collapse threshold on one format's share (default: analysis.collapse_threshold, 0.9)")


def run_formats(args: argparse.Namespace) -> int:
    from rl_lab.analysis import format_collapse, plots_behaviour

    try:
        resolved = _resolve(args.path)
    except RunDirError as exc:
        return _fail(str(exc))
    threshold = args.threshold
    if threshold is None:
        threshold = resolved.runs[0].lookup("analysis.collapse_threshold") or 0.9
    if not 0 < threshold <= 1:
        return _fail(f"--threshold {threshold}: must lie in (0, 1]")

    per_run = []
    for run in resolved.runs:
        files = run.rollout_files()
        if not files:
            if resolved.kind == "run":
                return _fail(f"run dir {str(run.path)!r} has no rollouts/step_<N>.jsonl (train.rollouts_per_step > 0 writes them)")
            print(f"warning: {run.path} has no rollouts; skipped", file=sys.stderr)
            continue
        summary = format_collapse.summarise_run(run.read_rollouts(), threshold)
        inputs = {"run_dir": str(run.path), "rollout_files": [str(p) for p in files.values()],
                  "steps": list(files), "config_point": run.config_point, "seed": run.seed()}
        payload = {"analysis": "formats", **_stamp(), "threshold": threshold, "inputs": inputs, **summary}
        run.write_analysis("formats", payload)
        plots_behaviour.plot_format_run(summary, run.plots_dir(), title=run.name)
        per_run.append((run, summary))
        where = f"at step {summary['collapse_step']} ({summary['winner']})" if summary["collapsed"] else "none"
        final = summary["final_shares"] or {}
        print(f"{run.name}: collapse {where}; final shares " + ", ".join(f"{f} {v:.2f}" for f, v in final.items()))
    if not per_run:
        return _fail(f"no run under {args.path!r} has rollouts")

    if resolved.kind == "sweep":
        groups: dict[str, list[tuple[RunDir, dict]]] = {}
        for run, summary in per_run:
            groups.setdefault(rundir.group_key(run.config_point), []).append((run, summary))
        aggregated = {
            name: {"run_dirs": [str(r.path) for r, _ in items],
                   **format_collapse.aggregate_runs([s for _, s in items], [r.seed() for r, _ in items])}
            for name, items in groups.items()
        }
        payload = {
            "analysis": "formats", **_stamp(), "threshold": threshold, "inputs": resolved.describe(),
            "runs": {str(r.path): {k: s[k] for k in ("collapsed", "collapse_step", "winner", "final_shares")}
                     for r, s in per_run},
            "groups": aggregated,
        }
        rundir.write_analysis(resolved.root, "formats", payload)
        plots_behaviour.plot_format_seeds(aggregated, rundir.plots_dir(resolved.root))
        for name, agg in aggregated.items():
            cs = agg["collapse_step"]
            print(f"[{name}] {agg['collapsed_runs']}/{agg['runs']} runs collapsed; collapse step mean "
                  f"{cs['mean']} (min {cs['min']}, max {cs['max']}); winners {agg['winner_counts']}")
    print(f"wrote {resolved.root / 'analysis' / 'formats.json'}")
    return 0


# =========================================================================== pass@k


def add_arguments_passk(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", action="append", required=True,
                        help="HF checkpoint dir, or a run dir (then its first and last checkpoint), optionally as "
                             "LABEL=PATH to name its curve; repeat; the first model is the base the others "
                             "are compared with")
    parser.add_argument("--config", required=True, help="experiment YAML: families, levels, analysis.passk_*")
    parser.add_argument("--n", type=int, default=None, help="samples per problem (default: analysis.passk_n)")
    parser.add_argument("--k", default=None, help="comma-separated k values (default: powers of 2 up to n)")
    parser.add_argument("--problems-per-level", type=int, default=None,
                        help="problems per family x level (default: analysis.passk_problems_per_level)")
    parser.add_argument("--families", nargs="+", default=None, help="only these families of the config")
    parser.add_argument("--out", default=None,
                        help="output root (analysis/passk.json, plots/); default: the run dir of a run-dir "
                             "--model, else <output_dir>/passk")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="sequences per generate call on the transformers path (default: max(eval.batch_size, 512))")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: train.max_completion_length")
    _add_threads(parser)


def expand_models(paths: list[str]) -> list[tuple[str, Path]]:
    """``(label, checkpoint dir)``: a run dir contributes its first and last checkpoint."""
    out = []
    for raw in paths:
        label, sep, rest = raw.partition("=")
        if sep and label and not Path(raw).exists():  # LABEL=PATH names the curve
            out.append((label, Path(rest)))
            continue
        path = Path(raw)
        ckpts = RunDir(path).checkpoints() if path.is_dir() else {}
        if ckpts and not (path / "config.json").is_file():
            first, last = min(ckpts), max(ckpts)
            out.append((f"{path.name}:step_{first}", ckpts[first]))
            if last != first:
                out.append((f"{path.name}:step_{last}", ckpts[last]))
        elif path.parent.name == "checkpoints" and path.name.startswith("step_"):
            out.append((f"{path.parent.parent.name}:{path.name}", path))  # a run dir's checkpoint
        else:
            out.append((path.name or raw, path))
    labels = [label for label, _ in out]
    for i, label in enumerate(labels):  # disambiguate same-named dirs
        if labels.count(label) > 1:
            out[i] = (f"{label}#{i}", out[i][1])
    return out


def sample_for_passk(model_dir: Path, prompts: list[str], n: int, temperature: float, top_p: float,
                     max_new_tokens: int, batch_size: int, seed: int, backend: str) -> list[list[str]]:
    """n completions per prompt: vLLM when the config asks for it and a GPU exists, else transformers."""
    import torch

    if backend == "vllm":
        if torch.cuda.is_available():
            return _sample_vllm(model_dir, prompts, n, temperature, top_p, max_new_tokens, seed)
        print("note: rollout.backend is vllm but no GPU is visible; sampling with transformers", file=sys.stderr)
    from rl_lab.core.generation import sample_completions
    from rl_lab.core.models import load_model_and_tokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tokenizer = load_model_and_tokenizer(model_dir, device=device)
    return sample_completions(model, tokenizer, prompts, n=n, temperature=temperature, top_p=top_p,
                              max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, progress=True)


def _sample_vllm(model_dir: Path, prompts: list[str], n: int, temperature: float, top_p: float,
                 max_new_tokens: int, seed: int) -> list[list[str]]:
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise RuntimeError(
            "rollout.backend is 'vllm' but vllm is not installed: pip install 'rl-lab[vllm]', "
            "or pass rollout.backend=transformers in the config"
        ) from None
    import gc

    llm = LLM(model=str(model_dir), seed=seed, dtype="auto")
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=seed)
    outputs = llm.generate(prompts, params)
    texts = [[o.text for o in out.outputs] for out in outputs]
    del llm
    gc.collect()
    return texts


def run_passk(args: argparse.Namespace) -> int:
    from rl_lab.analysis import passk, plots_behaviour
    from rl_lab.config import load_config
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.environments.problem_sets import build_problem_set, verify_completion

    cfg = load_config(args.config)
    _set_threads(args)
    n = args.n or cfg.analysis.passk_n
    if n < 1:
        return _fail(f"--n {n}: must be >= 1")
    try:
        ks = passk.parse_ks(args.k, n)
    except ValueError as exc:
        return _fail(str(exc))
    models = expand_models(args.model)
    for _, path in models:
        validate_checkpoint(path)  # CheckpointError -> exit 1 via rl_lab.cli
    specs = cfg.environments.families
    if args.families:
        names = [s.name for s in specs]
        unknown = [f for f in args.families if f not in names]
        if unknown:
            return _fail(f"--families {unknown}: not in the config's environments.families; allowed: {names}")
        specs = [s for s in specs if s.name in args.families]
    per_level = args.problems_per_level or cfg.analysis.passk_problems_per_level
    seed = seeds.stream(seeds.PASSK, cfg.seed)
    problems = build_problem_set(specs, per_level, seed=seed)
    prompts = list(problems["prompt"])
    max_new = args.max_new_tokens or cfg.train.max_completion_length
    batch = args.batch_size or max(cfg.eval.batch_size, 512)
    temp, top_p = cfg.analysis.passk_temperature, cfg.analysis.passk_top_p

    results: dict[str, Any] = {}
    timings = {}
    for label, path in models:
        start = time.perf_counter()
        samples = sample_for_passk(path, prompts, n, temp, top_p, max_new, batch, seed, cfg.rollout.backend)
        timings[label] = time.perf_counter() - start
        records = []
        for problem, outs in zip(problems, samples, strict=True):
            c = sum(solved(verify_completion(problem, o)) for o in outs)
            records.append({"family": problem["family"], "difficulty": int(problem["difficulty"]), "n": len(outs),
                            "c": int(c), "prompt": problem["prompt"]})
        results[label] = {"checkpoint": str(path), **passk.summarise(records, ks), "per_problem": records,
                          "samples_per_second": len(prompts) * n / timings[label]}
        print(f"{label}: pass@1 {results[label]['overall']['pass_at_k']['1']:.3f}  "
              f"pass@{ks[-1]} {results[label]['overall']['pass_at_k'][str(ks[-1])]:.3f}  "
              f"coverage {results[label]['overall']['coverage']:.3f}  ({timings[label]:.1f}s)")

    def as_int_keys(curve: dict[str, float]) -> dict[int, float]:
        return {int(k): v for k, v in curve.items()}

    base_label = models[0][0]
    crossovers = {}
    for label, _ in models[1:]:
        base, tuned = results[base_label], results[label]
        crossovers[label] = {
            "overall": passk.crossover(as_int_keys(base["overall"]["pass_at_k"]), as_int_keys(tuned["overall"]["pass_at_k"])),
            "by_difficulty": {
                lv: passk.crossover(as_int_keys(base["by_difficulty"][lv]["pass_at_k"]),
                                    as_int_keys(tuned["by_difficulty"][lv]["pass_at_k"]))
                for lv in base["by_difficulty"]
            },
        }
        print(f"crossover {base_label} vs {label}: {crossovers[label]['overall']}")

    run_models = [Path(m) for m in args.model if RunDir(Path(m)).checkpoints() and not (Path(m) / "config.json").is_file()]
    out = Path(args.out) if args.out else (run_models[0] if run_models else cfg.root / "passk")
    payload = {
        "analysis": "passk", **_stamp(),
        "inputs": {"models": {label: str(path) for label, path in models}, "model_args": args.model,
                   "config": str(args.config), "n": n, "ks": ks, "problems_per_level": per_level,
                   "families": [s.name for s in specs], "problem_seed": seed, "sampling_seed": seed,
                   "temperature": temp, "top_p": top_p, "max_new_tokens": max_new,
                   "backend": cfg.rollout.backend, "problems": len(prompts)},
        "base": base_label, "models": results, "crossover": crossovers,
    }
    rundir.write_analysis(out, "passk", payload)
    plots = rundir.plots_dir(out)
    plots_behaviour.plot_passk({lb: r["overall"]["pass_at_k"] for lb, r in results.items()}, plots / "passk.png")
    levels = list(results[base_label]["by_difficulty"])
    plots_behaviour.plot_passk_panels(
        {f"level {lv}": {lb: r["by_difficulty"][lv]["pass_at_k"] for lb, r in results.items()} for lv in levels},
        plots / "passk_by_difficulty.png",
    )
    print(f"wrote {out / 'analysis' / 'passk.json'}")
    return 0


# =========================================================================== contamination
def add_arguments_contamination(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="RUN_OR_SWEEP", help="a run dir (checkpoints/step_<N>) or a sweep dir")
    parser.add_argument("--problems-per-level", type=int, default=None,
                        help="probe problems per family x level (default: analysis.probe_problems_per_level)")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="probe decoding: 0 = greedy (default, deterministic); > 0 samples with a fixed seed")
    parser.add_argument("--length-fraction", type=float, default=0.5,
                        help="length collapse: shorter than this fraction of the base's median length per level")
    parser.add_argument("--batch-size", type=int, default=None, help="default: eval.batch_size")
    _add_threads(parser)


def contamination_for_run(run: RunDir, args: argparse.Namespace) -> dict[str, Any]:
    """Probe every checkpoint of one run; write its analysis/contamination.json; return the payload."""
    from tqdm.auto import tqdm

    from rl_lab.analysis import contamination, plots_behaviour, shortcuts
    from rl_lab.environments.problem_sets import build_problem_set

    cfg = run.config
    cells = contamination.probe_cells(cfg)
    if not cells:
        raise RunDirError(
            f"run {str(run.path)!r} has no prior-skill probes: add a family with role prior_skill, or train "
            "on a subset of levels (curriculum.levels / hard_only) so some levels stay untrained"
        )
    ckpts = run.checkpoints()
    if 0 not in ckpts:
        raise RunDirError(f"run {str(run.path)!r} has no checkpoints/step_0 (the base) to compare with")
    per_level = getattr(args, "problems_per_level", None) or cfg.analysis.probe_problems_per_level
    seed = seeds.stream(seeds.PROBES, cfg.seed)
    problems = build_problem_set(contamination.probe_specs(cells), per_level, seed=seed)
    temperature = getattr(args, "temperature", 0.0) or 0.0
    fraction = getattr(args, "length_fraction", 0.5) or 0.5
    batch = getattr(args, "batch_size", None) or cfg.eval.batch_size

    tables, probe_rates, examples = {}, {}, {}
    base_medians: dict[str, float] = {}
    for step, path in tqdm(list(ckpts.items()), desc=f"probing {run.name}", unit="ckpt"):
        rows = contamination.evaluate_checkpoint(path, problems, temperature, cfg.eval.max_new_tokens, batch, seed)
        if step == 0:
            base_medians = shortcuts.median_lengths(rows, key="cell")
        tables[step] = contamination.accuracy_table(rows)
        probe_rates[str(step)] = shortcuts.rates(rows, base_medians, fraction, key="cell")
        examples[str(step)] = rows[:8]
    rollouts = run.read_rollouts()
    roll = contamination.rollout_shortcuts(rollouts, fraction)
    last = max(tables)
    change = contamination.change_vs_base(tables)
    last_roll = roll["by_step"][str(max(rollouts))] if rollouts else {}
    payload = {
        "analysis": "contamination", **_stamp(),
        "inputs": {
            "run_dir": str(run.path), "checkpoints": {str(s): str(p) for s, p in ckpts.items()},
            "rollout_files": [str(p) for p in run.rollout_files().values()],
            "config_point": run.config_point, "seed": run.seed(), "probe_seed": seed,
            "problems_per_level": per_level, "decoding": "greedy" if temperature == 0 else f"temperature {temperature}",
            "max_new_tokens": cfg.eval.max_new_tokens, "length_fraction": fraction,
            "curriculum": cfg.curriculum.model_dump(mode="json"),
        },
        "probes": cells,
        "accuracy": {str(s): t for s, t in tables.items()},
        "change_vs_base": change,
        "prior_skill_accuracy_base": tables[0]["accuracy"],
        "prior_skill_accuracy_final": tables[last]["accuracy"],
        "prior_skill_accuracy_change": change[str(last)]["accuracy"],
        "final_step": last,
        "probe_shortcuts": {"base_median_length": base_medians, "by_step": probe_rates},
        "rollout_shortcuts": roll,
        "final_reward": run.final_reward(),
        "examples": examples,
    }
    run.write_analysis("contamination", payload)
    plots = run.plots_dir()
    plots_behaviour.plot_contamination({run.name: {str(s): t["accuracy"] for s, t in tables.items()}},
                                       plots / "contamination.png")
    if roll["by_step"]:
        plots_behaviour.plot_shortcuts(roll["by_step"], plots / "shortcuts.png", title=f"{run.name}: rollouts")
    print(f"{run.name}: prior-skill accuracy {tables[0]['accuracy']:.3f} (base) -> {tables[last]['accuracy']:.3f} "
          f"(step {last}); rollout shortcuts at the last step: "
          + ", ".join(f"{k} {v:.2f}" for k, v in last_roll.items() if k in shortcuts.SHORTCUTS and v is not None))
    return payload


def run_contamination(args: argparse.Namespace) -> int:
    from rl_lab.analysis import contamination, plots_behaviour, shortcuts

    _set_threads(args)
    try:
        resolved = _resolve(args.path)
    except RunDirError as exc:
        return _fail(str(exc))
    trials, payloads = [], []
    for run in resolved.runs:
        try:
            payload = contamination_for_run(run, args)
        except RunDirError as exc:
            if resolved.kind == "run":
                return _fail(str(exc))
            print(f"warning: {exc}; skipped", file=sys.stderr)
            continue
        payloads.append(payload)
        final_probe = payload["probe_shortcuts"]["by_step"][str(payload["final_step"])]
        rb = payload["rollout_shortcuts"]["by_step"]
        final_roll = rb[max(rb, key=int)] if rb else {}
        trials.append({
            "run_dir": str(run.path), "seed": run.seed(), "config_point": run.config_point,
            "curriculum": run.lookup("curriculum.kind") or "fixed", "group": rundir.group_label(run),
            "prior_skill_accuracy_change": payload["prior_skill_accuracy_change"],
            "final_reward": payload["final_reward"],
            "rollouts_shortcuts": {k: final_roll.get(k) for k in shortcuts.SHORTCUTS},
            "probes_shortcuts": {k: final_probe.get(k) for k in shortcuts.SHORTCUTS},
        })
    if not trials:
        return _fail(f"no run under {args.path!r} could be probed")
    if resolved.kind == "sweep":
        table = contamination.comparison_table(trials)
        rundir.write_analysis(resolved.root, "contamination", {
            "analysis": "contamination", **_stamp(), "inputs": resolved.describe(), "trials": trials,
            "curriculum_comparison": table,
        })
        plots = rundir.plots_dir(resolved.root)
        plots_behaviour.plot_contamination(
            {f"{t['group']} s{t['seed']}": {s: a["accuracy"] for s, a in p["accuracy"].items()}
             for t, p in zip(trials, payloads, strict=True)},
            plots / "contamination.png",
        )
        plots_behaviour.plot_curriculum_comparison(table, plots / "curriculum_comparison.png")
        print(f"{'group':<28}{'seeds':>6}{'prior Δacc':>12}{'reward':>9}{'repeat':>8}{'skipped':>9}{'short':>7}{'contain':>9}")
        for name, row in table.items():
            def m(key: str, row: dict = row) -> str:
                v = row[key]["mean"]
                return "-" if v is None else f"{v:+.3f}" if key.startswith("prior") else f"{v:.3f}"
            print(f"{name:<28}{len(row['seeds']):>6}{m('prior_skill_accuracy_change'):>12}{m('final_reward'):>9}"
                  f"{m('rollouts/repeat_prompt_number'):>8}{m('rollouts/skipped_work'):>9}"
                  f"{m('rollouts/length_collapse'):>7}{m('rollouts/oracle_containment'):>9}")
    print(f"wrote {resolved.root / 'analysis' / 'contamination.json'}")
    return 0


# =========================================================================== drift
def add_arguments_drift(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="RUN_OR_SWEEP", help="a run dir (checkpoints/step_<N>) or a sweep dir")
    parser.add_argument("--prompts", type=int, default=None, help="held-out prompts (default: analysis.drift_prompts)")
    parser.add_argument("--samples-per-prompt", type=int, default=None,
                        help="sequences sampled per prompt and model (default: analysis.drift_samples_per_prompt)")
    parser.add_argument("--batch-size", type=int, default=64, help="sequences per forward pass when scoring")
    parser.add_argument("--no-contamination", action="store_true",
                        help="sweep: do not compute missing contamination results for the drift-vs-prior plot")
    _add_threads(parser)


def drift_for_run(run: RunDir, args: argparse.Namespace) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from rl_lab.analysis import drift, plots_behaviour
    from rl_lab.core.models import load_model_and_tokenizer

    cfg = run.config
    ckpts = run.checkpoints()
    if 0 not in ckpts:
        raise RunDirError(f"run {str(run.path)!r} has no checkpoints/step_0 (the base) to measure drift from")
    n_prompts = getattr(args, "prompts", None) or cfg.analysis.drift_prompts
    per_prompt = getattr(args, "samples_per_prompt", None) or cfg.analysis.drift_samples_per_prompt
    batch = getattr(args, "batch_size", None) or 64
    seed = seeds.stream(seeds.DRIFT, cfg.seed)
    max_new = cfg.train.max_completion_length
    prompts = drift.drift_prompts(cfg, n_prompts)
    base, tokenizer = load_model_and_tokenizer(ckpts[0])
    base.eval()
    base_samples = drift.sample_sequences(base, tokenizer, prompts, per_prompt, max_new, seed=seed)
    zero = {"per_token": 0.0, "per_sequence": 0.0, "per_sequence_std": 0.0, "sequences": len(base_samples), "tokens": None}
    per_step: dict[str, Any] = {"0": {"forward_kl_base_tuned_on_base_samples": zero,
                                      "reverse_kl_tuned_base_on_tuned_samples": zero}}
    for step, path in tqdm([(s, p) for s, p in ckpts.items() if s != 0], desc=f"drift {run.name}", unit="ckpt"):
        tuned, _ = load_model_and_tokenizer(path)
        tuned.eval()
        tuned_samples = drift.sample_sequences(tuned, tokenizer, prompts, per_prompt, max_new, seed=seed + step)
        per_step[str(step)] = drift.drift_between(base, tuned, base_samples, tuned_samples, tokenizer.pad_token_id, batch)
        del tuned
    last = max(ckpts)
    payload = {
        "analysis": "drift", **_stamp(),
        "inputs": {"run_dir": str(run.path), "checkpoints": {str(s): str(p) for s, p in ckpts.items()},
                   "config_point": run.config_point, "seed": run.seed(), "prompt_seed": seed,
                   "sampling_seed": f"{seed} (base), {seed} + step (tuned)", "prompts": len(prompts),
                   "samples_per_prompt": per_prompt, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": max_new},
        "directions": {
            "forward_kl_base_tuned_on_base_samples": "KL(base || tuned), summed over the vocabulary at each "
                                                     "position of sequences sampled from the base",
            "reverse_kl_tuned_base_on_tuned_samples": "KL(tuned || base), summed over the vocabulary at each "
                                                      "position of sequences sampled from the tuned checkpoint",
        },
        "units": "nats; per_token = total KL / completion tokens, per_sequence = mean over sequences of summed KL",
        "by_step": per_step,
        "final_step": last,
        "final": per_step[str(last)],
    }
    run.write_analysis("drift", payload)
    plots_behaviour.plot_drift(per_step, run.plots_dir() / "drift.png", title=run.name)
    fin = per_step[str(last)]
    print(f"{run.name}: step {last} KL(base||tuned) {fin['forward_kl_base_tuned_on_base_samples']['per_token']:.4f}"
          f"/token, KL(tuned||base) {fin['reverse_kl_tuned_base_on_tuned_samples']['per_token']:.4f}/token")
    return payload


def _prior_change(run: RunDir, args: argparse.Namespace) -> tuple[float | None, str]:
    """The run's prior-skill accuracy change: from its contamination.json, else computed now."""
    from rl_lab.core.io import read_json

    path = run.path / "analysis" / "contamination.json"
    if path.is_file():
        return read_json(path).get("prior_skill_accuracy_change"), str(path)
    if getattr(args, "no_contamination", False):
        return None, "not computed (--no-contamination)"
    ns = argparse.Namespace(problems_per_level=None, temperature=0.0, length_fraction=0.5, batch_size=None)
    try:
        return contamination_for_run(run, ns)["prior_skill_accuracy_change"], f"computed now, written to {path}"
    except RunDirError as exc:
        return None, f"unavailable: {exc}"


def run_drift(args: argparse.Namespace) -> int:
    from rl_lab.analysis import plots_behaviour

    _set_threads(args)
    try:
        resolved = _resolve(args.path)
    except RunDirError as exc:
        return _fail(str(exc))
    results = []
    for run in resolved.runs:
        try:
            results.append((run, drift_for_run(run, args)))
        except RunDirError as exc:
            if resolved.kind == "run":
                return _fail(str(exc))
            print(f"warning: {exc}; skipped", file=sys.stderr)
    if not results:
        return _fail(f"no run under {args.path!r} has checkpoints to compare")
    if resolved.kind == "sweep":
        points = []
        for run, payload in results:
            change, source = _prior_change(run, args)
            fin = payload["final"]
            points.append({
                "run_dir": str(run.path), "seed": run.seed(), "config_point": run.config_point,
                "group": rundir.group_label(run), "label": run.name,
                "kl": fin["forward_kl_base_tuned_on_base_samples"]["per_token"],
                "reverse_kl": fin["reverse_kl_tuned_base_on_tuned_samples"]["per_token"],
                "prior_change": change, "prior_change_source": source,
            })
        rundir.write_analysis(resolved.root, "drift", {
            "analysis": "drift", **_stamp(), "inputs": resolved.describe(),
            "points": points,
            "keys": {"kl": "forward KL(base || tuned) per token at the last checkpoint, base samples",
                     "reverse_kl": "reverse KL(tuned || base) per token at the last checkpoint, tuned samples",
                     "prior_change": "prior-skill probe accuracy change, last checkpoint minus base"},
        })
        plots_behaviour.plot_drift_vs_prior(points, rundir.plots_dir(resolved.root) / "drift_vs_prior_skill.png")
    print(f"wrote {resolved.root / 'analysis' / 'drift.json'}")
    return 0
