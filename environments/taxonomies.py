"""Format taxonomies: named ways to label the format of a completion, chosen in the config.

Which formats a run's completions fall into depends on the model: rl_lab's pretrained models
write ``terse`` / ``steps`` / ``tagged``, real checkpoints write ``\\boxed{}`` or ``#### N``,
reason in ``<think>`` blocks, or answer in Python. The config's ``formats:`` section names a
taxonomy (``formats: {taxonomy: answer_style}``) and every analysis labels completions with it:

```python
from rl_lab.environments.taxonomies import get_taxonomy

taxonomy = get_taxonomy("answer_style")          # or get_taxonomy("rules", cfg.formats.rules)
taxonomy.labels                                  # ("boxed", "tagged", "hash", "answer_is", "bare_number", "other")
taxonomy.classify("so the answer is \\boxed{132}")  # "boxed"
```

A ``Taxonomy`` has a ``name``, ordered ``labels`` ending with ``other``, and ``classify``, which
returns one of the labels for any object and never raises (non-strings and texts longer than
``answers.MAX_CHARS`` are ``other``). Taxonomies (docs/environments.md has the rules and examples):

- ``controlled``: rl_lab's own formats (``formats.classify_format``): terse, steps, tagged, other.
- ``answer_style``: how the final answer is marked: boxed, tagged, hash, answer_is, bare_number.
- ``reasoning``: thinking (a ``<think>`` block), worked (steps or arithmetic shown), direct.
- ``echo_chamber``: the output formats of Zhao et al. 2025, "Echo Chamber: RL Post-training
  Amplifies Behaviors Learned in Pretraining" (arXiv 2504.07912): python_function (TinyGSM's
  ``def simple_math_problem():``), tagged_code (OpenMathInstruct-1's ``<llm-code>`` blocks, or a
  fenced ``` block), natural_language (OpenMathInstruct-2's prose).
- ``rules``: an ordered list of ``{label, pattern}`` from the config; the first rule whose regex
  ``re.search``-es the completion gives the label, everything else is ``other``.

Format forcing (``rl_lab.core.forcing``): a taxonomy declares, for the labels that can be forced,
how an answer in that format is started (``taxonomy.forcing_for("boxed")`` is a forced
``\\boxed{`` prefix); a rules taxonomy takes each rule's optional ``force_prefix``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rl_lab.core.errors import ConfigError
from rl_lab.core.forcing import Forcing
from rl_lab.environments import answers, formats

OTHER = "other"
DEFAULT = "controlled"


@dataclass(frozen=True)
class Taxonomy:
    name: str
    labels: tuple[str, ...]  # ordered, ending with "other"
    description: str
    rule: Callable[[str], str] = field(repr=False, compare=False)
    forcing: Mapping[str, Forcing] = field(default_factory=dict, repr=False, compare=False)  # label -> how to start it

    def __post_init__(self) -> None:
        if not self.labels or self.labels[-1] != OTHER or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"taxonomy {self.name!r}: labels must be distinct and end with 'other'; got {self.labels}")
        unknown = [label for label in self.forcing if label not in self.labels or label == OTHER]
        if unknown:
            raise ValueError(f"taxonomy {self.name!r}: forcing declared for {unknown}, which are not its labels")

    def forcing_for(self, label: str) -> Forcing:
        """How to start an answer in format ``label``; ConfigError naming the labels that can be forced."""
        found = self.forcing.get(label)
        if found is None:
            raise ConfigError(f"format {label!r} of taxonomy {self.name!r} cannot be forced; forceable formats: "
                              f"{list(self.forcing)}")
        return found

    def classify(self, completion: object) -> str:
        """The label of ``completion``; ``other`` for non-strings, overlong texts and rule errors."""
        if not isinstance(completion, str) or len(completion) > answers.MAX_CHARS:
            return OTHER
        try:
            label = self.rule(completion)
        except Exception:
            return OTHER
        return label if label in self.labels else OTHER


# --------------------------------------------------------------------------- answer_style
_STYLES = ((answers.BOXED, "boxed"), (answers.TAG, "tagged"), (answers.HASH, "hash"), (answers.ANSWER_IS, "answer_is"))


_LATEX_NOISE = re.compile(r"\\[A-Za-z]+|[{}$\s.,:;*]")


def _marks_an_answer(anchor: str, span: str) -> bool:
    # "Your answer is correct." and "The answer is \boxed{}." mark no answer: an "answer is" phrase
    # counts only before a number or some LaTeX math; other markers only around something.
    content = _LATEX_NOISE.sub("", span)
    if anchor != answers.ANSWER_IS:
        return bool(span.strip())
    return bool(content) and (any(ch.isdigit() for ch in content) or "$" in span or "\\" in span)


def _answer_style(text: str) -> str:
    body = answers.strip_thinking(text)
    marked = {anchor for _, anchor, span in answers.anchored_spans(body) if _marks_an_answer(anchor, span)}
    for anchor, label in _STYLES:
        if anchor in marked:
            return label
    return "bare_number" if answers.read_number(text).anchor == answers.FINAL else OTHER


# how each style's answer is started when forced (a bare number: its first token starts a number)
_ANSWER_STYLE_FORCING = {
    "boxed": Forcing(prefix="\\boxed{"), "tagged": Forcing(prefix="<answer>"), "hash": Forcing(prefix="#### "),
    "answer_is": Forcing(prefix="The answer is "), "bare_number": Forcing(first_chars="0123456789-"),
}


# --------------------------------------------------------------------------- reasoning
# Shown arithmetic: a digit, an operator (or '='), a digit: "47 + 85", "7+5=12", "6\times 4", "\frac".
_WORK = re.compile(r"\d\s*(?:[-+*/×÷^=]|\\times|\\cdot|\\div)\s*[({]?\s*\d|\\[dt]?frac\b")
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def _has_answer(text: str) -> bool:
    if formats.classify_format(text) != formats.OTHER or answers.read_number(text).reason in ("ok", "hedge"):
        return True
    return any(span.strip() for _, _, span in answers.anchored_spans(answers.strip_thinking(text)))


def _reasoning(text: str) -> str:
    if "<think>" in text or "</think>" in text:
        return "thinking"
    body = text.strip()
    if not body:
        return OTHER
    if _WORK.search(body) or len([s for s in _SENTENCES.split(body) if s.strip()]) >= 2:
        return "worked"
    return "direct" if _has_answer(body) else OTHER


# --------------------------------------------------------------------------- echo_chamber
_PY_DEF = re.compile(r"^[ \t]*def[ \t]+\w+[ \t]*\(.*\)[ \t]*(?:->[^:\n]+)?:", re.MULTILINE)
_WORDS = re.compile(r"[A-Za-z]{2,}")


def _echo_chamber(text: str) -> str:
    if "<llm-code>" in text:
        return "tagged_code"
    if _PY_DEF.search(text):
        return "python_function"
    if "```" in text:
        return "tagged_code"
    return "natural_language" if len(_WORDS.findall(text)) >= 3 else OTHER


# --------------------------------------------------------------------------- registry
TAXONOMIES: dict[str, Taxonomy] = {
    t.name: t
    for t in (
        Taxonomy("controlled", formats.ALL_LABELS, "rl_lab's formats: terse 132, steps [..] 132, tagged <answer>132</answer>",
                 formats.classify_format, formats.FORCING),
        Taxonomy("answer_style", ("boxed", "tagged", "hash", "answer_is", "bare_number", OTHER),
                 "how the final answer is marked: \\boxed{}, <answer> tags, #### N, 'the answer is N', an unmarked final number",
                 _answer_style, _ANSWER_STYLE_FORCING),
        Taxonomy("reasoning", ("thinking", "worked", "direct", OTHER),
                 "a <think> block, worked steps or arithmetic shown, or the answer alone", _reasoning,
                 {"thinking": Forcing(prefix="<think>")}),
        Taxonomy("echo_chamber", ("python_function", "tagged_code", "natural_language", OTHER),
                 "Zhao et al. 2025: TinyGSM Python function, OpenMathInstruct-1 tagged code, natural language",
                 _echo_chamber, {"python_function": Forcing(prefix="def simple_math_problem():\n"),
                                 "tagged_code": Forcing(prefix="<llm-code>\n")}),
    )
}
RULES = "rules"


def taxonomy_names() -> list[str]:
    return [*TAXONOMIES, RULES]


def _rule_fields(rule: Any) -> tuple[Any, Any, Any]:
    if isinstance(rule, Mapping):
        return rule.get("label"), rule.get("pattern"), rule.get("force_prefix")
    return getattr(rule, "label", None), getattr(rule, "pattern", None), getattr(rule, "force_prefix", None)


def rules_taxonomy(rules: Sequence[Any]) -> Taxonomy:
    """A taxonomy from ordered ``{label, pattern}`` rules (mappings or objects with those attributes).

    Raises ValueError naming the field (``formats.rules.2.pattern: ...``) for a regex that does not
    compile, a missing or reserved label."""
    compiled: list[tuple[str, re.Pattern[str]]] = []
    forcing: dict[str, Forcing] = {}
    for i, rule in enumerate(rules):
        label, pattern, prefix = _rule_fields(rule)
        if not isinstance(label, str) or not label:
            raise ValueError(f"formats.rules.{i}.label: a non-empty label is required")
        if label == OTHER:
            raise ValueError(f"formats.rules.{i}.label: 'other' is the label of whatever no rule matches; pick another")
        if not isinstance(pattern, str):
            raise ValueError(f"formats.rules.{i}.pattern: a regular expression (string) is required")
        try:
            compiled.append((label, re.compile(pattern)))
        except re.error as exc:
            raise ValueError(f"formats.rules.{i}.pattern: {pattern!r} does not compile: {exc}") from None
        if prefix is not None:
            if not isinstance(prefix, str) or not prefix:
                raise ValueError(f"formats.rules.{i}.force_prefix: a non-empty string (or null), got {prefix!r}")
            forcing.setdefault(label, Forcing(prefix=prefix))
    if not compiled:
        raise ValueError("formats.rules: taxonomy 'rules' needs at least one {label, pattern} rule")

    def classify(text: str) -> str:
        return next((label for label, regex in compiled if regex.search(text)), OTHER)

    labels = (*dict.fromkeys(label for label, _ in compiled), OTHER)
    return Taxonomy(RULES, labels, "rules from the config: first matching regex wins", classify, forcing)


def get_taxonomy(name: str = DEFAULT, rules: Sequence[Any] | None = None) -> Taxonomy:
    """The taxonomy called ``name`` (``rules`` builds one from ``rules``). Raises ValueError naming the
    config field (``formats.taxonomy`` / ``formats.rules``) when the name or the rules are wrong."""
    if name == RULES:
        return rules_taxonomy(rules or [])
    if name not in TAXONOMIES:
        raise ValueError(f"formats.taxonomy: unknown taxonomy {name!r}; allowed: {taxonomy_names()}")
    if rules:
        raise ValueError(f"formats.rules: rules are only read with taxonomy 'rules', not {name!r}; "
                         "remove them or set formats.taxonomy: rules")
    return TAXONOMIES[name]
