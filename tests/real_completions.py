"""Completions written the way real models answer, for the prompt ``47+85=`` (oracle 132) unless
a row says otherwise, each labelled by construction:

- ``correct``: commits to the right answer, in some real model's style;
- ``wrong``: commits to a wrong answer (some mention 132 elsewhere: in thinking, after the answer);
- ``shortcut``: not a committed right answer, though a lenient checker pays it: hedges over
  several numbers ending on 132, malformed numbers that Python's ``int``/``Decimal`` or
  math-verify read as 132, the question echoed back as an expression.

Rows marked ``smollm2`` are SmolLM2-135M-Instruct's own outputs (greedy and T=1, from the
GGUF checkpoint rl_lab's tests use) with the numbers of their problem; the others follow
GSM8K, MATH/Minerva, DeepSeek-R1 and open-r1 conventions.

``python tests/real_completions.py`` prints how many of each kind each scoring mode pays.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    completion: str
    kind: str  # correct | wrong | shortcut
    style: str
    answer: str = "132"


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ correct
    Case("132", "correct", "bare"),
    Case("[7+5=12;4+8+1=13] 132", "correct", "rl_lab steps"),
    Case("<answer>132</answer>", "correct", "rl_lab tagged"),
    Case("The answer is 132.", "correct", "answer is"),
    Case("47 + 85 = 132", "correct", "equation"),
    Case("47+85=132", "correct", "equation"),
    Case("#### 132", "correct", "gsm8k"),
    Case("Let's add: 47 + 85 = 132.\n#### 132", "correct", "gsm8k"),
    Case("**132**", "correct", "bold"),
    Case("**Answer:** 132", "correct", "bold answer"),
    Case("The sum of 47 and 85 is **132**.", "correct", "bold"),
    Case("To add 47 and 85, add the ones: 7 + 5 = 12, write 2 and carry 1. Then the tens: 4 + 8 + 1 = 13.\n"
         "So the sum is 132.\n\n\\boxed{132}", "correct", "cot + boxed"),
    Case("The final answer is $\\boxed{132}$.", "correct", "boxed"),
    Case("We have $47 + 85 = 132$, so the answer is $\\boxed{132}$.", "correct", "latex + boxed"),
    Case("Final Answer: The final answer is $132$. I hope it is correct.", "correct", "minerva"),
    Case("<think>47 + 85: 40 + 80 = 120 and 7 + 5 = 12, so 120 + 12 = 132.</think><answer>132</answer>", "correct",
         "r1 tags"),
    Case("<think>\nI need 47 plus 85. 47 + 80 = 127, then 127 + 5 = 131... no, 132.\n</think>\n\nThe answer is 132.",
         "correct", "r1 think + prose"),
    Case("I add the tens first.</think>\n<answer> 132 </answer>", "correct", "think opened in prompt"),
    Case("\\[47 + 85 = 132\\]\nThe answer is: **132**", "correct", "latex display"),
    Case("To solve this problem, we need to add 47 and 85.\n\nLet's start by adding 47 and 85:\n47 + 85 = 132\n\n"
         "So, the final answer is 132.", "correct", "smollm2"),
    Case("47 + 85 = 132\n\nThe answer is \\boxed{}.", "correct", "smollm2"),
    Case("The answer to this classic math problem is 132.", "correct", "smollm2"),
    Case("47 + 85 = 132 in mathematics.", "correct", "smollm2"),
    Case("47 + 85 = 132\n\nYour answer is correct.", "correct", "smollm2"),
    Case("To find 47+85, you add the tens and the ones, which equals 132.", "correct", "smollm2"),
    Case("The total is $1{,}320$.", "correct", "latex thousands", "1320"),
    Case("\\boxed{1{,}320}", "correct", "latex thousands", "1320"),
    Case("They paid $1,320 in all.\n#### 1,320", "correct", "gsm8k thousands", "1320"),
    # ------------------------------------------------------------------ wrong
    Case("The answer is 131.", "wrong", "answer is"),
    Case("47 + 85 = 122", "wrong", "equation"),
    Case("47 + 85 = 1132", "wrong", "equation"),
    Case("#### 133", "wrong", "gsm8k"),
    Case("\\boxed{122}", "wrong", "boxed"),
    Case("<answer>131</answer>", "wrong", "rl_lab tagged"),
    Case("-132", "wrong", "negative"),
    Case("<think>47 + 85 is 132? Let me recheck: 40 + 80 = 120, 7 + 5 = 2.</think><answer>122</answer>", "wrong",
         "r1 tags, 132 in thinking"),
    Case("The answer is 122. Check: 47 + 85 = 132.", "wrong", "answer, then a later number"),
    Case("The answer is 122. Step 132 confirms it.", "wrong", "answer, then a later number"),
    Case("The final answer is 278.\n47+85=132", "wrong", "smollm2"),
    Case("To solve this problem, you need to add 47 and 85.\n\nThe final answer is 122.\n\n"
         "So, the final answer is 122.", "wrong", "smollm2"),
    Case("\u2212132", "wrong", "unicode minus (-132)"),
    # ------------------------------------------------------------------ shortcuts
    Case("I think it is 130, 131 or 132", "shortcut", "hedge"),
    Case("132 133 134 132", "shortcut", "hedge"),
    Case("#### 132 or 133", "shortcut", "hedge"),
    Case("The answer is 132 or 133.", "shortcut", "hedge"),
    Case("\\boxed{130} or \\boxed{132}", "shortcut", "hedge"),
    Case("The answer is 131, no wait 132.", "shortcut", "hedge"),
    Case("47+85", "shortcut", "echo"),
    Case("The answer is 47+85.", "shortcut", "echo"),
    Case("\\boxed{264/2}", "shortcut", "expression"),
    Case("The number 47+85 is a mathematical concept that represents the sum of forty-seven and eighty-five.",
         "shortcut", "smollm2 echo"),
    Case("0x132", "shortcut", "malformed"),
    Case("132apples", "shortcut", "malformed"),
    Case("\u0661\u0663\u0662", "shortcut", "arabic-indic digits"),
    Case("\uff11\uff13\uff12", "shortcut", "fullwidth digits"),
    Case("1_32", "shortcut", "underscore"),
    Case("132e0", "shortcut", "exponent"),
)

KINDS = ("correct", "wrong", "shortcut")


def counts(score) -> dict[str, tuple[int, int]]:
    """``{kind: (paid, total)}`` for ``score(completion, answer) -> float``; paid means a reward of 1."""
    out = {}
    for kind in KINDS:
        rows = [c for c in CASES if c.kind == kind]
        out[kind] = (sum(score(c.completion, c.answer) == 1.0 for c in rows), len(rows))
    return out


def main() -> None:
    import logging

    from rl_lab.environments.gsm8k import GSM8K
    from rl_lab.environments.registry import get_family

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    addition = get_family("addition")
    gsm8k = GSM8K.__new__(GSM8K)  # verification needs no data file
    modes = {
        "addition exact": lambda c, a: addition.verify(c, a, {"scoring": "exact"}),
        "addition math": lambda c, a: addition.verify(c, a, {"scoring": "math"}),
        "gsm8k exact": lambda c, a: gsm8k.verify(c, a, {"scoring": "exact"}),
        "gsm8k math": lambda c, a: gsm8k.verify(c, a, {"scoring": "math"}),
    }
    print(f"{'mode':<16}" + "".join(f"{kind + ' paid':>16}" for kind in KINDS))
    for name, score in modes.items():
        row = counts(score)
        print(f"{name:<16}" + "".join(f"{f'{row[k][0]}/{row[k][1]}':>16}" for k in KINDS))


if __name__ == "__main__":
    main()
