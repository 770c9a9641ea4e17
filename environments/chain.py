"""Arithmetic chains evaluated left to right: difficulty = number of operations.

Level ``n`` (1-6) asks for ``n`` additions/subtractions over ``n + 1`` operands of
one or two digits (0-99), e.g. level 3: ``7+52-3+8``.  There are no parentheses
and ``+``/``-`` have equal precedence, so left-to-right is ordinary arithmetic.
Intermediate and final results may be negative (``7-52=-45``).

Worked steps are the running totals, one operation each:
``7+52=59;59-3=56;56+8=64``.
"""

from __future__ import annotations

import random

from rl_lab.environments.base import IntegerFamily, Problem

MAX_OPERAND = 99


class Chain(IntegerFamily):
    name = "chain"
    levels = (1, 2, 3, 4, 5, 6)
    level_meaning = "number of +/- operations (operands 0-99, evaluated left to right)"

    def ask(self, question: str) -> str:
        return f"What is {question}? (Evaluate from left to right.)"

    def generate(self, difficulty: int, rng: random.Random) -> Problem:
        self.check_level(difficulty)
        total = rng.randint(0, MAX_OPERAND)
        question, work = str(total), []
        for _ in range(difficulty):
            op, x = rng.choice("+-"), rng.randint(0, MAX_OPERAND)
            new = total + x if op == "+" else total - x
            question += f"{op}{x}"
            work.append(f"{total}{op}{x}={new}")
            total = new
        return Problem(self.name, difficulty, question, str(total), tuple(work))
