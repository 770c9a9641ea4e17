"""The maximum of a list: an easy prior-skill family.  Difficulty = list length.

Level ``n`` (1-6) asks for the maximum of ``n + 1`` numbers of one or two digits
(0-99), e.g. level 2: ``max(34,81,27)``.  Worked steps are the running maximum,
one comparison each: ``max(34,81)=81;max(81,27)=81``.
"""

from __future__ import annotations

import random

from rl_lab.environments.base import IntegerFamily, Problem

MAX_VALUE = 99


class Comparison(IntegerFamily):
    name = "comparison"
    levels = (1, 2, 3, 4, 5, 6)
    level_meaning = "list length minus one: level n takes the max of n+1 numbers in 0-99"

    def ask(self, question: str) -> str:
        values = question.removeprefix("max(").removesuffix(")").split(",")
        listed = ", ".join(values[:-1]) + f" and {values[-1]}" if len(values) > 1 else values[0]
        return f"What is the largest of {listed}?"

    def generate(self, difficulty: int, rng: random.Random) -> Problem:
        self.check_level(difficulty)
        values = [rng.randint(0, MAX_VALUE) for _ in range(difficulty + 1)]
        best, work = values[0], []
        for x in values[1:]:
            new = max(best, x)
            work.append(f"max({best},{x})={new}")
            best = new
        question = f"max({','.join(map(str, values))})"
        return Problem(self.name, difficulty, question, str(best), tuple(work))
