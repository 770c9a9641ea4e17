"""Low-footprint arms beside full GRPO: LoRA through TRL's peft_config, and SFT on the same problems.

Known answers: a LoRA update B A has rank <= r in every adapted matrix and leaves every other tensor
(embeddings, norms, biases) untouched; SFT on correct solutions lowers their loss; SFT step g draws the
problems GRPO step g draws.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from test_train_run import build_micro_model
from test_train_run import raw_config as train_run_config

from rl_lab.config import validate_config
from rl_lab.core.errors import ConfigError
from rl_lab.core.io import read_json, read_jsonl

RANK = 2
ADAPTED = re.compile(r"\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$")


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory) -> Path:
    return build_micro_model(tmp_path_factory)


def raw_config(base: Path, out: Path, **train) -> dict:
    """test_train_run's micro config on a fixed curriculum (SFT refuses the adaptive one)."""
    return {**train_run_config(base, out, **train), "curriculum": {"kind": "fixed"}}


def weights(path: Path, name: str = "model.safetensors") -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / name))


@pytest.fixture(scope="module")
def lora_run(micro_model, tmp_path_factory):
    from rl_lab.train import run_training

    cfg = validate_config(raw_config(micro_model, tmp_path_factory.mktemp("lora"), peft={"r": RANK}))
    return cfg.train_dir, run_training(cfg)


@pytest.fixture(scope="module")
def sft_run(micro_model, tmp_path_factory):
    from rl_lab.train import run_training

    cfg = validate_config(raw_config(micro_model, tmp_path_factory.mktemp("sft"), method="sft", steps=8,
                                     save_steps=[4]))
    return cfg, run_training(cfg)


# --------------------------------------------------------------------------- LoRA
def test_lora_checkpoints_hold_full_weights_and_the_adapter(lora_run, micro_model):
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.models import load_model

    run, final = lora_run
    assert final["step"] == 4
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0", "step_2", "step_4"]
    for step in (0, 2, 4):
        ckpt = run / "checkpoints" / f"step_{step}"
        validate_checkpoint(ckpt)
        load_model(ckpt)  # a plain transformers model: no lora_ / base_layer keys
        assert not any("lora_" in k or "base_layer" in k for k in weights(ckpt))
        adapter = weights(ckpt, "adapter_model.safetensors")
        assert adapter and all("lora_" in k for k in adapter)
    # step_0 is the base itself (B starts at zero)
    base, step0 = weights(micro_model), weights(run / "checkpoints" / "step_0")
    assert all((base[k] == step0[k]).all() for k in base)


def test_lora_update_has_rank_at_most_r_and_leaves_other_tensors_alone(lora_run):
    """Known answer, read through the update analysis: merged - base = (alpha/r) B A per adapted matrix."""
    from rl_lab.analysis.settings import UpdatesSettings
    from rl_lab.analysis.updates_run import run_updates

    run, _ = lora_run
    out = run_updates(run / "checkpoints" / "step_0", [run / "checkpoints" / "step_4"],
                      UpdatesSettings(rank=True), out=run / "updates.json", progress=False)
    tensors = out.result["tensors"]
    adapted = [t for t in tensors if ADAPTED.search(t["name"])]
    others = [t for t in tensors if not ADAPTED.search(t["name"])]
    assert len(adapted) == 2 * 7 and others  # 2 layers x q k v o gate up down; embeddings, norms, biases
    ranks = [next(iter(t["tuned"].values()))["rank"]["rank"] for t in adapted]
    assert all(r <= RANK for r in ranks), ranks
    assert max(ranks) >= 1  # something was learned
    for t in others:
        assert next(iter(t["tuned"].values()))["delta_l2"] == 0.0, t["name"]


def test_lora_resume_from_checkpoint_matches_the_uninterrupted_run(lora_run, micro_model, tmp_path):
    from rl_lab.train import run_training
    from rl_lab.train.callbacks import InjectedFailure

    raw = raw_config(micro_model, tmp_path, peft={"r": RANK})
    raw["debug"] = {"fail_at_step": 4}
    cfg = validate_config(raw)
    with pytest.raises(InjectedFailure):
        run_training(cfg)
    assert read_json(cfg.train_dir / "status.json")["last_checkpoint"] == 2
    final = run_training(cfg, resume=True)
    assert final["step"] == 4 and final["resumed_from"] == 2
    for name in ("adapter_model.safetensors", "model.safetensors"):
        reference = weights(lora_run[0] / "checkpoints" / "step_4", name)
        resumed = weights(cfg.train_dir / "checkpoints" / "step_4", name)
        assert reference.keys() == resumed.keys()
        assert all((reference[k] == resumed[k]).all() for k in reference), name  # the adapter was restored


