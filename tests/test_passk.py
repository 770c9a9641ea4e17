"""Unbiased pass@k against brute-force enumeration, numerical stability, curves and crossovers."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from behaviour_fixtures import config_dict, rollout_rows, single_thread, write_checkpoints, write_run  # noqa: F401

from rl_lab.analysis import passk
from rl_lab.core.io import read_json


@pytest.mark.parametrize("n", range(1, 9))
def test_matches_enumeration_of_all_k_subsets(n):
    for c in range(n + 1):
        samples = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            hit = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
            assert passk.pass_at_k(n, c, k) == pytest.approx(hit, abs=1e-12), (n, c, k)


def test_stable_at_n_1024_against_exact_rationals():
    n = 1024
    for c in (0, 1, 3, 100, 900, 1020, 1024):
        prev = -1.0
        for k in (1, 2, 16, 128, 512, 1000, 1024):
            exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
            got = passk.pass_at_k(n, c, k)
            assert math.isfinite(got) and 0.0 <= got <= 1.0
            assert got == pytest.approx(float(exact), abs=1e-12), (c, k)
            assert got >= prev - 1e-15  # non-decreasing in k
            prev = got


def test_edge_cases_and_errors():
    assert passk.pass_at_k(10, 0, 5) == 0.0
    assert passk.pass_at_k(10, 6, 5) == 1.0  # n - c = 4 < k
    assert passk.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        passk.pass_at_k(4, 1, 5)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        passk.pass_at_k(4, 5, 1)


def test_ks_parsing():
    assert passk.default_ks(256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert passk.default_ks(12) == [1, 2, 4, 8, 12]
    assert passk.parse_ks("4,1,2", 8) == [1, 2, 4]
    with pytest.raises(ValueError, match="outside 1..n"):
        passk.parse_ks("1,16", 8)
    with pytest.raises(ValueError, match="comma-separated"):
        passk.parse_ks("1;2", 8)


def test_summary_coverage_and_groups():
    records = [
        {"family": "addition", "difficulty": 1, "n": 4, "c": 4},
        {"family": "addition", "difficulty": 1, "n": 4, "c": 1},
        {"family": "addition", "difficulty": 2, "n": 4, "c": 0},
        {"family": "chain", "difficulty": 2, "n": 4, "c": 2},
    ]
    out = passk.summarise(records, [1, 2, 4])
    assert out["overall"]["pass_at_k"]["1"] == pytest.approx((1 + 0.25 + 0 + 0.5) / 4)
    assert out["overall"]["coverage"] == 0.75 == out["overall"]["pass_at_k"]["4"]
    assert out["by_difficulty"]["2"]["pass_at_k"]["2"] == pytest.approx((0 + passk.pass_at_k(4, 2, 2)) / 2)
    assert out["by_family"]["chain"]["problems"] == 1
    assert set(out["by_family_difficulty"]) == {"addition/1", "addition/2", "chain/2"}


def test_crossover_statuses():
    tuned = {1: 0.6, 2: 0.7, 4: 0.75, 8: 0.78}
    assert passk.crossover({1: 0.3, 2: 0.5, 4: 0.75, 8: 0.9}, tuned) == {"status": "crosses", "k": 4}
    assert passk.crossover({1: 0.1, 2: 0.2, 4: 0.3, 8: 0.4}, tuned) == {"status": "never", "k": None}
    assert passk.crossover({1: 0.7, 2: 0.8, 4: 0.9, 8: 0.95}, tuned)["status"] == "base_ahead_from_start"


def _records(cs: list[int], n: int = 4) -> list[dict]:
    return [{"family": "addition", "difficulty": 1, "n": n, "c": c, "prompt": f"p{i}"} for i, c in enumerate(cs)]


def test_pass_at_k_intervals_known_answers():
    """Identical models differ by exactly 0 at every k; a model that solves everything against one
    that solves nothing differs by exactly 1; the base always 2/4 right is exact (no spread)."""
    ks = [1, 2, 4]
    same = _records([0, 1, 2, 3, 4] * 4)
    zero = passk.gain_intervals(same, [same], ks)
    assert all((e["value"], e["low"], e["high"]) == (0.0, 0.0, 0.0) for e in zero.values())
    full = passk.gain_intervals(_records([0] * 10), [_records([4] * 10)], ks)
    assert all((e["value"], e["low"], e["high"]) == (1.0, 1.0, 1.0) for e in full.values())
    steady = passk.curve_intervals([_records([2] * 10)], ks)
    assert steady["1"]["value"] == 0.5 and steady["1"]["low"] == steady["1"]["high"] == 0.5
    assert steady["4"]["value"] == 1.0  # 2 of 4 wrong: any 4 of them include a right one
    # half the problems always right, half never: pass@k = 0.5 at every k, with a bootstrap interval
    half = passk.curve_intervals([_records([4, 0] * 10)], ks)["2"]
    assert half["value"] == 0.5 and half["low"] < 0.5 < half["high"] and half["n"] == 20
    # two seeds of the same group: the shared problems are resampled together
    pooled = passk.curve_intervals([_records([4, 0] * 10), _records([4, 0] * 10)], ks)["1"]
    assert pooled["seeds"] == 2 and "shared problems" in pooled["method"]
    assert passk.gain_intervals(_records([1, 2]), [_records([1, 2])[::-1]], ks) is None  # not the same problems


def test_cli_end_to_end_with_a_run_dir_model(tmp_path):
    """A run dir as --model expands to its first and last checkpoint; the JSON is self-consistent."""
    from rl_lab.cli import main
    from rl_lab.core.io import atomic_write_yaml

    run = write_run(tmp_path / "run", {1: rollout_rows(1, {"steps": 2})}, config_dict(tmp_path / "run"))
    write_checkpoints(run, (0, 4))
    cfg = tmp_path / "cfg.yaml"
    atomic_write_yaml(cfg, config_dict(tmp_path / "out"))
    out = tmp_path / "passk"
    assert main(["eval", "passk", "--model", str(run), "--config", str(cfg), "--n", "4", "--k", "1,2,4",
                 "--problems-per-level", "2", "--out", str(out)]) == 0
    res = read_json(out / "analysis" / "passk.json")
    assert list(res["models"]) == ["run:step_0", "run:step_4"] and res["base"] == "run:step_0"
    assert res["inputs"]["n"] == 4 and res["inputs"]["ks"] == [1, 2, 4] and res["inputs"]["problems"] == 6
    for model in res["models"].values():
        curve = model["overall"]["pass_at_k"]
        assert curve["1"] <= curve["2"] <= curve["4"]
        assert curve["4"] == pytest.approx(model["overall"]["coverage"])
        recomputed = passk.curve([(r["n"], r["c"]) for r in model["per_problem"]], [1])[1]
        assert curve["1"] == pytest.approx(recomputed)
        assert set(model["by_difficulty"]) == {"1", "2", "3"}
    assert res["crossover"]["run:step_4"]["overall"]["status"] in ("crosses", "never", "base_ahead_from_start")
    for label, model in res["models"].items():  # every pass@k carries its interval over the 6 problems
        for k, value in model["overall"]["pass_at_k"].items():
            est = model["overall"]["pass_at_k_interval"][k]
            assert est["value"] == pytest.approx(value) and est["n"] == 6 and est["low"] <= value <= est["high"]
        assert model["group"] == f"fixed @ {label.split(':')[1]}"  # the run's group label and the step
    gain = res["models"]["run:step_4"]["vs_base"]["1"]
    assert gain["value"] == pytest.approx(res["models"]["run:step_4"]["overall"]["pass_at_k"]["1"]
                                          - res["models"]["run:step_0"]["overall"]["pass_at_k"]["1"])
    assert set(res["groups"]) == {"fixed @ step_0", "fixed @ step_4"}
    assert res["groups"]["fixed @ step_0"]["vs_base"] is None  # the base's own group
    assert res["groups"]["fixed @ step_4"]["vs_base"]["4"]["value"] == pytest.approx(
        res["models"]["run:step_4"]["vs_base"]["4"]["value"])
    assert (out / "plots" / "passk.png").is_file() and (out / "plots" / "passk_by_difficulty.png").is_file()


def test_cli_rejects_k_above_n(tmp_path, capsys):
    from rl_lab.cli import main
    from rl_lab.core.io import atomic_write_yaml

    cfg = tmp_path / "cfg.yaml"
    atomic_write_yaml(cfg, config_dict(tmp_path / "out"))
    assert main(["eval", "passk", "--model", str(tmp_path), "--config", str(cfg), "--n", "4", "--k", "8"]) == 2
    assert "outside 1..n=4" in capsys.readouterr().err


def test_model_labels_name_the_run_of_a_checkpoint(tmp_path):
    from rl_lab.analysis.passk_run import expand_models

    a = tmp_path / "trials" / "seed-0" / "checkpoints" / "step_120"
    b = tmp_path / "trials" / "seed-1" / "checkpoints" / "step_120"
    plain = tmp_path / "mymodel"
    for p in (a, b, plain):
        p.mkdir(parents=True)
        (p / "config.json").write_text("{}")
    labels = [label for label, _ in expand_models([str(a), str(b), str(plain), f"base={plain}"])]
    assert labels == ["seed-0:step_120", "seed-1:step_120", "mymodel", "base"]


def test_cli_takes_dotted_config_overrides(tmp_path, capsys):
    """Like every other command, ``eval passk`` applies KEY=VALUE overrides to --config before sampling."""
    from rl_lab.cli import main
    from rl_lab.core import seeds
    from rl_lab.core.io import atomic_write_yaml

    run = write_run(tmp_path / "run", {1: rollout_rows(1, {"steps": 2})}, config_dict(tmp_path / "run"))
    write_checkpoints(run, (0, 4))
    cfg = tmp_path / "cfg.yaml"
    atomic_write_yaml(cfg, config_dict(tmp_path / "out"))
    out = tmp_path / "passk"
    overrides = ["analysis.passk_problems_per_level=1", "seed=5"]
    assert main(["eval", "passk", "--model", str(run), "--config", str(cfg), "--n", "2", "--out", str(out),
                 *overrides]) == 0
    inputs = read_json(out / "analysis" / "passk.json")["inputs"]
    assert inputs["problems_per_level"] == 1 and inputs["problems"] == 3  # one problem per level, 3 levels
    assert inputs["problem_seed"] == seeds.stream(seeds.PASSK, 5)
    assert inputs["config_overrides"] == overrides
    capsys.readouterr()
    assert main(["eval", "passk", "--model", str(run), "--config", str(cfg), "analysis.passk_top_p=2"]) == 2
    assert "analysis.passk_top_p" in capsys.readouterr().err
