"""Any reasoning-gym dataset as a family: ``get_family("rg:<dataset>", params)``.

Difficulty levels come from the dataset's own knobs, in this order of precedence
(later wins): the reasoning-gym curriculum value for the level, then the
dataset config keys given in ``params``, then the level's entry in ``levels``:

- ``difficulty_param: <attribute>``: only that curriculum attribute varies; level L
  takes its L-th value (e.g. ``basic_arithmetic``'s ``num_terms`` 2,3,4,5,6).
- no ``difficulty_param``, dataset has a curriculum: every attribute advances together;
  level L sets each attribute to its L-th value (capped at its last).
- ``levels: {1: {max_terms: 2}, 2: {...}}``: an explicit table of config overrides per
  level; the table's keys become the family's levels, and (without ``difficulty_param``)
  no curriculum value is applied.
- no curriculum and no table: one level, 1, the dataset's config as given.

Curriculum ranges use reasoning-gym's ``upper_bound`` mode, so a level is one
setting (``num_terms`` exactly 4), not everything up to it.

Verification (the family entry's ``scoring``, recorded in each problem-set row): ``exact``
(default) credits 1 only when the completion's answer, in one of rl_lab's formats, equals the
oracle answer after stripping surrounding whitespace. ``math`` reads answers written the way
real models write them and compares them with math-verify (``math_scoring``). ``library``
reads reasoning-gym's ``<answer>`` tag (else an rl_lab format) and calls the dataset's own
``score_answer``, whose default gives partial credit ``len(oracle)/len(answer)`` to any answer
merely *containing* the oracle: a shortcut RL learns to exploit, hence not the default. In
every mode a completion hedging over several different answers scores 0.

Answers in rl_lab's formats are one whitespace-free token without ``[ ] < > ;``;
by default (``single_token_answers: true``) entries whose answer is not such a
token are skipped at generation (redrawn, at most ``max_tries`` times).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import json
import math
import random
from typing import Any

from rl_lab.environments import answers, formats
from rl_lab.environments.answers import FORMAT, NOTHING, TAG, Reading
from rl_lab.environments.base import Family, Problem
from rl_lab.environments.scoring import EXACT, LIBRARY, MATH

_RESERVED = ("seed", "size")  # the adapter draws a fresh seed per problem


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy: tuples -> lists, sets -> sorted lists, anything else -> str."""

    def fallback(obj: Any) -> Any:
        if isinstance(obj, (set, frozenset)):
            return sorted(obj, key=repr)
        if hasattr(obj, "tolist"):  # numpy arrays and scalars
            return obj.tolist()
        return str(obj)

    return json.loads(json.dumps(value, default=fallback))


def _registry() -> tuple[dict, dict]:
    import reasoning_gym  # noqa: F401 - registers every dataset (slow: ~2 s)
    from reasoning_gym.factory import CURRICULA, DATASETS

    return DATASETS, CURRICULA


@functools.lru_cache(maxsize=64)
def _scorer(dataset_name: str, config_json: str):
    """A dataset instance for ``score_answer`` (its config can matter for scoring)."""
    import reasoning_gym

    return reasoning_gym.create_dataset(dataset_name, seed=0, size=1, **json.loads(config_json))


def _curriculum_kwargs(curriculum, attr_names: list[str], index: int) -> dict[str, Any]:
    """Dataset config keys that put each named curriculum attribute at level ``index`` (capped)."""
    from reasoning_gym.coaching.attributes import RangeAttributeDefinition
    from reasoning_gym.coaching.base_curriculum import DefaultCurriculumContext, RangeAttributeMode

    context = DefaultCurriculumContext(mode=RangeAttributeMode.UPPER_BOUND)
    out: dict[str, Any] = {}
    for name in attr_names:
        attr = curriculum.get_attribute(name)
        curriculum.set_attr_level(name, min(index, len(attr.levels) - 1))
        value = context.get_attr_value(curriculum, attr)
        if isinstance(attr, RangeAttributeDefinition):
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            out[attr.lower_field_name], out[attr.upper_field_name] = min(values), max(values)
        else:
            out[attr.field_name] = value
    return json_safe(out)


