"""The ``math`` scoring mode: ``answers`` reads the answer, math-verify judges equivalence.

math-verify (Hugging Face's checker, the one TRL's and open-r1's examples use) parses LaTeX and
plain expressions into sympy and compares them (``1{,}000`` = ``1000``, ``\\frac{3}{4}`` = ``0.75``,
``72\\%`` = ``72``). Its own extraction is not used on the whole completion: it takes the
right-most number (paying ``70, 71 or 72``), reads ``<think>70</think><answer>72</answer>`` as 70
and evaluates echoed questions (``47+85``). So ``answers`` decides *what* the answer is, strictly,
and math-verify only decides whether that answer equals the oracle:

- a number oracle (``"132"``, ``"-7.5"``): the completion must commit to one valid number
  (``answers.read_number``); math-verify compares its canonical text with the oracle;
- any other oracle (``"3/4"``, ``"x^2+1"``): the completion's answer text (``answers.read_text``)
  is compared as LaTeX; an oracle without a digit (a word) is compared as a string, since
  math-verify would read ``cat`` as the product c*a*t (equal to ``act``).

Timeouts: by default math-verify bounds each parse/verify with ``signal.alarm``, which raises
``ValueError`` off the main thread (Ray Tune trials, TRL reward workers). It is called here with
``parsing_timeout=None`` and ``timeout_seconds=None``, which disables the alarm (math-verify logs
a one-time warning saying so). Without a timeout sympy could hang on an expression such as
``9^{9^{9}}``, so only bounded input reaches it: a canonical numeral for number oracles, else a
text of at most ``MAX_EXPRESSION_CHARS`` without exponent towers, huge exponents, factorials of
big numbers, sums, products, integrals or limits (``too_costly``).
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal

from rl_lab.environments import answers
from rl_lab.environments.answers import Reading

MAX_EXPRESSION_CHARS = 200
_COSTLY = re.compile(
    r"\^\s*[{(]?[^\s{}()]*\^"  # exponent towers: 9^9^9, 9^{9^{9}}
    r"|\^\s*[{(]?\s*[-+]?\d{5,}"  # 2^{100000}
    r"|\d{3,}\s*!|[)}]\s*!"  # 1000!, (10^3)!
    r"|\*\*|\\(?:sum|prod|int|iint|iiint|oint|lim|infty)\b"
)


def too_costly(text: str) -> bool:
    """True for text sympy might not evaluate quickly (then it scores 0 without reaching sympy)."""
    return len(text) > MAX_EXPRESSION_CHARS or _COSTLY.search(text) is not None


def _mv():
    import math_verify  # lazy: importing sympy takes about a second

    return math_verify


@functools.lru_cache(maxsize=8192)
def _parsed(text: str, latex: bool) -> tuple:
    mv = _mv()
    config = [mv.LatexExtractionConfig(), mv.ExprExtractionConfig()] if latex else [mv.ExprExtractionConfig()]
    return tuple(mv.parse(text, extraction_config=config, parsing_timeout=None))


def _equivalent(gold: str, pred: str, latex: bool) -> bool:
    mv = _mv()
    parsed_gold, parsed_pred = _parsed(gold, latex), _parsed(pred, latex)
    if not parsed_gold or not parsed_pred:
        return False
    return bool(mv.verify(list(parsed_gold), list(parsed_pred), timeout_seconds=None))


def _same_text(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)


def read(completion: object, oracle: str) -> Reading:
    """How the ``math`` mode reads ``completion`` for ``oracle``: as a number when the oracle is one."""
    return answers.read_number(completion) if answers.is_number_answer(oracle) else answers.read_text(completion)


def numbers_equal(gold: Decimal, reading: Reading) -> bool:
    """math-verify's verdict on a committed number (``%`` kept: math-verify accepts 72% for 72 and 0.72)."""
    if reading.value is None:
        return False
    pred = answers.canonical(reading.value) + ("%" if reading.percent else "")
    return _equivalent(answers.canonical(gold), pred, latex=False)


def texts_equal(gold: str, reading: Reading) -> bool:
    """math-verify's verdict on a committed answer text; words are compared as strings."""
    pred = reading.answer
    if pred is None:
        return False
    if _same_text(pred, gold):
        return True
    if not any(ch.isdigit() for ch in gold) or too_costly(pred) or too_costly(gold):
        return False
    # An anchored span is one LaTeX answer; a plain last line is handed over as text for
    # math-verify to find the expression in ("The fraction is 3/4").
    wrapped = pred if reading.anchor == answers.FINAL else f"${pred}$"
    return _equivalent(f"${gold}$", wrapped, latex=True)


def math_score(completion: object, oracle: object) -> float:
    """1.0 when the answer ``completion`` commits to equals ``oracle`` mathematically, else 0.0.

    Hedged, malformed, echoed-expression and unreadable answers score 0. Never raises; safe to call
    from any thread."""
    try:
        gold = str(oracle).strip()
        reading = read(completion, gold)
        if reading.answer is None:
            return 0.0
        value = answers.parse_literal(gold)
        ok = numbers_equal(value, reading) if value is not None else texts_equal(gold, reading)
        return 1.0 if ok else 0.0
    except Exception:
        return 0.0