def test_lora_resume_without_adapter_file_is_refused(micro_model, tmp_path):
    from rl_lab.core.models import load_model
    from rl_lab.train import lora

    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(load_model(micro_model), lora.lora_config(validate_config(
        raw_config(micro_model, tmp_path, peft={"r": RANK})).train.peft))
    from rl_lab.core.errors import CheckpointError

    with pytest.raises(CheckpointError, match="adapter_model.safetensors"):
        lora.load_adapter(model, micro_model)


# --------------------------------------------------------------------------- SFT
def test_sft_run_dir_has_the_run_contract_and_the_update_analysis_reads_it(sft_run):
    from rl_lab.analysis.settings import UpdatesSettings
    from rl_lab.analysis.updates_run import run_updates
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.rundir import RunDir

    cfg, final = sft_run
    run = RunDir(cfg.train_dir)
    assert final["step"] == 8 and run.finished()
    assert run.config.train.method == "sft"
    assert sorted(run.checkpoints()) == [0, 4, 8]
    for path in run.checkpoints().values():
        validate_checkpoint(path)
    rows = read_jsonl(run.metrics_file)
    assert [r["step"] for r in rows] == list(range(1, 9)) and all("loss" in r for r in rows)
    assert not run.rollouts_dir.exists() or not any(run.rollouts_dir.iterdir())
    out = run_updates(run.checkpoint_dir(0), [run.checkpoint_dir(8)], UpdatesSettings(), run=run, progress=False)
    tuned = out.result["tuned"][0]
    assert tuned["share"]["bf16"] > 0 and set(tuned["by_layer"]) == {"0", "1"}
    assert run.analysis_file("updates").is_file()


def test_sft_resume_from_checkpoint_matches_the_uninterrupted_run(sft_run, micro_model, tmp_path):
    from rl_lab.train import run_training
    from rl_lab.train.callbacks import InjectedFailure

    reference_cfg, _ = sft_run
    raw = raw_config(micro_model, tmp_path, method="sft", steps=8, save_steps=[4])
    raw["debug"] = {"fail_at_step": 6}
    cfg = validate_config(raw)
    with pytest.raises(InjectedFailure):
        run_training(cfg)
    final = run_training(cfg, resume=True)
    assert final["step"] == 8 and final["resumed_from"] == 4
    assert [r["step"] for r in read_jsonl(cfg.train_dir / "metrics.jsonl")] == list(range(1, 9))
    reference = weights(reference_cfg.train_dir / "checkpoints" / "step_8")
    resumed = weights(cfg.train_dir / "checkpoints" / "step_8")
    assert all((reference[k] == resumed[k]).all() for k in reference)  # same rows, same optimizer state


def _solution_loss(checkpoint: Path, prompts: list[str], completions: list[str]) -> float:
    """Mean NLL per completion token (eos included), as SFTTrainer trains it."""
    import torch

    from rl_lab.core.models import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(checkpoint)
    total, count = 0.0, 0
    with torch.no_grad():
        for prompt, completion in zip(prompts, completions, strict=True):
            p = tok(prompt, add_special_tokens=False)["input_ids"]
            c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            ids = torch.tensor([p + c])
            logits = model(ids).logits[0, len(p) - 1:-1]
            total += float(torch.nn.functional.cross_entropy(logits, ids[0, len(p):], reduction="sum"))
            count += len(c)
    return total / count


def test_sft_lowers_the_loss_of_its_training_solutions(sft_run):
    from rl_lab.environments.problem_sets import render_solution
    from rl_lab.train.curriculum import CurriculumSampler, build_curriculum
    from rl_lab.train.runner import build_pool
    from rl_lab.train.sft import prompts_per_step

    cfg, _ = sft_run
    pool = build_pool(cfg)
    sampler = CurriculumSampler(build_curriculum(cfg.curriculum, pool["difficulty"], cfg.train.steps),
                                prompts_per_step(cfg), 1, 1, 1, cfg.train.steps, cfg.seed)
    trained = sorted(set(sampler))
    rows = [pool[i] for i in trained]
    prompts, completions = [r["prompt"] for r in rows], [render_solution(r, "steps") for r in rows]
    assert all(c.startswith("[") for c in completions)  # worked solutions
    ckpts = cfg.train_dir / "checkpoints"
    before, after = _solution_loss(ckpts / "step_0", prompts, completions), _solution_loss(ckpts / "step_8", prompts,
                                                                                           completions)
    assert after < before - 0.1, (before, after)


