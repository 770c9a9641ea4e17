"""``rl-lab analyze steering``: a vector from the base's own forced answers, accuracy and formats against strength."""

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

from rl_lab.cli import main


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return tiny_trained_run(tmp_path_factory.mktemp("steer") / "run")


def test_vector_is_saved_and_strength_zero_is_the_base(tiny_run):
    from rl_lab.analysis.forcing_run import answers, problems_for
    from rl_lab.analysis.settings import forcing_settings
    from rl_lab.core.rundir import RunDir
    from rl_lab.core.sampler import load_sampler
    from rl_lab.core.steering import load_steering_vector

    assert main(["analyze", "steering", str(tiny_run), "--contrast", "steps:terse", "--strengths", "0,3",
                 "--layer", "1"]) == 0
    payload = json.loads((tiny_run / "analysis" / "steering.json").read_text())
    assert payload["layer"] == 1 and set(payload["by_strength"]) == {"0", "3"}
    assert payload["inputs"]["problems_for_vector"] == payload["inputs"]["problems_measured"] == 4
    vector = load_steering_vector(payload["vector"])
    assert vector.layer == 1 and vector.metadata["towards"] == "steps" and vector.metadata["away_from"] == "terse"
    assert float(vector.vector.norm()) == pytest.approx(payload["vector_norm"]) and payload["vector_norm"] > 0
    # strength 0 adds nothing: the base's own greedy answers on the measured half
    run = RunDir(tiny_run)
    s = forcing_settings(run.config)
    held_out = problems_for(run.config, s).select([1, 3, 5, 7])
    plain = answers(run.config, load_sampler(tiny_run / "checkpoints" / "step_0"), held_out, s)
    assert payload["by_strength"]["0"]["examples"] == [r["completion"] for r in plain[:3]]
    assert payload["by_strength"]["3"]["examples"] != payload["by_strength"]["0"]["examples"]
    assert (tiny_run / "plots" / "steering.png").stat().st_size > 0


@pytest.mark.parametrize(("args", "message"), [
    (["--contrast", "steps:boxed"], "cannot be forced"),
    (["--contrast", "steps"], "TOWARDS:AWAY"),
    (["--contrast", "steps:terse", "--strengths", "1,nan"], "finite"),
    (["--contrast", "steps:terse", "--layer", "9"], "layer 9 does not exist"),
])
def test_bad_steering_arguments_exit_2(tiny_run, capsys, args, message):
    assert main(["analyze", "steering", str(tiny_run), *args]) == 2
    assert message in capsys.readouterr().err


def test_report_shows_the_steering_table(tiny_run, tmp_path):
    import re

    assert main(["analyze", "steering", str(tiny_run), "--contrast", "tagged:terse", "--strengths", "0,1"]) == 0
    out = tmp_path / "page.html"
    assert main(["report", str(tiny_run), "--out", str(out)]) == 0
    section = re.search(r'<section[^>]*id="choosing".*?</section>', out.read_text(), re.S).group(0)
    assert "Activation steering" in section and "tagged − terse" in section


# --------------------------------------------------------------------------- rl-lab steer vector
def test_steer_vector_writes_safetensors_with_metadata(tiny_run, tmp_path):
    from safetensors import safe_open

    from rl_lab.core.steering import load_steering_vector

    out = tmp_path / "v.safetensors"
    assert main(["steer", "vector", str(tiny_run), "--contrast", "format:steps:terse", "--layer", "1",
                 "--out", str(out)]) == 0
    with safe_open(str(out), framework="pt") as handle:
        meta = handle.metadata()
        shape = handle.get_slice("vector").get_shape()
    assert meta["layer"] == "1" and meta["towards"] == "steps" and meta["away_from"] == "terse"
    assert meta["contrast"] == "format" and meta["base"].endswith("step_0") and meta["method"] == "mean_difference"
    assert meta["n_positive"] == meta["n_negative"] == "4"  # the even-indexed half of 2 levels x 4 problems
    assert shape == [json.loads((tiny_run / "checkpoints" / "step_0" / "config.json").read_text())["hidden_size"]]
    # the same vector analyze steering builds for the same contrast and layer (one code path)
    assert main(["analyze", "steering", str(tiny_run), "--contrast", "steps:terse", "--strengths", "0",
                 "--layer", "1"]) == 0
    built = load_steering_vector(json.loads((tiny_run / "analysis" / "steering.json").read_text())["vector"])
    assert load_steering_vector(out).vector.equal(built.vector)


def test_analyze_steering_measures_a_given_vector(tiny_run, tmp_path):
    out = tmp_path / "given.safetensors"
    assert main(["steer", "vector", str(tiny_run), "--contrast", "tagged:terse", "--layer", "0", "--out", str(out)]) == 0
    assert main(["analyze", "steering", str(tiny_run), "--vector", str(out), "--strengths", "0,2"]) == 0
    payload = json.loads((tiny_run / "analysis" / "steering.json").read_text())
    assert payload["vector"] == str(out) and payload["inputs"]["vector_given"] is True and payload["layer"] == 0
    assert payload["contrast"] == {"towards": "tagged", "away_from": "terse", "by": "format"}
    assert set(payload["by_strength"]) == {"0", "2"}


@pytest.mark.parametrize(("args", "message"), [
    (["--contrast", "steps:terse", "--layer", "9"], "layer 9 does not exist"),
    (["--contrast", "steps:terse:x"], "TOWARDS:AWAY"),
    (["--contrast", "steps:boxed"], "cannot be forced"),
    (["--contrast", "correct"], "needs both correct and incorrect answers"),  # a random base solves nothing
])
def test_steer_vector_refuses_bad_input_and_writes_nothing(tiny_run, tmp_path, capsys, args, message):
    out = tmp_path / "v.safetensors"
    assert main(["steer", "vector", str(tiny_run), *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_given_vector_at_another_layer_exits_2(tiny_run, tmp_path, capsys):
    out = tmp_path / "v1.safetensors"
    assert main(["steer", "vector", str(tiny_run), "--contrast", "steps:terse", "--layer", "1", "--out", str(out)]) == 0
    assert main(["analyze", "steering", str(tiny_run), "--vector", str(out), "--layer", "0"]) == 2
    assert "computed at layer 1" in capsys.readouterr().err


def test_negative_strength_lists_parse_as_written(tiny_run):
    """``--strengths -2,0,2`` (the usual way to write it) was refused by argparse as an unknown option."""
    from rl_lab.cli import join_negative_lists

    assert join_negative_lists(["RUN", "--strengths", "-2,-1,0,2"]) == ["RUN", "--strengths=-2,-1,0,2"]
    assert join_negative_lists(["--layer", "-1"]) == ["--layer", "-1"]  # one number: argparse's own business
    assert join_negative_lists(["--strengths", "-x,1"]) == ["--strengths", "-x,1"]
    assert main(["analyze", "steering", str(tiny_run), "--contrast", "steps:terse", "--strengths", "-1,0",
                 "--layer", "1"]) == 0
    assert set(json.loads((tiny_run / "analysis" / "steering.json").read_text())["by_strength"]) == {"-1", "0"}
