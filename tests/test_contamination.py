"""Prior-skill probe selection, rollout shortcut rates, the curriculum table, and the CLI end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
from behaviour_fixtures import (  # noqa: F401
    config_dict,
    rollout_rows,
    single_thread,
    write_checkpoints,
    write_run,
    write_sweep,
)

from rl_lab.analysis import contamination as ct
from rl_lab.config import validate_config
from rl_lab.core.io import read_json


def cfg_with(tmp_path, curriculum: dict, families=None, steps: int = 40):
    data = config_dict(tmp_path, curriculum=curriculum, train={"steps": steps})
    if families is not None:
        data["environments"] = {"families": families}
    return validate_config(data)


ADD_1_5 = [{"name": "addition", "role": "trained", "levels": [1, 2, 3, 4, 5]}]


def test_probe_rule_per_curriculum(tmp_path):
    fixed = cfg_with(tmp_path, {"kind": "fixed", "levels": [1, 2]}, ADD_1_5)
    assert ct.probe_cells(fixed)[0]["levels"] == [3, 4, 5]
    weighted = cfg_with(tmp_path, {"kind": "fixed", "levels": [1, 2, 3], "weights": [1, 0, 1]}, ADD_1_5)
    assert ct.probe_cells(weighted)[0]["levels"] == [2, 4, 5]
    hard = cfg_with(tmp_path, {"kind": "hard_only"}, ADD_1_5)
    assert ct.drawn_levels(hard) == [3, 4, 5] and ct.probe_cells(hard)[0]["levels"] == [1, 2]
    hard4 = cfg_with(tmp_path, {"kind": "hard_only", "hard_min_level": 4}, ADD_1_5)
    assert ct.probe_cells(hard4)[0]["levels"] == [1, 2, 3]
    e2h = cfg_with(tmp_path, {"kind": "easy_to_hard", "levels": [1, 2, 3], "schedule": [10, 50]}, ADD_1_5)
    assert ct.drawn_levels(e2h) == [1, 2]  # level 3 unlocks at step 50 of 40
    assert ct.probe_cells(e2h)[0]["levels"] == [3, 4, 5]
    assert ct.probe_cells(cfg_with(tmp_path, {"kind": "easy_to_hard"}, ADD_1_5)) == []  # all unlocked
    prior = cfg_with(tmp_path, {"kind": "fixed"}, [*ADD_1_5, {"name": "chain", "role": "prior_skill", "levels": [1, 2]}])
    cells = ct.probe_cells(prior)
    assert [(c["family"], c["levels"], c["reason"]) for c in cells] == [("chain", [1, 2], "prior_skill family")]


def test_probes_are_scored_the_way_the_config_scores_each_family(tmp_path):
    """Found on SmolLM2 (configs/real_smollm2.yaml): probes were built without the family's scoring
    mode, so every probe was scored with exact shapes and a real model's prior skills read 0.000."""
    from rl_lab.environments import problem_sets

    cfg = cfg_with(tmp_path, {"kind": "fixed", "levels": [1]}, [
        {"name": "addition", "role": "trained", "levels": [1, 2], "scoring": "math"},
        {"name": "comparison", "role": "prior_skill", "levels": [1], "scoring": "math"}])
    cells = ct.probe_cells(cfg)
    assert [(c["family"], c["scoring"]) for c in cells] == [("addition", "math"), ("comparison", "math")]
    rows = problem_sets.build_problem_set(ct.probe_specs(cells), 2, seed=0)
    prose = [f"The answer is \\boxed{{{row['answer']}}}." for row in rows]
    assert [problem_sets.verify_completion(row, text) for row, text in zip(rows, prose, strict=True)] == [1.0] * 4


def test_rollout_shortcuts_against_the_first_step():
    first = rollout_rows(1, {"steps": 8}, level=3)  # long worked answers
    late = [dict(r, completion=r["prompt"].split("+")[0]) for r in first[:4]] + first[4:]  # 4 copy an operand
    out = ct.rollout_shortcuts({1: first, 9: late})
    assert out["reference_step"] == 1
    assert out["by_step"]["1"]["repeat_prompt_number"] == 0.0
    assert out["by_step"]["9"]["repeat_prompt_number"] == 0.5
    assert out["by_step"]["9"]["length_collapse"] == 0.5  # 3 digits against a ~20-character median


