"""Answer formats shared by every family.

A completion is in exactly one format, decided by its shape alone, so the same
classifier labels pretraining documents, RL rollouts and probe samples:

- ``terse``:  the bare answer, no work shown:              ``132``
- ``steps``:  worked steps in brackets, then the answer:    ``[7+5=12;4+8+1=13] 132``
- ``tagged``: the answer in a tag, no work shown:           ``<answer>132</answer>``
- ``other``:  anything else (garbage, trailing text, mixed shapes).

The formats differ in how much work they show: ``steps`` writes the
intermediate results (digit by digit, partial products, running totals) that a
small model needs on hard levels, ``terse`` and ``tagged`` do not.  Whatever the
input, these functions never raise.
"""

from __future__ import annotations

import re

from rl_lab.core.forcing import Forcing

TERSE = "terse"
STEPS = "steps"
TAGGED = "tagged"
OTHER = "other"
FORMATS: tuple[str, ...] = (TERSE, STEPS, TAGGED)
ALL_LABELS: tuple[str, ...] = (*FORMATS, OTHER)

# Format forcing (rl_lab.core.forcing): how an answer is started in each format. terse cannot be
# started by a prefix (it is the bare answer), so its first token is constrained to start a number.
FORCING: dict[str, Forcing] = {
    TERSE: Forcing(first_chars="0123456789-"),
    STEPS: Forcing(prefix="["),
    TAGGED: Forcing(prefix="<answer>"),
}

# An answer is one whitespace-free token that contains no format marker.
_ANSWER = r"[^\s<>\[\];]+"
_PATTERNS: dict[str, re.Pattern[str]] = {
    TAGGED: re.compile(rf"\s*<answer>\s*(?P<ans>{_ANSWER})\s*</answer>\s*"),
    STEPS: re.compile(rf"\s*\[(?P<work>[^\[\]]*)\]\s*(?P<ans>{_ANSWER})\s*"),
    TERSE: re.compile(rf"\s*(?P<ans>{_ANSWER})\s*"),
}
_ANSWER_RE = re.compile(_ANSWER)
# Longer completions than this are never a valid answer; checking the length
# first keeps the verifier linear-time on adversarial inputs.
MAX_COMPLETION_CHARS = 4096


def parse(completion: object) -> tuple[str, str | None, list[str]]:
    """Return ``(format, answer or None, work steps)`` for any object."""
    if not isinstance(completion, str) or len(completion) > MAX_COMPLETION_CHARS:
        return OTHER, None, []
    for fmt, pattern in _PATTERNS.items():
        match = pattern.fullmatch(completion)
        if match:
            work = match.groupdict().get("work")
            steps = [s.strip() for s in work.split(";") if s.strip()] if work else []
            return fmt, match.group("ans"), steps
    return OTHER, None, []


def classify_format(completion: object) -> str:
    """Label a completion ``terse``, ``steps``, ``tagged`` or ``other``."""
    return parse(completion)[0]


def extract_answer(completion: object) -> str | None:
    """The answer a completion commits to, or None if it is in no known format."""
    return parse(completion)[1]


def is_answer_token(text: object) -> bool:
    """True when ``text`` can be written as an answer in every format (one whitespace-free
    token without format markers); multi-token answers such as ``"a b"`` cannot."""
    return isinstance(text, str) and len(text) <= MAX_COMPLETION_CHARS and _ANSWER_RE.fullmatch(text) is not None


def render(fmt: str, answer: str, work: list[str] | tuple[str, ...]) -> str:
    """Write ``answer`` (and ``work`` for ``steps``) in format ``fmt``."""
    if fmt == TERSE:
        return answer
    if fmt == TAGGED:
        return f"<answer>{answer}</answer>"
    if fmt == STEPS:
        return f"[{';'.join(work)}] {answer}"
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
