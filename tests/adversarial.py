"""Adversarial completions for a numeric oracle answer: shortcuts no scoring mode may pay.

Each was paid by some verifier before (GSM8K's last-number fallback with ``Decimal``, or
math-verify's right-most number): hedging over several numbers that ends on the right one, and
number forms that are not ASCII digits with an ASCII sign (``int``/``Decimal`` accept Unicode
digits and underscores; regexes with ``\\d`` match Unicode digits; a Unicode minus is skipped).
"""

from __future__ import annotations

from hypothesis import strategies as st

_DIGITS = "0123456789"
SCRIPTS = {
    "fullwidth": str.maketrans(_DIGITS, "０１２３４５６７８９"),
    "arabic-indic": str.maketrans(_DIGITS, "٠١٢٣٤٥٦٧٨٩"),
    "math bold": str.maketrans(_DIGITS, "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"),
}
# Where a shortcut can sit in a real-looking completion.
WRAPS = ("{x}", "The answer is {x}.", "#### {x}", "So the total is {x}", "\\boxed{{{x}}}", "<answer>{x}</answer>",
         "<think>adding up</think><answer>{x}</answer>")


def malformed_forms(answer: str) -> dict[str, str]:
    """Forms of ``answer`` (an integer string) that a lenient parser reads as it, or as its negative."""
    sign, digits = ("-", answer[1:]) if answer.startswith("-") else ("", answer)
    forms = {name: answer.translate(table) for name, table in SCRIPTS.items()}
    forms.update({
        "underscore": sign + (digits[0] + "_" + digits[1:] if len(digits) > 1 else "0_" + digits),
        "exponent": answer + "e0",
        "hex": sign + "0x" + digits,
        "glued unit": answer + "apples",
        "unicode minus": "\u2212" + digits,  # reads as -digits: the wrong sign for a positive answer
    })
    return forms


def hedges(answer: str, other: str, third: str) -> list[str]:
    """Completions listing several different candidates, ending on (or including) ``answer``."""
    return [
        f"I guess {other}, {third} or {answer}",
        f"{other} {third} {answer}",
        f"{answer} {other} {third} {answer}",
        f"#### {answer} or {other}",
        f"The answer is {answer} or maybe {other}.",
        f"The answer is {other}, no wait {answer}.",
        f"\\boxed{{{other}}} or \\boxed{{{answer}}}",
        f"<answer>{other}</answer> <answer>{answer}</answer>",
        f"<answer>{other} or {answer}</answer>",
    ]


@st.composite
def shortcuts(draw, answer: str) -> str:
    """One adversarial completion for the integer string ``answer``."""
    value = int(answer)
    if draw(st.booleans()):
        others = draw(st.lists(st.integers(-10**6, 10**6).filter(lambda v: v != value), min_size=2, max_size=2,
                               unique=True))
        return draw(st.sampled_from(hedges(answer, str(others[0]), str(others[1]))))
    form = draw(st.sampled_from(sorted(malformed_forms(answer).values())))
    return draw(st.sampled_from(WRAPS)).format(x=form)
