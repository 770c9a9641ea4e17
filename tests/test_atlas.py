"""``rl-lab atlas`` end to end on a micro version of one study (real two-stage sweep on a local Ray, real
analyses), resumed, and the page of an atlas with nothing run."""

from __future__ import annotations

import pytest

from rl_lab.cli import main
from rl_lab.core.io import read_json

pytest.importorskip("ray")

MICRO = ["pretrain.num_examples=200", "pretrain.steps=3", "pretrain.batch_size=8", "pretrain.warmup_steps=0",
         "eval.problems_per_level=2", "eval.max_new_tokens=8", "train.steps=2", "train.batch_size=4",
         "train.num_generations=2", "train.max_completion_length=6", "train.problems=16", "train.save_every=0",
         "train.rollouts_per_step=2", "analysis.probe_problems_per_level=2", "analysis.drift_prompts=2",
         "analysis.passk_problems_per_level=1", "ray.num_cpus=2"]


def test_page_of_an_empty_atlas_says_every_study_is_not_run(tmp_path):
    assert main(["atlas", "--page-only", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "atlas.html").read_text()
    atlas = read_json(tmp_path / "atlas.json")
    studies = {s["study"]: s for s in atlas["studies"]}
    assert {"precision", "hard_only_causes", "easy_to_hard", "exposure", "format_collapse"} <= set(studies)
    assert all(studies[s]["missing"] and not studies[s]["claims"] for s in studies if s != "passk_drift")
    assert page.count("not run / not available") == 5
    assert "Content-Security-Policy" in page


def test_micro_easy_to_hard_study_runs_analyses_and_resumes(tmp_path):
    root = tmp_path / "atlas"
    assert main(["atlas", "--only", "easy_to_hard", "--out", str(root), *MICRO]) == 0
    sweep = root / "easy_to_hard" / "sweep"
    summary = read_json(sweep / "sweep_summary.json")
    assert [t["status"] for t in summary["trials"]] == ["done"] * 3
    assert [b["status"] for b in summary["bases"]] == ["done"] and (root / "bases" / summary["bases"][0]["name"]).is_dir()
    for name in ("formats", "contamination", "drift"):
        assert (sweep / "analysis" / f"{name}.json").is_file()
    assert list((sweep / "by_base").glob("*/analysis/passk.json"))
    assert list((sweep / "analysis" / "updates").glob("*.json"))
    atlas = read_json(root / "atlas.json")
    study = next(s for s in atlas["studies"] if s["study"] == "easy_to_hard")
    assert study["missing"] is None
    (claim,) = study["claims"]
    assert claim["verdict"] in ("appeared", "did not appear", "inconclusive")
    assert [n[0] for n in claim["numbers"]] == ["held-out level 3: pass@1 change", "held-out level 4: pass@1 change"]
    assert all("[" in n[1] for n in claim["numbers"])  # every number with its interval
    timings = read_json(root / "timings.json")["easy_to_hard"]
    assert timings["sweep_s"] > 0 and timings["analysis_s"] > 0
    assert any(c.startswith("rl-lab sweep") for c in timings["commands"])
    first = {p: p.stat().st_mtime_ns for p in sweep.rglob("*.json") if "analysis" in p.parts}
    # a second atlas resumes: the finished sweep is kept, no analysis is redone
    assert main(["atlas", "--only", "easy_to_hard", "--out", str(root), *MICRO]) == 0
    assert {p: p.stat().st_mtime_ns for p in first} == first
    assert [t["status"] for t in read_json(sweep / "sweep_summary.json")["trials"]] == ["done"] * 3
