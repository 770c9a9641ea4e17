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
