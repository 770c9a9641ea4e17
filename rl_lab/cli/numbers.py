"""Command-line numbers validated like config numbers: argparse ``type=`` callables.

A bad value is an argparse error (exit 2, naming the flag): ``--n 0`` is refused instead of
meaning "the default", ``--tol nan`` instead of comparing false with everything. The rules
match the schema's: counts are whole numbers >= 1, every float is finite and in its range.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _int(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except (ValueError, AttributeError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    """A count: a whole number >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """A whole number >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def finite_float(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False) -> Callable[[str], float]:
    """A checker for a finite float in [low, high] (``low_open`` / ``high_open``: the bound is excluded)."""

    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low:g}, got {value:g}")
        if high is not None and (value >= high if high_open else value > high):
            raise argparse.ArgumentTypeError(f"must be {'<' if high_open else '<='} {high:g}, got {value:g}")
        return value

    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    check.__name__ = f"finite float in {lo}{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}{hi}"
    return check


positive_float = finite_float(0.0, low_open=True)  # a tolerance, a temperature
fraction = finite_float(0.0, 1.0, low_open=True)  # a share in (0, 1]: a threshold, a length fraction
