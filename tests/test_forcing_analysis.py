"""``rl-lab analyze forcing``: the share of RL's gain that forcing a format in the base recovers.

Pure known-answer tests on constructed correctness vectors, then the runner on a tiny run dir.
"""

from __future__ import annotations

import json

import pytest
from behaviour_fixtures import (  # noqa: F401
    config_dict,
    single_thread,
    tiny_trained_run,
    write_checkpoints,
    write_run,
)

from rl_lab.analysis import forcing
from rl_lab.cli import main


def test_share_is_recovered_over_gained_with_an_interval_around_it():
    # 100 problems: base solves 20, RL solves 60 (gain 0.40), forcing solves 40 (recovered 0.20)
    base = [1.0] * 20 + [0.0] * 80
    tuned = [1.0] * 60 + [0.0] * 40
    forced = [1.0] * 40 + [0.0] * 60
    out = forcing.share_recovered(base, forced, tuned)
    assert out["gain"]["value"] == pytest.approx(0.40) and out["recovered"]["value"] == pytest.approx(0.20)
    assert out["share"] == pytest.approx(0.5)
    si = out["share_interval"]
    assert si["low"] < 0.5 < si["high"] and si["high"] - si["low"] < 0.6  # resampling problems moves the ratio


def test_forcing_better_than_rl_gives_a_share_above_one():
    base, tuned, forced = [0.0] * 50 + [1.0] * 10, [1.0] * 30 + [0.0] * 20 + [1.0] * 10, [1.0] * 60
    assert forcing.share_recovered(base, forced, tuned)["share"] == pytest.approx(50 / 30)


def test_no_share_of_a_gain_indistinguishable_from_zero():
    base = [1.0, 0.0] * 20
    tuned = [0.0, 1.0] * 20  # the same accuracy, different problems
    out = forcing.share_recovered(base, [1.0] * 40, tuned)
    assert out["share"] is None and out["share_interval"] is None
    assert "includes 0" in out["why_no_share"]
    with pytest.raises(ValueError):
        forcing.share_recovered([1.0], [1.0, 0.0], [1.0])


def test_no_share_of_a_loss():
    """Hard-only RL in the quickstart lost accuracy on its own levels: a 'share' of a loss (it printed
    -0.58 [-2.00, 0.00]) means nothing; the record says RL lost and what forcing did instead."""
    base, tuned, forced = [1.0] * 30 + [0.0] * 50, [1.0] * 10 + [0.0] * 70, [1.0] * 40 + [0.0] * 40
    out = forcing.share_recovered(base, forced, tuned)
    assert out["share"] is None and "lost accuracy" in out["why_no_share"] and "+0.125" in out["why_no_share"]


def test_best_format_is_chosen_on_the_picking_half_only():
    forced = {"terse": [1, 0, 1, 0], "steps": [0, 1, 0, 1]}  # terse wins the even problems, steps the odd ones
    pick, measure = forcing.halves(4)
    assert (pick, measure) == ([0, 2], [1, 3])
    assert forcing.best_format(forced, pick) == "terse" and forcing.best_format(forced, measure) == "steps"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return tiny_trained_run(tmp_path_factory.mktemp("forcing") / "run")


def test_runner_forces_every_format_and_records_why_no_share(tiny_run, capsys):
    assert main(["analyze", "forcing", str(tiny_run)]) == 0
    payload = json.loads((tiny_run / "analysis" / "forcing.json").read_text())
    assert payload["policies"] == ["base", "forced terse", "forced steps", "forced tagged", "RL-tuned"]
    assert set(payload["by_cell"]) == {"addition/1", "addition/2"}
    assert payload["inputs"]["problems"] == 8 and payload["inputs"]["tuned_step"] == 4
    # forced answers start as forced, whatever the random model writes after
    assert all(c.startswith("[") for c in payload["examples"]["forced steps"])
    assert all(c.startswith("<answer>") for c in payload["examples"]["forced tagged"])
    # random tiny models solve nothing: no gain, so no share, and the record says why
    assert payload["share_of_rl_gain"]["share"] is None and payload["share_of_rl_gain"]["why_no_share"]
    assert (tiny_run / "plots" / "forcing.png").stat().st_size > 0
    assert "undefined" in capsys.readouterr().out


def test_a_run_without_a_trained_checkpoint_exits_2(tmp_path, capsys):
    run = write_run(tmp_path / "run", {}, config_dict(tmp_path / "run"), metrics=[{"step": 0, "reward": 0.0}])
    write_checkpoints(run, (0,))
    assert main(["analyze", "forcing", str(run)]) == 2
    assert "no trained checkpoint" in capsys.readouterr().err
    assert not (run / "analysis" / "forcing.json").exists()


def test_report_shows_the_choosing_section_from_forcing_json(tiny_run, tmp_path):
    import re

    assert main(["analyze", "forcing", str(tiny_run)]) == 0
    out = tmp_path / "page.html"
    assert main(["report", str(tiny_run), "--out", str(out)]) == 0
    page = out.read_text()
    section = re.search(r'<section[^>]*id="choosing".*?</section>', page, re.S)
    assert section, "no choosing section"
    text = section.group(0)
    assert "forced steps" in text and "RL-tuned" in text and "undefined" in text and "<img" in text


def test_report_without_forcing_says_how_to_run_it(tmp_path):
    run = write_run(tmp_path / "run", {}, config_dict(tmp_path / "run"), metrics=[{"step": 1, "reward": 0.0}])
    out = tmp_path / "page.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert "rl-lab analyze forcing" in out.read_text()
