"""The core layer: the contracts every other layer shares. Imports nothing of rl_lab above it.

errors (the exception hierarchy and exit codes), io (atomic writes, JSONL), config (the schema),
rundir (the run-directory contract), checkpoints (what a checkpoint holds), models, tokenizer,
generation, seeds; elicitation without weight updates: model_spec (what to sample from, as one
string), sampler (a loaded spec), forcing, proxy, steering (docs/elicitation.md).
"""
