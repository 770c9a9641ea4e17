"""Format collapse on synthetic rollouts with planted shares and collapse steps."""

from __future__ import annotations

import math

import pytest
from behaviour_fixtures import config_dict, rollout_rows, single_thread, write_run, write_sweep  # noqa: F401

from rl_lab.analysis import format_collapse as fc
from rl_lab.core.io import read_json


def planted(steps_share: list[float], n: int = 20, level: int = 2, seed: int = 0) -> dict[int, list[dict]]:
    """One step per entry: that share of ``steps`` completions, the rest split terse/tagged."""
    out = {}
    for i, share in enumerate(steps_share, start=1):
        k = round(share * n)
        rest = n - k
        out[i] = rollout_rows(i, {"steps": k, "terse": rest - rest // 2, "tagged": rest // 2}, level, seed)
    return out


def test_shares_and_entropy_known_values():
    shares = fc.format_shares(["terse", "steps", "tagged", "other"] * 3)
    assert shares == {f: 0.25 for f in ("terse", "steps", "tagged", "other")}
    assert fc.shannon_entropy(shares) == pytest.approx(2.0)
    assert fc.shannon_entropy(fc.format_shares(["steps"] * 7)) == 0.0
    two = fc.format_shares(["terse", "steps"])
    assert fc.shannon_entropy(two) == pytest.approx(1.0)


def test_unlabelled_rows_are_classified_from_the_completion():
    rows = rollout_rows(1, {"steps": 3, "tagged": 1}, label=False)
    assert fc.shares_by_step({1: rows})[1]["steps"] == pytest.approx(0.75)


def test_planted_collapse_step_and_winner():
    # 'steps' passes 0.9 at step 6 and stays above it through the last step (10)
    summary = fc.summarise_run(planted([0.3, 0.4, 0.5, 0.7, 0.85, 0.95, 0.95, 1.0, 0.95, 1.0]), 0.9)
    assert summary["collapsed"] and summary["collapse_step"] == 6 and summary["winner"] == "steps"
    assert summary["shares"]["6"]["steps"] == pytest.approx(0.95)
    assert summary["entropy_bits"]["8"] == 0.0
    assert summary["by_level"]["2"]["collapse_step"] == 6


def test_no_collapse_and_exceed_then_drop():
    never = fc.summarise_run(planted([0.3, 0.5, 0.8, 0.85, 0.8]), 0.9)
    assert not never["collapsed"] and never["collapse_step"] is None and never["winner"] is None
    dropped = fc.summarise_run(planted([0.5, 0.95, 1.0, 0.95, 0.85]), 0.9)
    assert not dropped["collapsed"] and dropped["collapse_step"] is None
    # above, below, above again: collapse counts from the second crossing
    again = fc.summarise_run(planted([0.95, 0.95, 0.6, 0.95, 1.0]), 0.9)
    assert again["collapse_step"] == 4
    # exactly at the threshold is not above it
    assert fc.collapse_point({1: {"steps": 0.9, "terse": 0.1}}, 0.9) == (None, None)


def test_per_level_collapse_differs_from_overall():
    rollouts = {}
    for step in range(1, 6):
        easy = rollout_rows(step, {"terse": 10}, level=1)  # level 1: terse from the start
        hard = rollout_rows(step, {"steps": 2 * step, "tagged": 10 - 2 * step}, level=3)  # level 3: steps at step 5
        rollouts[step] = easy + hard
    summary = fc.summarise_run(rollouts, 0.9)
    assert summary["by_level"]["1"]["collapse_step"] == 1 and summary["by_level"]["1"]["winner"] == "terse"
    assert summary["by_level"]["3"]["collapse_step"] == 5 and summary["by_level"]["3"]["winner"] == "steps"
    assert not summary["collapsed"]  # overall: half terse, half steps at the end


def test_sweep_cli_mean_spread_and_winners(tmp_path):
    from rl_lab.cli import main

    trials = []
    planted_steps = {0: 3, 1: 5, 2: 7}
    for seed, collapse in planted_steps.items():
        shares = [0.5 if s < collapse else 1.0 for s in range(1, 9)]
        run = tmp_path / "sweep" / "trials" / f"seed-{seed}"
        write_run(run, planted(shares, seed=seed), config_dict(run, seed=seed))
        trials.append(({"seed": seed}, run))
    never = tmp_path / "sweep" / "trials" / "seed-3"
    write_run(never, planted([0.5] * 8, seed=3), config_dict(never, seed=3))
    trials.append(({"seed": 3}, never))
    sweep = write_sweep(tmp_path / "sweep", trials)

    assert main(["analyze", "formats", str(sweep), "--threshold", "0.9"]) == 0
    out = read_json(sweep / "analysis" / "formats.json")
    agg = out["groups"]["all"]
    assert agg["runs"] == 4 and agg["collapsed_runs"] == 3
    cs = agg["collapse_step"]
    assert (cs["mean"], cs["min"], cs["max"]) == (5.0, 3, 7) and cs["std"] == pytest.approx(2.0)
    assert {w["seed"]: w["winner"] for w in agg["winner_by_seed"]} == {0: "steps", 1: "steps", 2: "steps", 3: None}
    # at step 5 seeds 0 and 1 have collapsed (share 1.0), seeds 2 and 3 have not (0.5)
    s4 = agg["shares"]["5"]["steps"]
    assert s4["mean"] == pytest.approx(0.75) and s4["min"] == 0.5 and s4["max"] == 1.0
    assert s4["std"] == pytest.approx(math.sqrt(1 / 12))
    assert len(out["inputs"]["runs"]) == 4
    # 8 logged steps, analysis.collapse_window 0.1: the final shares pool the last step only
    assert out["window"] == 0.1 and all(r["final_window_steps"] == [8] for r in out["runs"].values())
    ci = agg["collapse_step_interval"]
    assert ci["value"] == 5.0 and ci["seeds"] == 3 and 3 <= ci["low"] <= ci["high"] <= 7
    assert agg["final_share_interval"]["steps"]["seeds"] == 4
    for _, run in trials:
        per_run = read_json(run / "analysis" / "formats.json")
        assert per_run["inputs"]["steps"] == list(range(1, 9))
        assert (run / "plots" / "format_shares.png").stat().st_size > 1000
    assert (sweep / "plots" / "format_shares_seeds.png").is_file()


def test_cli_rejects_a_dir_without_rollouts(tmp_path, capsys):
    from rl_lab.cli import main

    assert main(["analyze", "formats", str(tmp_path)]) == 2
    assert "neither a run dir" in capsys.readouterr().err


def test_dict_valued_grid_points_flatten_to_dotted_keys():
    from rl_lab.core.rundir import flatten_point, group_key

    point = {"seed": 1, "curriculum": {"kind": "hard_only", "levels": [3, 4]}}
    flat = flatten_point(point)
    assert flat == {"seed": 1, "curriculum.kind": "hard_only", "curriculum.levels": [3, 4]}
    assert group_key(flat, drop=("seed", "curriculum.kind")) == "curriculum.levels=[3, 4]"


def test_the_runs_taxonomy_decides_the_formats(tmp_path):
    """A run with formats.taxonomy: rules is analysed (and reported) in that taxonomy's labels:
    rows labelled by the trainer keep their label, unlabelled rows are classified by its rules."""
    from rl_lab.cli import main

    taxonomy = {"taxonomy": "rules", "rules": [{"label": "yes", "pattern": "^Y"}]}
    rows = {}
    for step in (1, 2, 3):
        made = rollout_rows(step, {"terse": 10}, label=False)
        for i, r in enumerate(made):
            r["completion"] = ("Y" if i < 3 + 3 * step else "N") + r["answer"]
        made[0]["format"] = "yes"  # labelled by the trainer: kept as is
        rows[step] = made
    run = write_run(tmp_path / "run", rows, config_dict(tmp_path / "run", formats=taxonomy))
    assert main(["analyze", "formats", str(run)]) == 0
    out = read_json(run / "analysis" / "formats.json")
    assert out["labels"] == ["yes", "other"] and out["taxonomy"] == "rules"
    assert out["shares"]["1"] == {"yes": 0.6, "other": pytest.approx(0.4)}
    assert out["collapsed"] and out["winner"] == "yes" and out["collapse_step"] == 3  # 90% > 0.9 is false at step 2
    assert main(["report", str(run), "--out", str(tmp_path / "page.html")]) == 0
    page = (tmp_path / "page.html").read_text()
    assert "final yes" in page and "final terse" not in page and "(yes / other)" in page


def test_final_window_pools_the_last_steps_with_an_exact_interval():
    """Steps share 0.5, 0.9, 1.0 over 20 rollouts each: a window of half the steps pools steps 2-3
    (38 of 40 in `steps`); without a window only the last step (20 of 20)."""
    from rl_lab.analysis.intervals import binomial

    rollouts = planted([0.5, 0.9, 1.0])
    wide = fc.summarise_run(rollouts, 0.9, window=0.5)
    assert wide["final_window_steps"] == [2, 3] and wide["final_rollouts"] == 40
    assert wide["final_counts"]["steps"] == 38
    assert wide["final_share_interval"]["steps"] == binomial(38, 40).to_dict()
    last = fc.summarise_run(rollouts, 0.9)
    assert last["final_window_steps"] == [3] and last["final_share_interval"]["steps"]["low"] == pytest.approx(0.8316, abs=1e-4)


def test_aggregate_gives_intervals_over_seeds():
    runs = [fc.summarise_run(planted([0.5, 0.95, 1.0], seed=s), 0.9) for s in range(2)]
    runs.append(fc.summarise_run(planted([0.5, 0.5, 0.5], seed=2), 0.9))
    agg = fc.aggregate_runs(runs, [0, 1, 2])
    steps = agg["final_share_interval"]["steps"]
    assert steps["value"] == pytest.approx((1.0 + 1.0 + 0.5) / 3) and steps["seeds"] == 3 and steps["n"] == 60
    assert steps["low"] < steps["value"] < steps["high"]
    collapse = agg["collapse_step_interval"]  # the two seeds that collapsed, both at step 2
    assert (collapse["value"], collapse["low"], collapse["high"], collapse["seeds"]) == (2.0, 2.0, 2.0, 2)
