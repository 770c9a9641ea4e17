"""Typed analysis settings: built from the run's config plus explicit command-line values, with
every default from the config schema; bad explicit values are InputErrors naming the flag."""

from __future__ import annotations

import pytest
from behaviour_fixtures import config_dict, rollout_rows, write_run, write_sweep

from rl_lab.analysis import settings as S
from rl_lab.config import validate_config
from rl_lab.core import seeds
from rl_lab.core.config import AnalysisConfig, ReportConfig
from rl_lab.core.errors import InputError, RunDirError
from rl_lab.core.io import atomic_write_yaml, read_json
from rl_lab.core.rundir import RunDir


def cfg(tmp_path, **sections):
    return validate_config(config_dict(tmp_path, **sections))


def test_defaults_come_from_the_config_and_explicit_values_win(tmp_path):
    c = cfg(tmp_path, seed=3, analysis={"passk_n": 16, "probe_temperature": 0.7, "length_fraction": 0.25,
                                        "drift_batch_size": 9, "collapse_threshold": 0.8},
            eval={"batch_size": 1024, "max_new_tokens": 8})
    assert S.formats_settings(c.analysis).threshold == 0.8
    assert S.formats_settings(c.analysis, threshold=0.95).threshold == 0.95

    p = S.passk_settings(c)
    assert (p.n, p.ks, p.problems_per_level) == (16, [1, 2, 4, 8, 16], 2)
    assert p.batch_size == 1024  # eval.batch_size is larger than analysis.passk_batch_size (512)
    assert p.seed == seeds.stream(seeds.PASSK, 3) and p.families == ["addition"]
    p = S.passk_settings(c, n=4, k="1,4", problems_per_level=5, batch_size=7, max_new_tokens=3)
    assert (p.n, p.ks, p.problems_per_level, p.batch_size, p.max_new_tokens) == (4, [1, 4], 5, 7, 3)

    k = S.contamination_settings(c)
    assert (k.temperature, k.length_fraction, k.batch_size, k.max_new_tokens) == (0.7, 0.25, 1024, 8)
    assert k.decoding == "temperature 0.7" and k.seed == seeds.stream(seeds.PROBES, 3)
    assert S.contamination_settings(c, temperature=0.0).decoding == "greedy"

    d = S.drift_settings(c, prompts=5)
    assert (d.prompts, d.samples_per_prompt, d.batch_size) == (5, 2, 9)
    assert d.max_new_tokens == c.train.max_completion_length and d.seed == seeds.stream(seeds.DRIFT, 3)


def test_schema_defaults_when_the_config_says_nothing():
    defaults = AnalysisConfig()
    assert S.formats_settings(defaults).threshold == AnalysisConfig.model_fields["collapse_threshold"].default
    u = S.updates_settings(defaults)
    assert u.tol == AnalysisConfig.model_fields["updates_tol"].default == S.UpdatesSettings().tol
    assert S.updates_settings(AnalysisConfig(updates_tol=0.5), threads=2).tol == 0.5
    assert S.updates_settings(defaults, tol=0.1, threads=None).threads == S.UpdatesSettings().threads


@pytest.mark.parametrize(("build", "flag"), [
    (lambda c: S.formats_settings(c.analysis, threshold=1.5), "--threshold 1.5"),
    (lambda c: S.passk_settings(c, n=0), "--n 0"),
    (lambda c: S.passk_settings(c, k="1,8", n=4), "outside 1..n=4"),
    (lambda c: S.passk_settings(c, families=["chain"]), "--families ['chain']"),
    (lambda c: S.contamination_settings(c, length_fraction=0.0), "--length-fraction 0.0"),
    (lambda c: S.contamination_settings(c, temperature=-1.0), "--temperature -1.0"),
    (lambda c: S.drift_settings(c, samples_per_prompt=0), "--samples-per-prompt 0"),
])
def test_bad_explicit_values_name_the_flag(tmp_path, build, flag):
    with pytest.raises(InputError, match=flag.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        build(cfg(tmp_path))


def test_a_run_without_config_gets_schema_defaults_and_a_bad_section_names_the_field(tmp_path):
    bare = RunDir(tmp_path / "bare")
    assert S.run_section(bare, "analysis", AnalysisConfig) == AnalysisConfig()
    run = tmp_path / "bad"
    run.mkdir()
    atomic_write_yaml(run / "config.yaml", {"analysis": {"collapse_threshold": 2.0}})
    with pytest.raises(RunDirError, match=r"analysis\.collapse_threshold"):
        S.run_section(RunDir(run), "analysis", AnalysisConfig)
    assert S.config_section({"report": {"shortcut_rise": 0.3}}, "report", ReportConfig, "x").shortcut_rise == 0.3


def test_formats_threshold_comes_from_the_runs_config(tmp_path):
    """No --threshold: the run's analysis.collapse_threshold decides (0.6 collapses a 70% share)."""
    from rl_lab.cli import main

    shares = {s: rollout_rows(s, {"steps": 7, "terse": 3}) for s in (1, 2, 3)}
    run = write_run(tmp_path / "run", shares, config_dict(tmp_path / "run", analysis={"collapse_threshold": 0.6}))
    sweep = write_sweep(tmp_path / "sweep", [({"seed": 0}, run)])
    assert main(["analyze", "formats", str(sweep)]) == 0
    out = read_json(run / "analysis" / "formats.json")
    assert out["threshold"] == 0.6 and out["collapse_step"] == 1 and out["winner"] == "steps"
    assert main(["analyze", "formats", str(run), "--threshold", "0.9"]) == 0
    assert not read_json(run / "analysis" / "formats.json")["collapsed"]


def test_drift_reports_why_a_prior_change_is_missing(tmp_path):
    """The sweep's prior-skill change: 'not computed' when told not to, the reason when it cannot be."""
    from rl_lab.analysis.drift_run import prior_change

    run = RunDir(write_run(tmp_path / "run", {1: rollout_rows(1, {"steps": 2})}))  # no probes: one trained family
    assert prior_change(run, compute=False) == (None, "not computed (--no-contamination)")
    change, source = prior_change(run, compute=True)
    assert change is None and source.startswith("unavailable:") and "no prior-skill probes" in source
    run.write_analysis("contamination", {"prior_skill_accuracy_change": -0.25})
    assert prior_change(run, compute=True) == (-0.25, str(run.analysis_file("contamination")))
