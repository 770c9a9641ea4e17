"""Multi-digit addition: difficulty = digits per operand."""

from __future__ import annotations

import random

from rl_lab.environments.base import IntegerFamily, Problem


class Addition(IntegerFamily):
    name = "addition"
    levels = (1, 2, 3, 4, 5, 6)
    level_meaning = "number of digits of each of the two operands"

    def generate(self, difficulty: int, rng: random.Random) -> Problem:
        self.check_level(difficulty)
        lo = 0 if difficulty == 1 else 10 ** (difficulty - 1)
        a, b = rng.randint(lo, 10**difficulty - 1), rng.randint(lo, 10**difficulty - 1)
        # Worked steps: one line per digit, least significant first, carry added in.
        work, carry = [], 0
        da, db = str(a)[::-1], str(b)[::-1]
        for i in range(max(len(da), len(db))):
            x, y = int(da[i]) if i < len(da) else 0, int(db[i]) if i < len(db) else 0
            total = x + y + carry
            work.append(f"{x}+{y}+{carry}={total}" if carry else f"{x}+{y}={total}")
            carry = total // 10
        return Problem(self.name, difficulty, f"{a}+{b}", str(a + b), tuple(work))