def test_comparison_table_groups_and_spreads():
    def trial(group, seed, change, reward):
        return {"group": group, "curriculum": group, "seed": seed, "prior_skill_accuracy_change": change,
                "final_reward": reward, "rollouts_shortcuts": {"repeat_prompt_number": change + 1},
                "probes_shortcuts": {}}
    table = ct.comparison_table([trial("hard_only", 0, -0.4, 0.2), trial("hard_only", 1, -0.2, 0.4),
                                 trial("fixed", 0, 0.1, 0.9)])
    hard = table["hard_only"]
    assert hard["prior_skill_accuracy_change"]["mean"] == pytest.approx(-0.3)
    assert hard["prior_skill_accuracy_change"]["std"] == pytest.approx(math.sqrt(0.02))
    assert (hard["final_reward"]["min"], hard["final_reward"]["max"]) == (0.2, 0.4)
    assert hard["rollouts/repeat_prompt_number"]["mean"] == pytest.approx(0.7)
    assert hard["probes/skipped_work"]["n"] == 0 and hard["seeds"] == [0, 1]
    assert table["fixed"]["final_reward"]["std"] == 0.0


def _probe_trial(group: str, seed: int, base: list[float], final: list[float]) -> dict:
    return {"group": group, "curriculum": group, "seed": seed, "final_reward": 0.5,
            "prior_skill_accuracy_change": sum(final) / len(final) - sum(base) / len(base),
            "rollouts_shortcuts": {}, "probes_shortcuts": {}, "probe_correct": {"base": base, "final": final}}


def _synthetic_sweep() -> list[dict]:
    """Three groups of three seeds, 32 probes each (a seed's own probes): 'large' loses 20 of its 24
    right answers in every seed; 'tiny' loses two and gains one (-3 pp, within probe noise); 'zero'
    answers exactly as the base did."""
    rng = np.random.default_rng(0)
    trials = []
    for seed in range(3):
        base = np.zeros(32)
        base[rng.choice(32, 24, replace=False)] = 1.0
        lost = base.copy()
        lost[np.flatnonzero(base)[:20]] = 0.0
        noisy = base.copy()
        noisy[np.flatnonzero(base)[:2]] = 0.0
        noisy[np.flatnonzero(base == 0)[0]] = 1.0
        for group, final in (("large", lost), ("tiny", noisy), ("zero", base)):
            trials.append(_probe_trial(group, seed, base.tolist(), final.tolist()))
    return trials


def test_prior_change_intervals_word_the_synthetic_sweep():
    """Known answers: a large consistent drop appeared, a tiny noisy one is inconclusive, an exact zero
    did not appear; the same three verdicts per run and pooled over seeds in the report's wording."""
    from rl_lab.analysis.intervals import Estimate, verdict
    from rl_lab.core.config import ReportConfig
    from rl_lab.report.findings import findings_prior, findings_prior_groups

    margin = ReportConfig().prior_margin
    table = ct.comparison_table(_synthetic_sweep())
    est = {g: Estimate.from_dict(row["prior_skill_accuracy_change_interval"]) for g, row in table.items()}
    assert est["large"].value == pytest.approx(-20 / 32) and est["large"].seeds == 3 and est["large"].n == 96
    assert est["tiny"].value == pytest.approx(-1 / 32)
    assert (est["zero"].low, est["zero"].high) == (0.0, 0.0)
    assert {g: verdict(e, -1, margin) for g, e in est.items()} == {
        "large": "appeared", "tiny": "inconclusive", "zero": "did not appear"}

    changes = [{"label": f"{t['group']}-{t['seed']}", "group": t["group"], "change": t["prior_skill_accuracy_change"],
                "interval": ct.change_interval([t["probe_correct"]["base"]], [t["probe_correct"]["final"]])}
               for t in _synthetic_sweep()]
    (runs,) = findings_prior(changes)
    assert runs.kind == "observed" and "in 3/9 runs probe accuracy fell" in runs.text
    assert "in 3/9 no loss" in runs.text and "inconclusive in 3/9" in runs.text
    (pooled,) = findings_prior_groups(table, changes)
    assert pooled.kind == "observed"
    assert "large: loss, −62.5 pp [" in pooled.text and "tiny: inconclusive, −3.1 pp [" in pooled.text
    assert "zero: no loss, +0.0 pp [+0.0 pp, +0.0 pp] (n = 96 probes, 3 seeds)" in pooled.text
    (only_tiny,) = findings_prior([c for c in changes if c["group"] == "tiny"][:1])
    assert only_tiny.kind == "inconclusive" and only_tiny.text.startswith("Prior-skill loss is inconclusive")


