"""The answer a completion commits to, read the way real models write it.

rl_lab's controlled formats (``formats.py``) are exact shapes. Real checkpoints answer
``The answer is 132.``, ``47 + 85 = 132``, ``#### 132``, ``... \\boxed{132}``,
``<think>...</think><answer>132</answer>`` or ``**132**``. This module reads such a completion
with rules strict enough that RL is not paid for a shortcut (docs/environments.md, "Reading
real outputs"):

1. Thinking is dropped: ``<think>...</think>`` blocks, an unclosed ``<think>`` and everything
   after it, everything before a lone ``</think>`` (templates that open the block in the prompt).
2. Anchored answers, wherever they are: ``<answer>...</answer>``, ``\\boxed{...}`` /
   ``\\fbox{...}``, ``#### ...`` (to the end of the line), ``answer is`` / ``answer:`` /
   ``answer =`` / ``the answer to this problem is`` ... (to the end of the sentence). All of
   them must agree, else the completion *conflicts*: it hedges.
3. No anchor: the last number of the text.

Numbers are read strictly (``numerals``): ASCII digits, an optional ASCII sign, thousands groups
``1,000`` / ``1{,}000`` / ``1\\,000``, a decimal part, an optional ``%``. What a reader would
take for a number but is not one of those (``٧٢``, ``７２``, ``𝟕𝟐``, ``−72`` with a Unicode minus,
``0x72``, ``7_2``, ``72e0``, ``72apples``) is *malformed*, and a malformed answer is not read.
A number that is an operand (``47+85``, ``\\frac{264}{2}``) restates a computation, not its
result: the chain is followed to its last ``=`` (``47 + 85 = 132`` answers 132), and without one
nothing is read (the echo-the-question shortcut).

Hedging: an answer followed (or, unanchored, preceded) by alternatives (``72 or 73``,
``70, 71 or 72``, ``72 73 74 72``) lists several candidates; when they differ, or anchored answers
differ, ``Reading.hedged`` is true and no scoring mode credits it.

Why by hand: math-verify (the equivalence checker in ``math_scoring.py``) takes the right-most
number of a text, so it pays hedges; it misreads ``<answer>`` tags after a think block; and it
evaluates echoed expressions. Every function here is linear-time regex or ``str.find`` work and
never raises.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from rl_lab.environments import formats

# Longer completions are not read (about 5k tokens): keeps every reader linear and bounded.
MAX_CHARS = 20_000
MAX_DIGITS = 100  # a longer digit run is not a number anyone should be paid for

TAG, BOXED, HASH, ANSWER_IS, FORMAT, FINAL = "tag", "boxed", "hash", "answer_is", "format", "final"
ANCHORS = (TAG, BOXED, HASH, ANSWER_IS)

# Unicode minus, hyphens and dashes: a sign written with one of these is not an ASCII sign.
_DASHES = "\u2212\u2010\u2011\u2012\u2013\u2014\u2015\ufe63\uff0d"
# Anything a reader might take for a number, in any script (``\d`` is Unicode-aware): a sign,
# digits with thousands groups, a decimal part, whatever letters/digits/underscores are glued on.
_NUMERAL = re.compile(
    rf"(?<![\w.])(?P<sign>[-+{_DASHES}]?)"
    r"(?P<digits>\d{1,3}(?:(?:,|\{,\}|\\,)\d{3})+(?!\d)|\d+)"
    r"(?P<frac>\.\d+)?(?P<glued>\w*)(?P<pct>\s*\\?%)?"
)
_SEPARATORS = re.compile(r",|\{,\}|\\,")
_OP = r"(?:[-+*/×÷^]|\\times|\\cdot|\\div)"
_OPERAND_AFTER = re.compile(rf"\s*{_OP}\s*[({{]?\s*[-+]?\d")
# An argument of a LaTeX command other than a wrapper (``\frac{3}{4}``, ``\sqrt{2}``) is an operand too.
_WRAPPERS = r"boxed|fbox|text|textbf|textrm|mathrm|mathbf|mathit|mbox|underline|bm|displaystyle"
_OPERAND_BEFORE = re.compile(
    rf"(?:\d|[)}}])\s*{_OP}\s*[({{]?\s*$|\\(?!(?:{_WRAPPERS})\b)[A-Za-z]+\s*\{{\s*$|\}}\s*\{{\s*$"
)
# What may stand between an operand and the ``=`` of its equation: arithmetic only, no words.
_EQUATION_LINK = re.compile(r"(?:[\d\s.,+\-*/×÷^(){}%$]|\\times|\\cdot|\\div|\\[,!; ])*=")
# Words and marks that join alternatives: "70, 71 or 72", "72 73", "72 apples or 73 apples".
_ALT_WORDS = {"or", "and", "nor", "either", "maybe", "perhaps", "possibly", "probably", "vs", "versus",
              "no", "wait", "actually", "rather", "sorry", "i", "mean"}  # "71, no wait 72": a correction
_GAP_TOKEN = re.compile(r"[A-Za-z]+|\\[$%,]|\S")
_GAP_JOINS = {",", ";", "|"}
_GAP_DECORATIONS = {"*", "$", "%", "\\$", "\\%", "\\,"}
# "answer is", "answer:", "answer =", and "answer to this problem is" (a few words between, one sentence).
_ANSWER_IS = re.compile(r"\banswer\b(?:\**\s*(?::|=)|[^.\n:=]{0,40}?\b(?:is|would be|will be|should be)\b)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n|<")
_HASH = re.compile(r"####[ \t]*([^\n]*)")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_MAX_SPANS = 64


@dataclass(frozen=True)
class Numeral:
    """A number-like token: ``value`` is None when it is malformed (see the module docstring)."""

    text: str
    start: int
    end: int
    value: Decimal | None
    percent: bool = False

    @property
    def key(self) -> str:
        """Canonical value text (``1,000.50`` -> ``1000.5``); the raw text when malformed."""
        return canonical(self.value) if self.value is not None else self.text


@dataclass(frozen=True)
class Reading:
    """What a completion answers. ``reason`` says why nothing is credited when ``answer`` is None.

    ``answer``: the committed answer: a canonical number (``"1000"``, ``"-7.5"``) or, for text
    answers, the answer's text. ``candidates``: every distinct answer the completion commits to,
    in order (alternatives and disagreeing anchors); more than one means it hedges.
    ``anchor``: how the answer was marked (``tag``, ``boxed``, ``hash``, ``answer_is``,
    ``format``, ``final``) or None. ``reason``: ``ok``, ``no_answer``, ``malformed``,
    ``expression`` or ``hedge``.
    """

    answer: str | None
    anchor: str | None
    candidates: tuple[str, ...] = ()
    reason: str = "no_answer"
    value: Decimal | None = None
    percent: bool = False

    @property
    def hedged(self) -> bool:
        return self.reason == "hedge"


NOTHING = Reading(None, None)


def canonical(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "+0") else text


def numerals(text: str) -> list[Numeral]:
    """Every number-like token of ``text``, valid or malformed, in order."""
    out = []
    for m in _NUMERAL.finditer(text):
        sign, digits, frac = m.group("sign"), m.group("digits"), m.group("frac") or ""
        plain = _SEPARATORS.sub("", digits)
        ok = (not m.group("glued") and sign in ("", "-", "+") and (plain + frac).isascii()
              and len(plain) <= MAX_DIGITS)
        value = Decimal(sign + plain + frac) if ok else None
        out.append(Numeral(m.group(0).strip(), m.start(), m.end(), value, bool(m.group("pct"))))
    return out


def parse_literal(text: object) -> Decimal | None:
    """The value of a text that is exactly one valid number (``"1,000"``, ``"-7.5"``), else None."""
    if not isinstance(text, str) or len(text) > 4 * MAX_DIGITS:
        return None
    stripped = text.strip()
    found = numerals(stripped)
    if len(found) != 1 or found[0].value is None or found[0].percent:
        return None
    n = found[0]
    return n.value if (n.start, n.end) == (0, len(stripped)) else None


def strip_thinking(text: str) -> str:
    """``text`` without its thinking (``<think>`` blocks, unclosed or opened in the prompt)."""
    kept, pos = [], 0
    while True:
        start = text.find("<think>", pos)
        if start < 0:
            kept.append(text[pos:])
            break
        kept.append(text[pos:start])
        end = text.find("</think>", start)
        if end < 0:
            break  # unclosed: the rest is thinking (a truncated completion)
        pos = end + len("</think>")
    result = "".join(kept)
    lone = result.rfind("</think>")
    return result[lone + len("</think>"):] if lone >= 0 else result


def _closing_braces(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of its ``}``, in one pass (unclosed braces are absent)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
    return pairs


def anchored_spans(text: str) -> list[tuple[int, str, str]]:
    """``(position, anchor, span text)`` of the anchored answers in ``text`` (thinking already
    dropped), in order; the last ``_MAX_SPANS`` of each kind, so the work stays linear."""
    tags: deque[tuple[int, str, str]] = deque(maxlen=_MAX_SPANS)
    pos = 0
    while True:
        start = text.find("<answer>", pos)
        end = text.find("</answer>", start) if start >= 0 else -1
        if end < 0:
            break
        tags.append((start, TAG, text[start + len("<answer>"):end]))
        pos = end + len("</answer>")
    boxed: deque[tuple[int, str, str]] = deque(maxlen=_MAX_SPANS)
    opened = deque(_BOXED.finditer(text), maxlen=_MAX_SPANS)
    pairs = _closing_braces(text) if opened else {}
    for m in opened:
        close = pairs.get(m.end() - 1)
        if close is not None:  # an unclosed box (truncated) holds no answer
            boxed.append((m.start(), BOXED, text[m.end():close]))
    hashes = deque(((m.start(), HASH, m.group(1)) for m in _HASH.finditer(text)), maxlen=_MAX_SPANS)
    phrases: deque[tuple[int, str, str]] = deque(maxlen=_MAX_SPANS)
    for m in _ANSWER_IS.finditer(text):
        rest = text[m.end():m.end() + 400]
        offset = len(rest) - len(rest.lstrip(" \t*:"))
        stop = _SENTENCE_END.search(rest, offset)
        phrases.append((m.start(), ANSWER_IS, rest[:stop.start()] if stop else rest))
    return sorted([*tags, *boxed, *hashes, *phrases], key=lambda s: s[0])


def _is_operand(text: str, n: Numeral) -> bool:
    before = text[max(0, n.start - 24):n.start]
    return bool(_OPERAND_AFTER.match(text, n.end) or _OPERAND_BEFORE.search(before))


def _alternative_gap(gap: str) -> bool:
    """True when ``gap`` (text between two numbers) only joins alternatives: whitespace (``72 73``),
    ``,`` / ``;`` / ``|`` or a joining word (``or``, ``maybe``, ``no wait``), at most one unit word
    beside a joiner (``" apples or "``); ``*``, ``$`` and ``%`` are decoration."""
    tokens = _GAP_TOKEN.findall(gap)
    joins = [t for t in tokens if t.lower() in _ALT_WORDS or t in _GAP_JOINS]
    decorations = [t for t in tokens if t in _GAP_DECORATIONS]
    others = [t for t in tokens if t.isalpha() and t.lower() not in _ALT_WORDS]
    if len(joins) + len(decorations) + len(others) != len(tokens):
        return False  # '=', '+', '(' ...: arithmetic or structure, not a list
    return not others or (len(others) == 1 and bool(joins))


def _run(text: str, nums: list[Numeral], i: int, forward: bool) -> list[Numeral]:
    """The numbers listed as alternatives next to ``nums[i]`` (itself included)."""
    run = [nums[i]]
    step = 1 if forward else -1
    j = i + step
    while 0 <= j < len(nums):
        a, b = (nums[j - 1], nums[j]) if forward else (nums[j], nums[j + 1])
        if not _alternative_gap(text[a.end:b.start]):
            break
        run.append(nums[j])
        j += step
    return run if forward else run[::-1]


def _commit(text: str, nums: list[Numeral], i: int, forward: bool) -> tuple[Numeral | None, list[Numeral], str]:
    """The number committed to at ``nums[i]``: follow an equation chain, then collect alternatives."""
    while True:
        n = nums[i]
        if n.value is None:
            return None, [], "malformed"
        if not _is_operand(text, n):
            break
        link = _EQUATION_LINK.match(text, n.end)
        nxt = next((k for k in range(i + 1, len(nums)) if link and nums[k].start >= link.end()), None)
        if nxt is None or not forward:
            return None, [], "expression"
        i = nxt
    return nums[i], _run(text, nums, i, forward), "ok"


def _distinct(keys: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(keys))


def read_number(completion: object) -> Reading:
    """The number ``completion`` commits to (rules in the module docstring). Never raises."""
    try:
        if not isinstance(completion, str) or len(completion) > MAX_CHARS:
            return NOTHING
        text = strip_thinking(completion)
        committed: list[tuple[str, Numeral, list[Numeral]]] = []
        failure = "no_answer"
        for _, anchor, span in anchored_spans(text):
            nums = numerals(span)
            if not nums:
                continue  # "Your answer is correct.", "\boxed{}": no number, not an answer
            number, alternatives, reason = _commit(span, nums, 0, forward=True)
            if number is None:
                failure = reason
                continue
            committed.append((anchor, number, alternatives))
        if not committed and failure == "no_answer":
            nums = numerals(text)
            if not nums:
                return NOTHING
            number, alternatives, failure = _commit(text, nums, len(nums) - 1, forward=False)
            if number is not None:
                committed.append((FINAL, number, alternatives))
        if not committed:
            return Reading(None, None, (), failure)
        candidates = _distinct([n.key for _, _, alts in committed for n in alts])
        anchor, number, _ = committed[-1]
        if len(candidates) > 1:
            return Reading(None, anchor, candidates, "hedge")
        return Reading(number.key, anchor, candidates, "ok", number.value, number.percent)
    except Exception:
        return NOTHING


def _clean(span: str) -> str:
    text = span.strip().strip("*").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) >= len(left) + len(right):
            text = text[len(left):len(text) - len(right)].strip()
    return text.rstrip(".").strip()


def read_text(completion: object) -> Reading:
    """The answer text ``completion`` commits to, for answers that are not one number
    (expressions, fractions, words): anchored spans (which must agree), else the answer of a
    controlled format (``[...] 3/4``), else the last non-empty line. Never raises."""
    try:
        if not isinstance(completion, str) or len(completion) > MAX_CHARS:
            return NOTHING
        text = strip_thinking(completion)
        spans = [(anchor, _clean(span)) for _, anchor, span in anchored_spans(text)]
        spans = [(anchor, span) for anchor, span in spans if span]
        if spans:
            candidates = _distinct([re.sub(r"\s+", "", span) for _, span in spans])
            if len(candidates) > 1:
                return Reading(None, spans[-1][0], candidates, "hedge")
            return Reading(spans[-1][1], spans[-1][0], candidates, "ok")
        fmt, token, _ = formats.parse(completion)
        if fmt != formats.OTHER and token is not None:
            return Reading(token, FORMAT, (token,), "ok")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            return NOTHING
        return Reading(lines[-1], FINAL, (lines[-1],), "ok")
    except Exception:
        return NOTHING


def is_number_answer(answer: object) -> bool:
    """True when the oracle ``answer`` is one number: numbers are read with ``read_number``."""
    return parse_literal(answer) is not None


def listed_alternatives(text: object) -> tuple[str, ...]:
    """The distinct values of the first list of alternative numbers in ``text`` (``"70, 71 or 72"``
    -> ``("70", "71", "72")``); ``()`` when it lists none. Never raises."""
    try:
        if not isinstance(text, str) or len(text) > MAX_CHARS:
            return ()
        nums = numerals(text)
        i = 0
        while i < len(nums):
            run = _run(text, nums, i, forward=True)
            keys = _distinct([n.key for n in run if n.value is not None])
            if len(keys) > 1:
                return keys
            i += len(run)
        return ()
    except Exception:
        return ()


def tag_contents(text: str) -> list[str]:
    """The stripped contents of every ``<answer>...</answer>`` in ``text``, in order."""
    return [span.strip() for _, anchor, span in anchored_spans(text) if anchor == TAG]
