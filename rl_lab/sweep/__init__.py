"""Ray Tune sweeps over training runs: ``rl-lab sweep`` (cli.py), driver (runner.py),
trainable (trial.py), summary (summary.py). Importing this package does not import Ray."""
