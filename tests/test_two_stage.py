"""Two-stage sweeps: base-model variants pretrained once as Ray trials, RL trials starting from theirs.

The pure split is tested without Ray; one real two-stage sweep (2 micro bases x 2 RL seeds) runs on a
local Ray, then a second sweep sharing its bases_dir, then a resume after one base was damaged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from rl_lab.cli import main
from rl_lab.core.config import load_raw
from rl_lab.core.errors import ConfigError
from rl_lab.core.io import read_json

ray = pytest.importorskip("ray")


def write_config(path: Path, out: Path, grid: dict, **sections) -> Path:
    data = {
        "name": "twostage",
        "output_dir": str(out),
        "environments": {"families": [{"name": "addition", "role": "trained", "levels": [1, 2]}]},
        "pretrain": {"num_examples": 200, "steps": 3, "batch_size": 8, "logging_steps": 1, "warmup_steps": 0},
        "eval": {"problems_per_level": 2, "max_new_tokens": 8},
        "train": {"steps": 2, "batch_size": 4, "num_generations": 2, "max_completion_length": 6, "problems": 16,
                  "rollouts_per_step": 2, "learning_rate": 1e-3},
        "sweep": {"grid": grid, "max_failures": 0, "cpus_per_trial": 1},
        "ray": {"num_cpus": 2},
    }
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --------------------------------------------------------------------------- the pure split
def test_base_keys_are_pretraining_and_model_shape_not_dtype():
    from rl_lab.sweep.grid import is_base_key

    assert is_base_key("pretrain.steps") and is_base_key("pretrain") and is_base_key("model.preset")
    assert not is_base_key("model.dtype") and not is_base_key("model.path")
    assert not is_base_key("seed") and not is_base_key("train.learning_rate") and not is_base_key("curriculum")


def test_split_shares_one_base_per_pretraining_point(tmp_path):
    from rl_lab.config import validate_config
    from rl_lab.sweep.grid import split_bases, two_stage, validate_grid

    cfg_file = write_config(tmp_path / "s.yaml", tmp_path / "out",
                            {"pretrain.steps": [3, 4], "seed": [0, 1], "model.dtype": ["float32", "bfloat16"]})
    raw = load_raw(cfg_file)
    base, points, names, _configs = validate_grid(raw)
    assert two_stage(base)
    variants, of_point = split_bases(raw, base, points)
    assert len(points) == 8 and len(variants) == 2  # seed and dtype are RL keys: they share a base
    by_steps = {v.point["pretrain.steps"]: v for v in variants}
    assert set(by_steps) == {3, 4}
    for point, variant in zip(points, of_point, strict=True):
        assert variant == by_steps[point["pretrain.steps"]].name
    for variant in variants:  # the base keeps the sweep's own seed and dtype, whatever the RL grid says
        cfg = validate_config(variant.raw)
        assert cfg.seed == 0 and cfg.model.dtype == "float32" and cfg.sweep.grid == {}
        assert variant.name.endswith(variant.fingerprint)
    assert by_steps[3].fingerprint != by_steps[4].fingerprint


def test_sweep_pretrain_without_base_keys_gives_one_shared_base(tmp_path):
    from rl_lab.sweep.grid import split_bases, two_stage, validate_grid

    raw = load_raw(write_config(tmp_path / "s.yaml", tmp_path / "out", {"seed": [0, 1]}, sweep={"pretrain": True}))
    base, points, _names, _configs = validate_grid(raw)
    assert two_stage(base)
    variants, of_point = split_bases(raw, base, points)
    assert [v.name for v in variants] == [f"base-{variants[0].fingerprint}"] and len(set(of_point)) == 1
    plain = load_raw(write_config(tmp_path / "p.yaml", tmp_path / "out", {"seed": [0, 1]}))
    assert not two_stage(validate_grid(plain)[0])


@pytest.mark.parametrize(("extra", "overrides", "needle"), [
    ({}, ["train.base_model=/somewhere/model"], "train.base_model"),
    ({}, ["model.path=/somewhere/real"], "model.path"),
    ({"pretrain.format_mixture": [{"terse": 1.0}, {"nonsense_format": 1.0}]}, [], "pretrain.format_mixture"),
])
def test_bad_two_stage_sweep_exits_2_and_writes_nothing(tmp_path, capsys, extra, overrides, needle):
    out = tmp_path / "out"
    cfg_file = write_config(tmp_path / "s.yaml", out, {"pretrain.steps": [3, 4], **extra})
    assert main(["sweep", str(cfg_file), *overrides]) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert not out.exists()


def test_a_folder_holding_another_base_is_refused(tmp_path):
    from rl_lab.config import validate_config
    from rl_lab.sweep.bases import variant_state
    from rl_lab.sweep.grid import split_bases, validate_grid

    raw = load_raw(write_config(tmp_path / "s.yaml", tmp_path / "out", {"pretrain.steps": [3]}))
    base, points, _n, _c = validate_grid(raw)
    (variant,), _ = split_bases(raw, base, points)
    folder = tmp_path / "b"
    assert variant_state(variant, folder) == "absent"
    folder.mkdir()
    resolved = validate_config(variant.raw).to_dict()  # what pretrain() saves
    other = dict(resolved, pretrain={**resolved["pretrain"], "learning_rate": 0.5})
    (folder / "config.yaml").write_text(yaml.safe_dump(other))
    with pytest.raises(ConfigError, match="pretrain.learning_rate"):
        variant_state(variant, folder)
    (folder / "config.yaml").write_text(yaml.safe_dump(resolved))
    assert variant_state(variant, folder) == "partial"  # config but no checkpoint yet


# --------------------------------------------------------------------------- real two-stage sweeps on Ray
def tensors_digest(folder: Path) -> str:
    from safetensors import safe_open

    digest = hashlib.sha256()
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        for key in sorted(f.keys()):
            digest.update(key.encode())
            digest.update(f.get_tensor(key).float().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def staged_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("twostage")
    cfg_file = write_config(tmp / "s.yaml", tmp / "out", {"pretrain.steps": [3, 4], "seed": [0, 1]})
    code = main(["sweep", str(cfg_file)])
    sweep_dir = tmp / "out" / "sweep"
    return code, cfg_file, sweep_dir, read_json(sweep_dir / "sweep_summary.json")


def test_each_base_is_trained_once_and_trials_start_from_theirs(staged_sweep):
    code, _cfg, sweep_dir, summary = staged_sweep
    assert code == 0, summary
    bases = {b["name"]: b for b in summary["bases"]}
    assert len(bases) == 2 and all(b["status"] == "done" and b["trained_now"] for b in bases.values())
    for row in bases.values():
        folder = Path(row["dir"])
        assert folder.parent == sweep_dir / "bases"
        assert read_json(folder / "eval.json")  # the base's own evaluation table
        assert read_json(folder / "corpus_manifest.json")
        # pretrain.steps of the variant is what its trainer ran
        steps = [r["step"] for r in map(__import__("json").loads, (folder / "metrics.jsonl").read_text().splitlines())]
        assert max(steps) == row["point"]["pretrain.steps"]
    digests = {name: tensors_digest(Path(b["model"])) for name, b in bases.items()}
    assert len(set(digests.values())) == 2  # two different bases
    for trial in summary["trials"]:
        assert trial["status"] == "done"
        variant = trial["base"]["variant"]
        assert bases[variant]["point"]["pretrain.steps"] == trial["config_point"]["pretrain.steps"]
        # the trial's step_0 (what every analysis compares against) is its own variant
        assert tensors_digest(Path(trial["run_dir"]) / "checkpoints" / "step_0") == digests[variant]
        assert yaml.safe_load((Path(trial["run_dir"]) / "config.yaml").read_text())["train"]["base_model"] == \
            trial["base"]["model"]


def test_a_second_sweep_sharing_bases_dir_trains_no_base(staged_sweep, tmp_path):
    _code, cfg_file, sweep_dir, summary = staged_sweep
    before = {b["name"]: Path(b["model"], "model.safetensors").stat().st_mtime_ns for b in summary["bases"]}
    out = tmp_path / "other"
    code = main(["sweep", str(cfg_file), f"output_dir={out}", f"sweep.bases_dir={sweep_dir / 'bases'}",
                 "sweep.grid.seed=[2]"])
    assert code == 0
    second = read_json(out / "sweep" / "sweep_summary.json")
    assert {b["name"] for b in second["bases"]} == set(before)
    assert not any(b["trained_now"] for b in second["bases"])
    assert {b["name"]: Path(b["model"], "model.safetensors").stat().st_mtime_ns for b in second["bases"]} == before
    assert not (out / "sweep" / "bases").exists()


def test_resume_retrains_only_the_damaged_base(staged_sweep):
    import shutil

    _code, cfg_file, sweep_dir, summary = staged_sweep
    damaged, kept = summary["bases"]
    kept_digest = tensors_digest(Path(kept["model"]))
    damaged_digest = tensors_digest(Path(damaged["model"]))
    shutil.rmtree(damaged["model"])
    assert main(["sweep", str(cfg_file), "--resume"]) == 0
    rows = {b["name"]: b for b in read_json(sweep_dir / "sweep_summary.json")["bases"]}
    assert rows[damaged["name"]]["trained_now"] and not rows[kept["name"]]["trained_now"]
    assert tensors_digest(Path(kept["model"])) == kept_digest
    assert tensors_digest(Path(damaged["model"])) == damaged_digest  # pretraining is deterministic on one host


# --------------------------------------------------------------------------- named arms
def test_arms_cross_the_grid_and_set_their_keys_together(tmp_path):
    from rl_lab.sweep.grid import full_grid, split_bases, trial_raw, validate_grid

    arms = {"matched": {"curriculum": {"kind": "fixed", "levels": [1, 2]}},
            "hard_kl": {"curriculum.kind": "hard_only", "train.beta": 0.1},
            "nano": {"model.preset": "nano"}}
    raw = load_raw(write_config(tmp_path / "s.yaml", tmp_path / "out", {"seed": [0, 1]}, sweep={"arms": arms}))
    base, points, names, configs = validate_grid(raw)
    assert list(full_grid(base)) == ["arm", "seed"]
    assert len(points) == 6 and "arm-hard_kl_seed-1" in names
    by_name = dict(zip(names, configs, strict=True))
    hard = by_name["arm-hard_kl_seed-1"]
    assert (hard.curriculum.kind, hard.train.beta, hard.seed) == ("hard_only", 0.1, 1)
    assert by_name["arm-matched_seed-0"].train.beta == 0.0
    assert trial_raw(raw, points[0])["sweep"].get("arms") is None  # a trial is one run
    variants, of_point = split_bases(raw, base, points)  # an arm that changes the model needs its own base
    assert len(variants) == 2
    assert {v.point.get("model.preset") for v in variants} == {None, "nano"}
    # model.preset: tiny is the default: the same base as no preset at all, so it shares that folder
    same, _ = split_bases(raw, base, [{"arm": "matched"}])
    tiny, _ = split_bases(trial_raw(raw, {}) | {"sweep": {"arms": {"t": {"model.preset": "tiny"}}}}, base,
                          [{"arm": "t"}])
    assert same[0].name == tiny[0].name
    assert len({of_point[i] for i, p in enumerate(points) if p["arm"] != "nano"}) == 1


@pytest.mark.parametrize(("arms", "needle"), [
    ({"bad": {"train.stepz": 3}}, "train.stepz"),
    ({"bad": {"sweep.max_failures": 3}}, "sweep.arms.bad.sweep.max_failures"),
    ({"bad name": {"train.beta": 0.1}}, "arms.bad name"),
    ({"empty": {}}, "arms.empty"),
])
def test_bad_arms_exit_2_naming_the_arm(tmp_path, capsys, arms, needle):
    out = tmp_path / "out"
    cfg_file = write_config(tmp_path / "s.yaml", out, {"seed": [0]}, sweep={"arms": arms, "pretrain": True})
    assert main(["sweep", str(cfg_file)]) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert not out.exists()


# --------------------------------------------------------------------------- the atlas' study configs
STUDIES = sorted((Path(__file__).resolve().parents[1] / "configs" / "studies").glob("*.yaml"))


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_study_configs_prepare_as_two_stage_sweeps_with_3_seeds(path, tmp_path):
    from rl_lab.sweep.runner import prepare

    plan = prepare(load_raw(path, [f"output_dir={tmp_path / path.stem}", f"sweep.bases_dir={tmp_path / 'bases'}"]))
    assert plan["variants"], "every study pretrains (or reuses) its bases in the first stage"
    assert len(plan["cfg"].sweep.grid["seed"]) >= 3
    assert not (tmp_path / path.stem).exists()  # preparing writes nothing


def test_studies_on_the_quickstart_mixture_share_the_demos_base(tmp_path):
    """One base for precision, hard_only_causes, easy_to_hard and format_collapse's tiny arm: the atlas
    pretrains it once (or adopts make demo's), so the study configs must not drift from quickstart.yaml."""
    from rl_lab.cli.atlas import CONFIGS, STUDIES
    from rl_lab.config import load_config
    from rl_lab.sweep.grid import base_fingerprint, split_bases, validate_grid

    demo = f"base-{base_fingerprint(load_config(CONFIGS.parent / 'quickstart.yaml'))}"
    assert {s.name for s in STUDIES} == {p.stem for p in STUDIES_FILES}
    for name in ("precision", "hard_only_causes", "easy_to_hard", "format_collapse"):
        raw = load_raw(CONFIGS / f"{name}.yaml")
        base, points, _n, _c = validate_grid(raw)
        variants, _ = split_bases(raw, base, points)
        assert demo in {v.name for v in variants}, name


STUDIES_FILES = STUDIES
