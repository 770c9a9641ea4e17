"""rl_lab.analysis: what RL did to a model, read from run directories and checkpoints.

Pure metrics (``format_collapse``, ``passk``, ``shortcuts``, ``contamination``, ``drift``,
``update_stats``, ``stats``, ``intervals``, ``precision``) take rows, configs and numbers; runners
(``*_run``) read run dirs through ``rl_lab.core.rundir``, load models and sample, and write
``analysis/<name>.json`` and plots. Each runner takes the typed settings of ``settings``; plot
functions return matplotlib Figures, saved by ``figures``. docs/analysis.md has the details.
"""
