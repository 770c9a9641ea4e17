"""Cost of the ``math`` scoring mode against ``exact``, per completion, in the same run.

The completions are tests/real_completions.py (57 real-model styles, prompt ``47+85=``),
scored through ``verify_completion`` on problem-set rows, as TRL's reward function does:

* exact: rl_lab's controlled formats (the baseline);
* math: ``answers`` reads the answer, math-verify compares; ``math_cold`` empties rl_lab's
  cache of math-verify parses before each pass (every distinct number parsed again);
* math-verify alone: ``verify(parse(oracle), parse(completion))`` with timeouts off, for reference.

Each arm runs ``repeats`` times over all completions; the result is the median time per
completion and its ratio to exact. A GRPO step scores ``batch_size x num_generations``
completions, so the math cost per step is that many times the per-completion figure.

    python -m bench scoring_cost
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scoring_cost.json"


def _arm(score, cases, repeats: int, before=None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        for case in cases:
            score(case)
        times.append((time.perf_counter() - start) / len(cases))
    return statistics.median(times)


def main(repeats: int = 20) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "tests"))
    from real_completions import CASES

    from rl_lab.core.io import atomic_write_json
    from rl_lab.environments.math_scoring import _parsed
    from rl_lab.environments.problem_sets import verify_completion

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # the one-time "timeout disabled" notice
    import math_verify

    def row(case, mode):
        return {"family": "addition", "answer": case.answer, "metadata": json.dumps({"scoring": mode})}

    arms = {
        "exact": lambda c: verify_completion(row(c, "exact"), c.completion),
        "math": lambda c: verify_completion(row(c, "math"), c.completion),
        "math_verify_alone": lambda c: math_verify.verify(
            math_verify.parse(c.answer, parsing_timeout=None), math_verify.parse(c.completion, parsing_timeout=None),
            timeout_seconds=None),
    }
    for score in arms.values():  # warm-up: imports, regex compilation, caches
        for case in CASES:
            score(case)
    per = {name: _arm(score, CASES, repeats) for name, score in arms.items()}
    per["math_cold"] = _arm(arms["math"], CASES, repeats, before=_parsed.cache_clear)
    result = {f"{name}_us": round(t * 1e6, 1) for name, t in per.items()}
    result.update({f"{name}_over_exact": round(t / per["exact"], 1) for name, t in per.items() if name != "exact"})
    print(json.dumps(result, indent=2))
    atomic_write_json(RESULTS, result)
    return result


if __name__ == "__main__":
    main()
