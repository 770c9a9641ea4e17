"""rl_lab: an RL post-training sandbox for studying elicitation versus creation under GRPO/RLVR.

One installed namespace whose layers import only downwards (``tests/test_layers.py`` keeps it so):

    rl_lab.cli, rl_lab.demo        top: parse arguments, call one function, map errors to exit codes
    rl_lab.report                  render analysis results (Jinja2); compute nothing new
    rl_lab.analysis                pure metrics + thin runners over run directories and checkpoints
    rl_lab.train, rl_lab.sweep,    write run directories (TRL, Ray Tune); the corpus and the
      rl_lab.pretrain, ...         controlled base model; the full config loader (rl_lab.config)
    rl_lab.environments            problems, verifiers, answer formats
    rl_lab.core                    contracts everyone shares: config schema, io, the run directory,
                                   checkpoint checks, models, generation, errors
"""

__version__ = "0.2.0"