class ReasoningGymFamily(Family):
    """A reasoning-gym dataset with integer difficulty levels and an exact verifier by default."""

    scorings = (EXACT, MATH, LIBRARY)

    def __init__(
        self,
        dataset_name: str,
        levels: dict[Any, dict[str, Any]] | None = None,
        difficulty_param: str | None = None,
        single_token_answers: bool = True,
        max_tries: int = 100,
        **dataset_kwargs: Any,
    ) -> None:
        datasets_, curricula = _registry()
        if dataset_name not in datasets_:
            close = difflib.get_close_matches(dataset_name, list(datasets_), n=5)
            raise KeyError(
                f"unknown reasoning-gym dataset {dataset_name!r}; close matches: {close} "
                f"(reasoning_gym.factory.DATASETS lists all {len(datasets_)})"
            )
        if "scoring" in dataset_kwargs:
            raise ValueError(
                f"rg:{dataset_name}: params.scoring has moved to the family entry: write `scoring: "
                f"{dataset_kwargs['scoring']}` next to `name:` (environments.families[i].scoring: exact | math | library)"
            )
        if not isinstance(max_tries, int) or max_tries < 1:
            raise ValueError(f"rg:{dataset_name}: params.max_tries must be a positive integer, got {max_tries!r}")
        self.dataset_name = dataset_name
        self.name = f"rg:{dataset_name}"
        self.single_token_answers = bool(single_token_answers)
        self.max_tries = max_tries
        self._config_cls = datasets_[dataset_name][1]
        self._fields = [f.name for f in dataclasses.fields(self._config_cls)]
        self._check_keys(dataset_kwargs, "params")
        table = self._parse_table(levels)
        curriculum = curricula[dataset_name]() if dataset_name in curricula else None
        attrs = self._varied_attributes(curriculum, difficulty_param, table is not None)

        if table is not None:
            level_ids = sorted(table)
        elif attrs:
            level_ids = list(range(1, max(len(curriculum.get_attribute(a).levels) for a in attrs) + 1))
        else:
            level_ids = [1]
        self.level_table: dict[int, dict[str, Any]] = {}
        for level in level_ids:
            from_curriculum = _curriculum_kwargs(curriculum, attrs, level - 1) if attrs else {}
            kwargs = {**from_curriculum, **json_safe(dataset_kwargs), **(table or {}).get(level, {})}
            self._validate_config(level, kwargs)
            self.level_table[level] = kwargs
        self.levels = tuple(level_ids)
        if table is not None:
            self.level_meaning = f"explicit per-level config overrides of reasoning-gym {dataset_name!r}"
        elif difficulty_param:
            values = curriculum.get_attribute(difficulty_param).levels
            self.level_meaning = f"level L = reasoning-gym {dataset_name!r} curriculum {difficulty_param!r} value L of {values}"
        elif attrs:
            desc = ", ".join(f"{a}={curriculum.get_attribute(a).levels}" for a in attrs)
            self.level_meaning = f"level L = every curriculum attribute of {dataset_name!r} at its L-th value (capped): {desc}"
        else:
            self.level_meaning = f"reasoning-gym {dataset_name!r} has no curriculum: one level, its config as given"

    # ------------------------------------------------------------------ construction helpers
    def _check_keys(self, kwargs: dict[str, Any], where: str) -> None:
        reserved = sorted(set(kwargs) & set(_RESERVED))
        if reserved:
            raise ValueError(f"{self.name}: {where} may not set {reserved}; the adapter seeds each problem itself")
        unknown = sorted(set(kwargs) - set(self._fields))
        if unknown:
            allowed = [f for f in self._fields if f not in _RESERVED]
            raise ValueError(
                f"{self.name}: {where} has unknown key(s) {unknown}; adapter keys: levels, "
                f"difficulty_param, single_token_answers, max_tries; dataset config keys: {allowed}"
            )

    def _parse_table(self, levels: Any) -> dict[int, dict[str, Any]] | None:
        if levels is None:
            return None
        if not isinstance(levels, dict) or not levels:
            raise ValueError(f"{self.name}: params.levels must be a non-empty mapping level -> dataset config overrides")
        table: dict[int, dict[str, Any]] = {}
        for key, overrides in levels.items():
            try:
                level = int(key)  # YAML/JSON may give "1"
            except (TypeError, ValueError):
                raise ValueError(f"{self.name}: params.levels key {key!r} is not an integer level") from None
            if level < 1:
                raise ValueError(f"{self.name}: params.levels key {key!r} must be a level >= 1")
            if not isinstance(overrides, dict):
                raise ValueError(f"{self.name}: params.levels.{key} must be a mapping of dataset config keys")
            self._check_keys(overrides, f"params.levels.{key}")
            table[level] = overrides
        return table

    def _varied_attributes(self, curriculum, difficulty_param: str | None, has_table: bool) -> list[str]:
        if difficulty_param is None:  # an explicit table alone means full control: no curriculum
            return list(curriculum.attributes) if curriculum is not None and not has_table else []
        if curriculum is None:
            raise ValueError(
                f"{self.name}: params.difficulty_param needs a reasoning-gym curriculum and this dataset has none; "
                "use params.levels (a per-level table of config overrides) instead"
            )
        if difficulty_param not in curriculum.attributes:
            raise ValueError(
                f"{self.name}: params.difficulty_param {difficulty_param!r} is not a curriculum attribute; "
                f"allowed: {sorted(curriculum.attributes)}"
            )
        return [difficulty_param]

    def _validate_config(self, level: int, kwargs: dict[str, Any]) -> None:
        try:
            config = self._config_cls(**copy.deepcopy(kwargs), seed=0, size=1)
            if hasattr(config, "validate"):
                config.validate()
        except Exception as exc:  # reasoning-gym validates with assert: turn it into a clear error
            raise ValueError(f"{self.name}: level {level} config {kwargs} is invalid: {exc or type(exc).__name__}") from None

    # ------------------------------------------------------------------ the family contract
    def generate(self, difficulty: int, rng: random.Random) -> Problem:
        import reasoning_gym

        self.check_level(difficulty)
        kwargs = self.level_table[difficulty]
        for _ in range(self.max_tries):
            # A fresh dataset per problem: its seed comes from our rng, so generation is
            # deterministic for a seed without assuming how each dataset indexes items.
            seed = rng.randrange(2**31)
            entry = reasoning_gym.create_dataset(self.dataset_name, seed=seed, size=1, **copy.deepcopy(kwargs))[0]
            answer = str(entry["answer"])
            if not self.single_token_answers or formats.is_answer_token(answer):
                break
        else:
            raise ValueError(
                f"{self.name}: no single-token answer in {self.max_tries} draws at level {difficulty} "
                f"(last: {answer[:60]!r}); rl_lab's formats write one whitespace-free token; "
                "set params.single_token_answers: false to keep multi-token answers (they cannot be rendered)"
            )
        metadata = {
            "rg": {
                "dataset": self.dataset_name, "config": kwargs, "seed": seed,
                "entry": json_safe({"question": entry["question"], "answer": answer, "metadata": entry.get("metadata", {})}),
            },
        }
        return Problem(self.name, difficulty, str(entry["question"]), answer, (), metadata)

    def ask(self, question: str) -> str:
        return question  # reasoning-gym questions are written for people

    def render(self, problem: Problem, fmt: str) -> str:
        if not formats.is_answer_token(problem.answer):
            raise ValueError(
                f"{self.name}: answer {problem.answer[:60]!r} is not one whitespace-free token without [ ] < > ; "
                "so no answer format can write it; generate with params.single_token_answers: true"
            )
        return super().render(problem, fmt)

    def library_read(self, completion: object, answer: str) -> Reading:
        """reasoning-gym's reading: the last ``<answer>`` tag (``reasoning_gym.utils.extract_answer``),
        else an rl_lab format's answer. Disagreeing tags, or a list of different numbers where the
        oracle is not one, are a hedge."""
        if not isinstance(completion, str) or len(completion) > answers.MAX_CHARS:
            return NOTHING
        from reasoning_gym.utils import extract_answer

        tags = answers.tag_contents(completion)
        text = extract_answer(completion) if tags else formats.extract_answer(completion)
        if text is None:
            return NOTHING
        anchor, distinct = (TAG if tags else FORMAT), tuple(dict.fromkeys(tags))
        if len(distinct) > 1:
            return Reading(None, anchor, distinct, "hedge")
        listed = answers.listed_alternatives(text)
        if listed and not answers.listed_alternatives(answer):
            return Reading(None, anchor, listed, "hedge")
        return Reading(text, anchor, (text,), "ok")

    def library_score(self, completion: object, answer: str, metadata: dict[str, Any]) -> float:
        predicted = self.library_read(completion, answer).answer
        if predicted is None:
            return 0.0
        rg = metadata.get("rg") if isinstance(metadata.get("rg"), dict) else {}
        entry = rg.get("entry") or {"question": "", "answer": answer, "metadata": {}}
        config = rg.get("config") if isinstance(rg.get("config"), dict) else {}
        dataset = _scorer(self.dataset_name, json.dumps(config, sort_keys=True))
        value = float(dataset.score_answer(predicted, entry))
        return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
