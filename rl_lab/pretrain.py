"""Pretrain the controlled base model (``rl-lab pretrain``) on a known format mixture.

Uses ``transformers.Trainer`` (TensorBoard logs, progress bar, resumable
checkpoints) on the corpus of ``rl_lab.corpus``.  Writes into ``<output_dir>/base``::

    config.yaml            resolved config
    corpus_manifest.json   exactly what went into the corpus
    corpus/                the corpus itself (datasets.Dataset.save_to_disk)
    metrics.jsonl          training loss per logged step (same scalars as tensorboard/)
    tensorboard/           event files
    model/                 the base checkpoint (safetensors + tokenizer + config.json)
    eval.json, eval.txt    the base model's accuracy and format shares (unless --no-eval)
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rl_lab.core import determinism
from rl_lab.core.config import Config
from rl_lab.core.errors import ConfigError
from rl_lab.core.io import atomic_write_json, atomic_write_yaml
from rl_lab.core.rundir import ENVIRONMENT


def _tokenize(dataset, tokenizer, max_length: int, loss_on: str):
    eos = tokenizer.eos_token_id

    def encode(row: dict[str, Any]) -> dict[str, Any]:
        prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
        completion = tokenizer(row["completion"], add_special_tokens=False)["input_ids"] + [eos]
        ids = prompt + completion
        labels = ([-100] * len(prompt) if loss_on == "completion" else prompt) + completion
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels, "length": len(ids)}

    tokenized = dataset.map(encode, remove_columns=dataset.column_names, desc="tokenizing")
    longest = max(tokenized["length"])
    if longest > max_length:
        raise ConfigError(
            f"invalid config:\n  pretrain.max_length: {max_length} is shorter than the longest document "
            f"({longest} tokens); raise it to at least {longest} or drop the hardest levels"
        )
    return tokenized.remove_columns("length")


def pretrain(cfg: Config, resume: bool = False, force: bool = False, out: Path | None = None,
             on_log: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Pretrain into ``out`` (default ``cfg.base_dir``); a sweep's base variants go to their own folders.
    ``on_log`` gets each logged row too (a sweep's base trial forwards them to Ray Tune as progress)."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    from rl_lab.core.metrics_log import MetricsLog, scalars
    from rl_lab.core.models import build_model, count_parameters, load_model_and_tokenizer, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer
    from rl_lab.corpus import build_corpus

    out = Path(out) if out is not None else cfg.base_dir
    # Everything that can fail on bad input happens before the first write.
    if cfg.model.path:
        model, tokenizer = load_model_and_tokenizer(cfg.model.path, cfg.model.dtype)
    else:
        tokenizer = build_char_tokenizer()
        model = build_model(cfg.model.preset, tokenizer, cfg.model.architecture, seed=cfg.seed,
                            max_positions=max(512, cfg.pretrain.max_length))
        model = model.to(getattr(torch, cfg.model.dtype))
    corpus, manifest = build_corpus(cfg)
    tokenized = _tokenize(corpus, tokenizer, cfg.pretrain.max_length, cfg.pretrain.loss_on)

    pre = cfg.pretrain
    tokenizer.padding_side = "right"  # training pads on the right so positions start at 0
    args = TrainingArguments(
        output_dir=str(out / "trainer_checkpoints"),
        max_steps=pre.steps,
        per_device_train_batch_size=pre.batch_size,
        learning_rate=pre.learning_rate,
        warmup_steps=pre.warmup_steps,
        weight_decay=pre.weight_decay,
        lr_scheduler_type="cosine",
        logging_steps=pre.logging_steps,
        report_to=[],  # TensorBoard through an explicit callback, so the log dir is ours
        save_strategy="steps",
        save_steps=max(pre.steps // 4, 50),
        save_total_limit=1,
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    if force and out.exists() and not resume:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_yaml(out / "config.yaml", cfg.to_dict())
    atomic_write_json(out / "corpus_manifest.json", manifest)
    atomic_write_json(out / ENVIRONMENT, determinism.describe())
    corpus.save_to_disk(str(out / "corpus"))
    metrics_file = out / "metrics.jsonl"
    if not resume and metrics_file.exists():
        metrics_file.unlink()

    class Metrics(TrainerCallback):
        """The Trainer's logged scalars into metrics.jsonl and TensorBoard, under the same names."""

        def __init__(self) -> None:
            self.log = MetricsLog(metrics_file, out / "tensorboard")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                row = {"step": state.global_step, **scalars(logs)}
                self.log.write(row)
                if on_log is not None:
                    on_log(row)

        def on_train_end(self, args, state, control, **kwargs):
            self.log.close()

    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=tokenized,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
        callbacks=[Metrics()],
    )
    start = time.time()
    last = _last_trainer_checkpoint(out / "trainer_checkpoints") if resume else None
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    seconds = time.time() - start
    tokenizer.padding_side = "left"
    model_dir = save_checkpoint(trainer.model, tokenizer, out / "model", {"corpus_manifest.json": manifest})
    shutil.rmtree(out / "trainer_checkpoints", ignore_errors=True)
    return {"model_dir": str(model_dir), "parameters": count_parameters(trainer.model), "seconds": seconds}


PRETRAINING_KEYS = ("seed", "environments", "model", "pretrain")  # what decides the base model


def pretraining_differences(cfg: Config, base_dir: Path) -> list[str]:
    """Dotted keys where the config that pretrained ``base_dir`` differs from ``cfg`` in what decides the
    base model ([] when they agree; ``["config.yaml"]`` when the base dir has no readable config)."""
    from rl_lab.core.config import read_yaml_mapping
    from rl_lab.core.errors import ConfigError

    try:
        saved = read_yaml_mapping(Path(base_dir) / "config.yaml")
    except ConfigError:
        return ["config.yaml"]
    mine = cfg.to_dict()
    out: list[str] = []

    def walk(a: Any, b: Any, key: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), key=str):
                walk(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
        elif a != b:
            out.append(key)

    for section in PRETRAINING_KEYS:
        walk(mine.get(section), saved.get(section), section)
    return out


def _last_trainer_checkpoint(folder: Path) -> Path | None:
    points = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])) if folder.exists() else []
    return points[-1] if points else None
