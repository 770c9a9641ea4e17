"""Reading real models' answers (environments/answers.py) and the math scoring mode (math-verify)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rl_lab.environments import answers
from rl_lab.environments.answers import listed_alternatives, parse_literal, read_number, read_text
from rl_lab.environments.math_scoring import math_score, too_costly

SETTINGS = settings(max_examples=150, deadline=None)


@pytest.mark.parametrize(
    ("completion", "answer", "anchor"),
    [
        ("132", "132", "final"),
        ("The answer is 132.", "132", "answer_is"),
        ("The answer to this classic math problem is 12.", "12", "answer_is"),  # SmolLM2
        ("47 + 85 = 132", "132", "final"),
        ("#### 132", "132", "hash"),
        ("so \\boxed{132}", "132", "boxed"),
        ("<think>hmm, 70?</think><answer>132</answer>", "132", "tag"),
        ("planning</think>The answer is 132.", "132", "answer_is"),  # <think> opened in the prompt
        ("**132**", "132", "final"),
        ("**Answer:** 132", "132", "answer_is"),
        ("The answer is 132. Step 2 confirms it.", "132", "answer_is"),  # a later number is not the answer
        ("The answer is 122. Step 132 confirms it.", "122", "answer_is"),
        ("The final answer is 278.\n47+85=132", "278", "answer_is"),
        ("The answer is 12 + 6 = 18", "18", "answer_is"),  # an equation chain gives its result
        ("7 + 5 = 12\n\nThe answer is \\boxed{}.", "12", "final"),  # SmolLM2: an empty box is no answer
        ("4 + 8 = 12\n\nYour answer is correct.", "12", "final"),  # SmolLM2: no number, no answer
        ("The final answer is 4.\n\nSo, the final answer is 4.", "4", "answer_is"),  # repeated, agreeing
        ("[7+5=12;4+8+1=13] 132", "132", "final"),
        ("1{,}000", "1000", "final"),
        ("\\boxed{1{,}000}", "1000", "boxed"),
        ("The total is $2,400.", "2400", "final"),
        ("72.0", "72", "final"),
        ("x = -72", "-72", "final"),
        ("<answer>\\boxed{72}</answer>", "72", "boxed"),
        ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nIn all 48+24 = <<48+24=72>>72 clips.", "72", "final"),
        ("132\u200b", "132", "final"),
        # SmolLM2 rambling after an unmarked answer: without an anchor the last number is the answer
        # (documented limit; 52 was meant)
        ("18 + 34 = 52\n\nIn this case, 18 and 34 are both multiples of 18, a fundamental concept.", "18", "final"),
        ("\\boxed{969 + 320 = 1228}", "1228", "boxed"),  # SmolLM2 boxes an equation: its result
    ],
)
def test_reads_the_committed_number(completion, answer, anchor):
    reading = read_number(completion)
    assert (reading.answer, reading.anchor, reading.reason) == (answer, anchor, "ok")
    assert not reading.hedged and reading.candidates == (answer,)


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("I guess 70, 71 or 72", "hedge"),
        ("72 73 74 72", "hedge"),
        ("#### 72 or 73", "hedge"),
        ("The answer is 72 or 73", "hedge"),
        ("answer: 71, no wait 72", "hedge"),
        ("72 apples or 73 apples", "hedge"),
        ("\\boxed{72} but maybe \\boxed{73}", "hedge"),
        ("\\boxed{1} or \\boxed{320}", "hedge"),  # math-verify joins these into 1320
        ("3,75", "hedge"),  # not a thousands group: two numbers
        ("\u221272", "malformed"),  # Unicode minus
        ("0x72", "malformed"),
        ("72apples", "malformed"),
        ("\u0667\u0662", "malformed"),
        ("\uff17\uff12", "malformed"),
        ("\U0001d7d5\U0001d7d0", "malformed"),
        ("7_2", "malformed"),
        ("72e0", "malformed"),
        ("72²", "malformed"),
        ("47+85", "expression"),  # the question echoed back
        ("The answer is 47+85.", "expression"),
        ("\\boxed{47+85}", "expression"),
        ("\\frac{264}{2}", "expression"),
        ("The number 0+4 is a mathematical concept.", "expression"),  # SmolLM2
        ("<think>unclosed 72", "no_answer"),  # truncated inside thinking
        ("no number here", "no_answer"),
        ("", "no_answer"),
    ],
)
def test_refuses_hedges_malformed_numbers_and_echoes(completion, reason):
    reading = read_number(completion)
    assert reading.answer is None and reading.reason == reason
    assert reading.hedged == (reason == "hedge")
    if reason == "hedge":
        assert len(reading.candidates) >= 2


@pytest.mark.parametrize("junk", [None, 132, b"132", ["132"], "9" * (answers.MAX_CHARS + 1)])
def test_non_text_and_overlong_read_as_nothing(junk):
    assert read_number(junk).answer is None and read_text(junk).answer is None


def test_literals_and_listed_alternatives():
    assert parse_literal(" 1,000 ") == 1000 and parse_literal("-7.50") == parse_literal("-7.5")
    for not_one in ("1,00", "7 8", "72%", "$72", "72e0", "\uff17\uff12", "+", "", None):
        assert parse_literal(not_one) is None, not_one
    assert listed_alternatives("70, 71 or 72") == ("70", "71", "72")
    assert listed_alternatives("72 or 72") == () and listed_alternatives("47 + 85 = 132") == ()


def test_read_text_for_answers_that_are_not_one_number():
    assert read_text("\\boxed{\\frac{3}{4}}").answer == "\\frac{3}{4}"
    assert read_text("[] 3/4").answer == "3/4"
    assert read_text("Simplifying gives\nThe fraction is 3/4").answer == "The fraction is 3/4"
    assert read_text("\\boxed{3/4} or \\boxed{1/2}").hedged


@pytest.mark.parametrize(
    ("completion", "oracle", "reward"),
    [
        ("The answer is 132.", "132", 1.0),
        ("\\boxed{1{,}000}", "1000", 1.0),
        ("The total is $1{,}000$.", "1000", 1.0),
        ("72\\%", "72", 1.0),  # math-verify: a percentage of the oracle's number
        ("72%", "0.72", 1.0),
        ("-72", "-72", 1.0),
        ("0.72", "72", 0.0),
        ("72.0000001", "72", 0.0),
        ("\\boxed{0.75}", "3/4", 1.0),  # non-number oracles: math-verify equivalence
        ("\\boxed{\\frac{3}{4}}", "0.75", 0.0),  # a number oracle needs a number, not an expression
        ("The fraction is 3/4", "3/4", 1.0),
        ("$x^2+1$", "1+x^2", 1.0),
        ("<answer>cat</answer>", "cat", 1.0),
        ("<answer>act</answer>", "cat", 0.0),  # math-verify alone: c*a*t == a*c*t
        ("\\boxed{9^{9^{9}}}", "3/4", 0.0),  # never reaches sympy (would hang without a timeout)
    ],
)
def test_math_score(completion, oracle, reward):
    assert math_score(completion, oracle) == reward


@pytest.mark.parametrize(
    "costly",
    ["(10^{10})!", "2^{2^{2^{2^{2^{2}}}}}", "9^9^9", "\\sum_{k=1}^{10^{12}} k^k", "\\int_0^1 e^{x^{x^{x}}} dx",
     "2^{1000000}", "1000!", "x" * 201],
)
def test_costly_expressions_never_reach_sympy(costly):
    assert too_costly(costly)
    assert math_score(f"\\boxed{{{costly}}}", "3/4") == 0.0 and math_score(costly, "x+1") == 0.0


def test_math_scoring_runs_off_the_main_thread():
    """Ray Tune trials and TRL may call rewards from worker threads, where math-verify's default
    signal-based timeout raises; math scoring disables it and gives the main thread's answers."""
    import math_verify

    cases = [("The answer is 132.", "132"), ("\\boxed{1{,}000}", "1000"), ("\\boxed{0.75}", "3/4"),
             ("I guess 130 or 132", "132"), ("47+85", "132")]
    expected = [math_score(c, o) for c, o in cases]
    assert expected == [1.0, 1.0, 1.0, 0.0, 0.0]
    with ThreadPoolExecutor(max_workers=2) as pool:
        with pytest.raises(ValueError, match="thread"):  # what happens with math-verify's defaults
            pool.submit(math_verify.parse, "132").result()
        assert list(pool.map(lambda case: math_score(*case), cases)) == expected
    got: list[float] = []
    thread = threading.Thread(target=lambda: got.extend(math_score(c, o) for c, o in cases))
    thread.start()
    thread.join()
    assert got == expected


