"""Remainders: ``a%m`` with a one-digit modulus.  Difficulty = digits of ``a``.

Level ``d`` (1-5) draws ``a`` with ``d`` digits (level 1: 0-9, otherwise no
leading zero) and ``m`` in 2-9, e.g. level 4: ``1234%7``.  Worked steps are a
short-division trace: bring down one digit of ``a`` at a time after the running
remainder and reduce it mod ``m``: ``1%7=1;12%7=5;53%7=4;44%7=2`` (answer 2).
Each step reduces a number below ``10*m``, a small fact table.
"""

from __future__ import annotations

import random

from rl_lab.environments.base import IntegerFamily, Problem


class Modular(IntegerFamily):
    name = "modular"
    levels = (1, 2, 3, 4, 5)
    level_meaning = "digits of a in a%m (m is 2-9)"

    def ask(self, question: str) -> str:
        a, _, m = question.partition("%")
        return f"What is the remainder when {a} is divided by {m}?"

    def generate(self, difficulty: int, rng: random.Random) -> Problem:
        self.check_level(difficulty)
        a = rng.randint(0 if difficulty == 1 else 10 ** (difficulty - 1), 10**difficulty - 1)
        m = rng.randint(2, 9)
        work, rem = [], 0
        for digit in str(a):
            current = rem * 10 + int(digit)
            rem = current % m
            work.append(f"{current}%{m}={rem}")
        return Problem(self.name, difficulty, f"{a}%{m}", str(a % m), tuple(work))