def test_cli_on_a_sweep_of_two_curricula(tmp_path):
    """Two tiny random checkpoints per trial; drift then reuses the contamination JSON."""
    from rl_lab.cli import main

    trials = []
    for kind, seed in (("hard_only", 0), ("fixed", 0)):
        run = tmp_path / "sweep" / "trials" / f"{kind}-{seed}"
        cur = {"kind": kind, "hard_min_level": 3} if kind == "hard_only" else {"kind": kind, "levels": [3]}
        rows = {1: rollout_rows(1, {"steps": 4}, level=3), 4: rollout_rows(4, {"terse": 4}, level=3)}
        write_run(run, rows, config_dict(run, seed=seed, curriculum=cur))
        write_checkpoints(run, (0, 4))
        trials.append(({"curriculum.kind": kind, "seed": seed}, run))
    sweep = write_sweep(tmp_path / "sweep", trials)

    assert main(["analyze", "contamination", str(sweep), "--problems-per-level", "3"]) == 0
    for _, run in trials:
        out = read_json(run / "analysis" / "contamination.json")
        assert out["probes"][0]["levels"] == [1, 2]  # both curricula leave levels 1-2 untrained
        assert out["accuracy"]["0"]["n"] == 6 and set(out["accuracy"]) == {"0", "4"}
        assert out["change_vs_base"]["0"]["accuracy"] == 0.0
        assert out["prior_skill_accuracy_change"] == pytest.approx(
            out["accuracy"]["4"]["accuracy"] - out["accuracy"]["0"]["accuracy"])
        assert out["inputs"]["decoding"] == "greedy" and out["inputs"]["problems_per_level"] == 3
        # what the intervals rest on: each probe's correctness at every checkpoint, same order as probe_cells
        correct = out["probe_correct"]
        assert set(correct) == {"0", "4"} and out["probe_count"] == len(out["probe_cells"]) == len(correct["4"]) == 6
        assert sum(correct["4"]) / 6 == pytest.approx(out["accuracy"]["4"]["accuracy"])
        base_ci = out["prior_skill_accuracy_base_interval"]
        assert base_ci["value"] == out["prior_skill_accuracy_base"] and base_ci["method"].startswith("exact binomial")
        change_ci = out["prior_skill_accuracy_change_interval"]
        assert change_ci["value"] == pytest.approx(out["prior_skill_accuracy_change"]) and change_ci["n"] == 6
        assert change_ci["low"] <= change_ci["value"] <= change_ci["high"]
        # rollouts: steps (long) at step 1, terse (short) at step 4 -> length collapse only at 4
        assert out["rollout_shortcuts"]["by_step"]["1"]["length_collapse"] == 0.0
        assert out["rollout_shortcuts"]["by_step"]["4"]["length_collapse"] == 1.0
        assert (run / "plots" / "contamination.png").is_file()
    summary = read_json(sweep / "analysis" / "contamination.json")
    assert set(summary["curriculum_comparison"]) == {"hard_only", "fixed"}
    assert summary["curriculum_comparison"]["fixed"]["rollouts/length_collapse"]["mean"] == 1.0
    for t in summary["trials"]:
        row = summary["curriculum_comparison"][t["group"]]
        assert row["prior_skill_accuracy_change_interval"]["value"] == pytest.approx(t["prior_skill_accuracy_change"])
        assert len(t["probe_correct"]["base"]) == len(t["probe_correct"]["final"]) == t["probe_count"] == 6
    assert (sweep / "plots" / "curriculum_comparison.png").is_file()

    assert main(["analyze", "drift", str(sweep), "--prompts", "2", "--samples-per-prompt", "1"]) == 0
    points = read_json(sweep / "analysis" / "drift.json")["points"]
    assert len(points) == 2 and all(p["prior_change_source"].endswith("contamination.json") for p in points)
    assert all(p["kl"] > 0 for p in points)
    for p in points:  # one sample per prompt: each prompt is one sequence; the interval's value is the KL itself
        assert p["kl_interval"]["value"] == pytest.approx(p["kl"]) and p["kl_interval"]["n"] == 2
        assert p["prior_change_interval"] is not None
    run_drift = read_json(trials[0][1] / "analysis" / "drift.json")["final"]["forward_kl_base_tuned_on_base_samples"]
    assert len(run_drift["sequence_kl"]) == len(run_drift["sequence_tokens"]) == 2
    assert sum(run_drift["sequence_kl"]) / sum(run_drift["sequence_tokens"]) == pytest.approx(run_drift["per_token"])
    groups = read_json(sweep / "analysis" / "drift.json")["groups"]
    assert set(groups) == {"hard_only", "fixed"} and all(g["kl_interval"]["seeds"] == 1 for g in groups.values())
    assert (sweep / "plots" / "drift_vs_prior_skill.png").is_file()
    from rl_lab.analysis.plots_behaviour import READING_GUIDE

    written = {p.name for d in (sweep, *(r for _, r in trials)) for p in (d / "plots").glob("*.png")}
    assert written and written <= set(READING_GUIDE)  # every plot has its reading line


def test_cli_refuses_a_run_without_probes(tmp_path, capsys):
    from rl_lab.cli import main

    run = write_run(tmp_path / "run", {1: rollout_rows(1, {"steps": 2})})  # fixed over all levels, one family
    assert main(["analyze", "contamination", str(run)]) == 2
    assert "no prior-skill probes" in capsys.readouterr().err
