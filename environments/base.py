"""The contract every problem family follows.

A family knows nothing about training: it generates problems at an integer
difficulty level from a seeded ``random.Random``, renders a completion in any
answer format (for the pretraining corpus), and verifies a completion in a scoring
mode (``environments.scoring``: ``exact`` by default, ``math`` for real models' outputs)
with a check that returns a reward in [0, 1] and never raises. ``read`` says which answer
the verifier took from a completion (for shortcut detectors and debugging).
"""

from __future__ import annotations

import numbers
import random
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from rl_lab.environments import formats
from rl_lab.environments.answers import FORMAT, NOTHING, Reading
from rl_lab.environments.math_scoring import math_score
from rl_lab.environments.math_scoring import read as math_read
from rl_lab.environments.scoring import EXACT, LIBRARY, MATH, scoring_of


@dataclass(frozen=True)
class Problem:
    family: str
    difficulty: int
    question: str  # e.g. "47+85"
    answer: str  # canonical answer string, e.g. "132"
    work: tuple[str, ...] = ()  # intermediate results written by the ``steps`` format
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """What the model is given; completions follow it directly."""
        return f"{self.question}="


class Family(ABC):
    """A procedural problem family with a difficulty knob and verifiers that never raise."""

    name: str
    levels: tuple[int, ...]  # the valid difficulty levels, easiest first
    level_meaning: str  # one line: what the difficulty integer controls
    scorings: tuple[str, ...] = (EXACT, MATH)  # the scoring modes this family supports

    @abstractmethod
    def generate(self, difficulty: int, rng: random.Random) -> Problem:
        """One problem at ``difficulty``; deterministic given the rng state."""

    def check_level(self, difficulty: int) -> None:
        # bool and float compare equal to ints (True == 1, 2.0 == 2): reject them by type.
        if not isinstance(difficulty, numbers.Integral) or isinstance(difficulty, bool) or difficulty not in self.levels:
            raise ValueError(
                f"family {self.name!r} has no difficulty {difficulty}; "
                f"allowed levels: {list(self.levels)} ({self.level_meaning})"
            )

    def ask(self, question: str) -> str:
        """The question as a person would ask it (prompt templates and chat prompts use it)."""
        return f"What is {question}?"

    def render(self, problem: Problem, fmt: str) -> str:
        """The completion for ``problem`` written in answer format ``fmt``."""
        return formats.render(fmt, problem.answer, problem.work)

    def answers_match(self, predicted: str, expected: str, metadata: dict[str, Any]) -> bool:
        """Exact comparison; integer families compare integer values."""
        return predicted.strip() == expected.strip()

    # ------------------------------------------------------------------ scoring
    def verify(self, completion: object, answer: str, metadata: dict[str, Any] | None = None) -> float:
        """Reward in [0, 1] in the scoring mode ``metadata['scoring']`` names (``exact`` when absent).

        A mode the family does not support scores 0. Never raises."""
        try:
            meta = metadata if isinstance(metadata, dict) else {}
            mode = scoring_of(meta)
            if mode not in self.scorings:
                return 0.0
            if mode == MATH:
                return math_score(completion, answer)
            if mode == LIBRARY:
                value = float(self.library_score(completion, str(answer), meta))
            else:
                value = float(self.exact_score(completion, str(answer), meta))
            return min(max(value, 0.0), 1.0) if value == value else 0.0  # NaN -> 0
        except Exception:  # a verifier must never take a run down
            return 0.0

    def read(self, completion: object, answer: str, metadata: dict[str, Any] | None = None) -> Reading:
        """The answer ``verify`` takes from ``completion`` in the same mode. Never raises."""
        try:
            meta = metadata if isinstance(metadata, dict) else {}
            mode = scoring_of(meta)
            if mode == MATH:
                return math_read(completion, str(answer))
            if mode == LIBRARY and mode in self.scorings:
                return self.library_read(completion, str(answer))
            return self.exact_read(completion)
        except Exception:
            return NOTHING

    def exact_read(self, completion: object) -> Reading:
        """``exact`` mode: the answer of a completion in one of rl_lab's formats."""
        token = formats.extract_answer(completion)
        return NOTHING if token is None else Reading(token, FORMAT, (token,), "ok")

    def exact_score(self, completion: object, answer: str, metadata: dict[str, Any]) -> float:
        """``exact`` mode: 1 when the formatted answer matches (``answers_match``), else 0."""
        predicted = self.exact_read(completion).answer
        return 1.0 if predicted is not None and self.answers_match(predicted, answer, metadata) else 0.0

    # ``library`` mode: only families listing it in ``scorings`` (reasoning-gym) override these.
    def library_read(self, completion: object, answer: str) -> Reading:
        return NOTHING

    def library_score(self, completion: object, answer: str, metadata: dict[str, Any]) -> float:
        return 0.0


# ASCII digits only: Python's int() also accepts unicode digits ("١٢"), underscores
# ("1_2") and surrounding whitespace, none of which an exact verifier should credit.
_ASCII_INT = re.compile(r"-?[0-9]+")


def parse_ascii_int(text: str) -> int | None:
    """The integer written as ``-?[0-9]+`` in ASCII (leading zeros allowed), else None."""
    if not isinstance(text, str) or len(text) > 1000 or not _ASCII_INT.fullmatch(text):
        return None
    return int(text)


class IntegerFamily(Family):
    """A family whose answers are integers, compared by value (ASCII ``-?[0-9]+`` only)."""

    def answers_match(self, predicted: str, expected: str, metadata: dict[str, Any]) -> bool:
        got, want = parse_ascii_int(predicted), parse_ascii_int(expected.strip())
        return got is not None and want is not None and got == want
