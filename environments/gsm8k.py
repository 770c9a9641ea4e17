"""GSM8K-style grade-school word problems from a local file, verified by the exact final number.

``params``: ``path`` (required) a local ``.jsonl`` or ``.parquet`` file with ``question`` and
``answer`` columns, where an answer is worked lines ending in ``#### N`` (GSM8K's layout);
``max_problems`` (optional) keeps the first N rows. Nothing is downloaded.

Difficulty = number of worked lines before ``####`` in the reference solution (the
reasoning steps), capped at ``MAX_LEVEL``; the family's levels are those the file has.

Verification (``exact``, the default): the number the completion commits to must equal the
reference number exactly (compared as decimals, so ``1,000`` = ``1000`` and ``18.0`` = ``18``).
The committed number is read by ``answers.read_number``: the answer marked by ``<answer>``
tags, ``\\boxed{}``, ``#### N`` or "the answer is N" (all marked answers must agree), else the
last number of the text; a number that follows a marked answer ("... Step 2 confirms it") is
not the answer. Numbers are ASCII digits with an optional sign, ``,`` thousands separators, a
decimal part, an optional ``$`` before and ``%`` after; a completion listing alternatives
(``70, 71 or 72``) or whose answer is malformed (``0x72``, ``72apples``, ``٧٢``, ``−72``)
scores 0. ``math`` scoring reads the same way and compares with math-verify. No partial credit.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rl_lab.environments import answers
from rl_lab.environments.answers import Reading
from rl_lab.environments.base import Family, Problem

MAX_LEVEL = 8
_CALC = re.compile(r"<<[^<>]*>>")  # GSM8K's calculator annotations, e.g. <<48/2=24>>


@dataclass(frozen=True)
class GSM8KProblem(Problem):
    @property
    def prompt(self) -> str:
        return f"Question: {self.question}\nAnswer:"


def parse_number(text: str) -> Decimal | None:
    """``"$1,000"`` -> 1000; None unless ``text`` is one number in the family's forms
    (``answers.parse_literal``: ASCII digits, ``,`` thousands separators only, decimals)."""
    cleaned = text.strip().removeprefix("$").rstrip(".")
    return answers.parse_literal(cleaned)


def split_solution(answer: str) -> tuple[tuple[str, ...], str]:
    """A GSM8K answer -> (worked lines without calculator notes, final number as a string)."""
    if "####" not in answer:
        raise ValueError("answer has no '#### N' final line")
    body, final = answer.rsplit("####", 1)
    number = parse_number(final)
    if number is None:
        raise ValueError(f"final answer {final.strip()!r} is not a number")
    # The steps format writes work as "[a;b] N": keep lines free of its delimiters.
    lines = tuple(
        re.sub(r"[\[\];]", ",", _CALC.sub("", line)).strip() for line in body.strip().splitlines() if line.strip()
    )
    return lines, _canonical(number)


def _canonical(value: Decimal) -> str:
    return answers.canonical(value)


def load_rows(path: Path) -> list[dict[str, str]]:
    """Read question/answer rows with pyarrow (jsonl or parquet)."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        from pyarrow import json as pa_json

        table = pa_json.read_json(str(path))
    elif suffix == ".parquet":
        from pyarrow import parquet as pq

        table = pq.read_table(str(path))
    else:
        raise ValueError(f"params.path: {str(path)!r} must be a .jsonl or .parquet file")
    missing = {"question", "answer"} - set(table.column_names)
    if missing:
        raise ValueError(f"params.path: {str(path)!r} lacks column(s) {sorted(missing)}; has {table.column_names}")
    return table.select(["question", "answer"]).to_pylist()


class GSM8K(Family):
    name = "gsm8k"
    level_meaning = f"worked lines in the reference solution (reasoning steps), capped at {MAX_LEVEL}"

    def __init__(self, path: str, max_problems: int | None = None) -> None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise ValueError(f"params.path: {str(file)!r} does not exist; give a local GSM8K .jsonl or .parquet file")
        rows = load_rows(file)[:max_problems]
        self.by_level: dict[int, list[tuple[int, str, tuple[str, ...], str]]] = {}
        for i, row in enumerate(rows):
            try:
                work, answer = split_solution(str(row["answer"]))
            except ValueError as exc:
                raise ValueError(f"params.path: {str(file)!r} row {i}: {exc}") from None
            level = min(max(len(work), 1), MAX_LEVEL)
            self.by_level.setdefault(level, []).append((i, str(row["question"]).strip(), work, answer))
        if not self.by_level:
            raise ValueError(f"params.path: {str(file)!r} holds no problems")
        self.levels = tuple(sorted(self.by_level))
        self.path = str(file)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> GSM8K:
        unknown = sorted(set(params) - {"path", "max_problems"})
        if unknown or "path" not in params:
            raise ValueError(f"family 'gsm8k' takes params path (required) and max_problems; got {sorted(params)}")
        return cls(**params)

    def generate(self, difficulty: int, rng: random.Random) -> Problem:
        self.check_level(difficulty)
        index, question, work, answer = rng.choice(self.by_level[difficulty])
        return GSM8KProblem(self.name, difficulty, question, answer, work, {"index": index})

    def ask(self, question: str) -> str:
        return question  # already a word problem

    def answers_match(self, predicted: str, expected: str, metadata: dict[str, Any]) -> bool:
        a, b = parse_number(predicted), parse_number(expected)
        return a is not None and a == b

    def exact_read(self, completion: object) -> Reading:
        return answers.read_number(completion)

    def exact_score(self, completion: object, answer: str, metadata: dict[str, Any]) -> float:
        predicted, expected = self.exact_read(completion).value, parse_number(answer)
        return 1.0 if predicted is not None and predicted == expected else 0.0
