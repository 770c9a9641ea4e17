"""``rl-lab eval passk --model A [--model B ...] --config CFG [overrides...]``: pass@k curves of
several models (checkpoints, run dirs or model specs) on the config's problems (see rl_lab.analysis.passk_run).

Like every other command it takes dotted ``KEY=VALUE`` overrides of the config
(``analysis.passk_temperature=1.0 seed=3``), applied and validated before anything is sampled.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_lab.cli.common import add_threads_argument, apply_threads, load_command_config
from rl_lab.cli.numbers import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", action="append", required=True,
                        help="HF checkpoint dir, a run dir (then its first and last checkpoint), or a model spec "
                             "(proxy:base=P,tuned=P,untuned=P[,alpha=A] | steer:base=P,vector=F[,strength=S]), "
                             "optionally as LABEL=PATH / LABEL=SPEC to name its curve; repeat; the first model is "
                             "the base the others are compared with")
    parser.add_argument("--config", required=True, help="experiment YAML: families, levels, analysis.passk_*")
    parser.add_argument("overrides", nargs="*", help="dotted KEY=VALUE overrides of --config, e.g. analysis.passk_top_p=1")
    parser.add_argument("--n", type=positive_int, default=None, help="samples per problem (default: analysis.passk_n)")
    parser.add_argument("--k", default=None, help="comma-separated k values (default: powers of 2 up to n)")
    parser.add_argument("--problems-per-level", type=positive_int, default=None,
                        help="problems per family x level (default: analysis.passk_problems_per_level)")
    parser.add_argument("--families", nargs="+", default=None, help="only these families of the config")
    parser.add_argument("--out", default=None,
                        help="output root (analysis/passk.json, plots/); default: the run dir of a run-dir "
                             "--model, else <output_dir>/passk")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="sequences per generate call on the transformers path "
                             "(default: max(eval.batch_size, analysis.passk_batch_size))")
    parser.add_argument("--max-new-tokens", type=positive_int, default=None, help="default: train.max_completion_length")
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    from rl_lab.analysis.passk_run import analyze_passk
    from rl_lab.analysis.settings import passk_settings

    cfg = load_command_config(args)
    settings = passk_settings(cfg, n=args.n, k=args.k, problems_per_level=args.problems_per_level,
                              families=args.families, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    apply_threads(args.threads)
    source = {"config": str(args.config), **({"config_overrides": list(args.overrides)} if args.overrides else {})}
    out = analyze_passk(cfg, args.model, settings, Path(args.out) if args.out else None, source)
    models, crossover = out.payload["models"], out.payload["crossover"]
    low, top = str(settings.ks[0]), str(settings.ks[-1])
    for label, result in models.items():
        overall = result["overall"]
        print(f"{label}: pass@{low} {overall['pass_at_k'][low]:.3f}  pass@{top} {overall['pass_at_k'][top]:.3f}  "
              f"coverage {overall['coverage']:.3f}  ({result['samples_per_second']:.1f} samples/s)")
    for label, cross in crossover.items():
        print(f"crossover {out.payload['base']} vs {label}: {cross['overall']}")
    print(f"wrote {out.written}")
    return 0
