"""Prior-skill probe selection, rollout shortcut rates, the curriculum table, and the CLI end to end."""

from __future__ import annotations

import math

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
        # rollouts: steps (long) at step 1, terse (short) at step 4 -> length collapse only at 4
        assert out["rollout_shortcuts"]["by_step"]["1"]["length_collapse"] == 0.0
        assert out["rollout_shortcuts"]["by_step"]["4"]["length_collapse"] == 1.0
        assert (run / "plots" / "contamination.png").is_file()
    summary = read_json(sweep / "analysis" / "contamination.json")
    assert set(summary["curriculum_comparison"]) == {"hard_only", "fixed"}
    assert summary["curriculum_comparison"]["fixed"]["rollouts/length_collapse"]["mean"] == 1.0
    assert (sweep / "plots" / "curriculum_comparison.png").is_file()

    assert main(["analyze", "drift", str(sweep), "--prompts", "2", "--samples-per-prompt", "1"]) == 0
    points = read_json(sweep / "analysis" / "drift.json")["points"]
    assert len(points) == 2 and all(p["prior_change_source"].endswith("contamination.json") for p in points)
    assert all(p["kl"] > 0 for p in points)
    assert (sweep / "plots" / "drift_vs_prior_skill.png").is_file()
    from rl_lab.analysis.plots_behaviour import READING_GUIDE

    written = {p.name for d in (sweep, *(r for _, r in trials)) for p in (d / "plots").glob("*.png")}
    assert written and written <= set(READING_GUIDE)  # every plot has its reading line


def test_cli_refuses_a_run_without_probes(tmp_path, capsys):
    from rl_lab.cli import main

    run = write_run(tmp_path / "run", {1: rollout_rows(1, {"steps": 2})})  # fixed over all levels, one family
    assert main(["analyze", "contamination", str(run)]) == 2
    assert "no prior-skill probes" in capsys.readouterr().err