REAL_STYLES = ("{n}", "The answer is {n}.", "{a} + {b} = {n}", "#### {n}", "so the answer is $\\boxed{{{n}}}$",
               "<think>adding {a} and {b}</think><answer>{n}</answer>", "**{n}**", "Final Answer: {n}",
               "Let's add: {a} + {b} = {n}.\nThe answer is {n}.")


@SETTINGS
@given(st.integers(-10**9, 10**9), st.integers(0, 10**4), st.sampled_from(REAL_STYLES))
def test_math_pays_every_real_style_and_only_the_right_number(n, a, style):
    text = style.format(n=n, a=a, b=n - a)
    assert read_number(text).answer == str(n)
    assert math_score(text, str(n)) == 1.0
    assert math_score(text, str(n + 1)) == 0.0


@SETTINGS
@given(st.one_of(st.text(), st.text(alphabet="0123456789 ,.+-=<>/\\{}boxedanswr#*$%", max_size=200)), st.text(max_size=8))
def test_readers_and_math_score_never_raise(text, oracle):
    for reading in (read_number(text), read_text(text)):
        assert reading.reason in ("ok", "no_answer", "malformed", "expression", "hedge")
        assert (reading.answer is None) == (reading.reason != "ok")
    assert math_score(text, oracle) in (0.0, 1.0)


N = answers.MAX_CHARS - 10
HOSTILE = {  # text -> reward for oracle "1"; each once took quadratic time or could
    "\\boxed{" * (N // 7): 0.0,  # unclosed boxes: brace matching is one pass
    "\\boxed{" * (N // 14) + "1" + "}" * (N // 14): 1.0,  # nested boxes that all say 1
    "<answer>" * (N // 8): 0.0,
    "<answer>1</answer>" * (N // 18): 1.0,
    "1+" * (N // 2): 0.0,  # one long expression: no answer
    "1+1=" * (N // 4): 0.0,
    "answer is 1 " * (N // 12): 1.0,
    "#### 1 " * (N // 7): 1.0,
    "<think>" * (N // 7): 0.0,
    "1 or 2 " * (N // 7): 0.0,
    "1a" * (N // 2): 0.0,
}


@pytest.mark.parametrize("text", list(HOSTILE), ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_completions_near_the_length_limit(text):
    assert math_score(text, "1") == HOSTILE[text]
    assert math_score(text, "3/4") == 0.0