def test_sft_draws_the_problems_grpo_draws_step_by_step(micro_model, tmp_path):
    from rl_lab.train.curriculum import CurriculumSampler, build_curriculum
    from rl_lab.train.sft import prompts_per_step

    cfg = validate_config(raw_config(micro_model, tmp_path, steps=6, gradient_accumulation_steps=2)
                          | {"curriculum": {"kind": "easy_to_hard"}})
    levels = [1] * 10 + [2] * 10 + [3] * 10
    t = cfg.train
    per_step = t.batch_size * t.gradient_accumulation_steps // t.num_generations
    grpo = CurriculumSampler(build_curriculum(cfg.curriculum, levels, t.steps), per_step, t.num_generations,
                             t.gradient_accumulation_steps, t.gradient_accumulation_steps, t.steps, cfg.seed)
    sft = CurriculumSampler(build_curriculum(cfg.curriculum, levels, t.steps), prompts_per_step(cfg), 1, 1, 1,
                            t.steps, cfg.seed)
    assert prompts_per_step(cfg) == per_step == 4
    grpo_steps = [grpo.block_indices(b) for b in range(grpo.num_blocks)]
    sft_steps = [sft.block_indices(b) for b in range(sft.num_blocks)]
    assert len(sft_steps) == len(grpo_steps) == 6 and sft_steps == grpo_steps
    assert list(sft) == [i for block in sft_steps for i in block]


def test_sft_with_lora_on_named_modules_changes_only_those_at_rank_r(micro_model, tmp_path):
    import torch

    from rl_lab.train import run_training

    cfg = validate_config(raw_config(micro_model, tmp_path, method="sft", steps=2, save_steps=[],
                                     peft={"r": 1, "alpha": 4, "target_modules": ["q_proj", "down_proj"]}))
    run_training(cfg)
    base = weights(cfg.train_dir / "checkpoints" / "step_0")
    tuned = weights(cfg.train_dir / "checkpoints" / "step_2")
    assert base.keys() == tuned.keys()
    changed = {k for k in base if not torch.equal(base[k], tuned[k])}
    assert changed == {k for k in base if re.search(r"\.(q_proj|down_proj)\.weight$", k)}
    assert all(int(torch.linalg.matrix_rank(tuned[k] - base[k])) == 1 for k in changed)


# --------------------------------------------------------------------------- config
def write_yaml(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.method=ppo"], "train.method"),
        (["train.peft.r=0"], "train.peft.r"),
        (["train.peft.target_modules=[q_proj,c_attn]"], "train.peft.target_modules: ['c_attn']"),
        (["train.peft.target_modules=q_proj"], "train.peft.target_modules"),
        (["train.method=sft", "train.sft_format=prose"], "train.sft_format"),
        (["train.method=sft", "curriculum.kind=adaptive"], "curriculum.kind"),
        (["train.method=sft", "train.trl={num_generations: 4}"], "train.trl.num_generations"),
        (["train.method=sft", "train.trl={max_length: 4}"], "train.trl.max_length"),
    ],
)
def test_config_errors_exit_2_naming_the_field(micro_model, tmp_path, capsys, overrides, message):
    from rl_lab.cli import main

    out = tmp_path / "out"
    config = write_yaml(tmp_path / "c.yaml", raw_config(micro_model, out))
    assert main(["train", str(config), *overrides]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_lora_without_peft_installed_exits_2_naming_the_fix(micro_model, tmp_path, capsys, monkeypatch):
    from rl_lab.cli import main
    from rl_lab.train import trl_args

    monkeypatch.setattr(trl_args.importlib.util, "find_spec", lambda name: None)  # as if peft were absent
    out = tmp_path / "out"
    config = write_yaml(tmp_path / "c.yaml", raw_config(micro_model, out))
    assert main(["train", str(config), "train.peft.r=4"]) == 2
    err = capsys.readouterr().err
    assert "train.peft" in err and "pip install" in err
    assert not out.exists()


def test_sweep_grid_varies_peft_as_a_section_or_a_dotted_key(micro_model, tmp_path):
    from rl_lab.sweep.grid import validate_grid

    raw = raw_config(micro_model, tmp_path)
    raw["sweep"] = {"grid": {"train.peft": [None, {"method": "lora", "r": 4}, {"method": "lora", "r": 16}]}}
    _, _, names, configs = validate_grid(raw)
    assert [c.train.peft and c.train.peft.r for c in configs] == [None, 4, 16] and len(set(names)) == 3
    raw["sweep"] = {"grid": {"train.peft.r": [4, 16], "train.method": ["grpo", "sft"]}}  # into a null section
    _, _, _, configs = validate_grid(raw)
    assert [(c.train.peft.method, c.train.peft.r, c.train.method) for c in configs] == [
        ("lora", 4, "grpo"), ("lora", 4, "sft"), ("lora", 16, "grpo"), ("lora", 16, "sft")]
    with pytest.raises(ConfigError, match="train.peft.r"):
        validate_grid(raw | {"sweep": {"grid": {"train.peft.r": [4, -1]}}})
