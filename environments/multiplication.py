"""Multiplication: difficulty = operand shape (digits of the multiplicand x digits of the multiplier).

| level | question shape | example   |
|-------|----------------|-----------|
| 1     | 1 x 1 digits   | ``7*8``   |
| 2     | 2 x 1 digits   | ``47*6``  |
| 3     | 3 x 1 digits   | ``347*6`` |
| 4     | 2 x 2 digits   | ``47*36`` |
| 5     | 3 x 2 digits   | ``347*36``|

Worked steps are partial products, least significant first, then their sum.
With a one-digit multiplier each digit of the multiplicand is multiplied at its
place value (``7*6=42;40*6=240;300*6=1800;42+240+1800=2082``); with a two-digit
multiplier the multiplicand is multiplied by each multiplier digit at its place
value (``347*6=2082;347*30=10410;2082+10410=12492``).  Single-digit operands
range over 0-9; longer ones have no leading zero.
"""

from __future__ import annotations

import random

from rl_lab.environments.base import IntegerFamily, Problem

SHAPES: dict[int, tuple[int, int]] = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2), 5: (3, 2)}


def _operand(digits: int, rng: random.Random) -> int:
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


def partial_products(a: int, b: int) -> tuple[str, ...]:
    """The worked steps for ``a*b``: partial products at place value, then their sum."""
    if b < 10:  # split the multiplicand digit by digit
        parts = [(int(d) * 10**i, b) for i, d in enumerate(str(a)[::-1])]
    else:  # split the multiplier digit by digit
        parts = [(a, int(d) * 10**i) for i, d in enumerate(str(b)[::-1])]
    if len(parts) == 1:
        return (f"{a}*{b}={a * b}",)
    steps = [f"{x}*{y}={x * y}" for x, y in parts]
    steps.append("+".join(str(x * y) for x, y in parts) + f"={a * b}")
    return tuple(steps)


class Multiplication(IntegerFamily):
    name = "multiplication"
    levels = tuple(SHAPES)
    level_meaning = "operand digits: 1=1x1, 2=2x1, 3=3x1, 4=2x2, 5=3x2"

    def generate(self, difficulty: int, rng: random.Random) -> Problem:
        self.check_level(difficulty)
        da, db = SHAPES[difficulty]
        a, b = _operand(da, rng), _operand(db, rng)
        return Problem(self.name, difficulty, f"{a}*{b}", str(a * b), partial_products(a, b))
