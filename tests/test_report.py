"""``rl-lab report``: a synthetic sweep whose analysis JSONs come from the real analysis commands.

The model-heavy parts of the analyses (generation, KL forward passes) are replaced by planted
answers, so the JSONs have exactly the shapes the analysis modules write while the test stays
fast; the formats and update analyses run for real on synthetic rollouts and safetensors.
The page is then rendered in headless Chromium: every image must decode, a screenshot must exist.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from behaviour_fixtures import config_dict, rollout_rows, write_run, write_sweep

from rl_lab.analysis import format_collapse, intervals, passk
from rl_lab.cli import main as rl_lab
from rl_lab.core.config import ReportConfig
from rl_lab.core.io import atomic_write_yaml
from rl_lab.environments.formats import render
from rl_lab.report import findings as report_findings
from rl_lab.report.sections import updates as report_updates

STEPS = (1, 2, 3, 4, 5, 6, 7, 8)
LAST = STEPS[-1]
N_SAMPLES = 8
TRIALS = ({"seed": 0, "curriculum.kind": "fixed"}, {"seed": 0, "curriculum.kind": "hard_only"})
FAMILIES = [{"name": "addition", "role": "trained", "levels": [1, 2, 3]},
            {"name": "comparison", "role": "prior_skill", "levels": [1, 2]}]
# planted prior-skill accuracy at the last checkpoint: fixed keeps it, hard_only loses it
PROBE_FINAL = {"fixed": 0.75, "hard_only": 0.0}
PROBE_BASE = 0.75


def _metrics(kind: str) -> list[dict]:
    rows = []
    for s in STEPS:
        gain = 0.08 if kind == "fixed" else 0.02
        rows.append({"step": s, "reward": 0.2 + gain * s, "reward_std": 0.3, "accuracy": 0.2 + gain * s,
                     "accuracy/level_1": min(1.0, 0.4 + gain * s), "accuracy/level_2": 0.2 + gain * s / 2,
                     "accuracy/level_3": 0.1, "format/terse": 0.5, "format/steps": 0.3, "format/tagged": 0.2,
                     "format/other": 0.0, "entropy": 1.0 - 0.05 * s, "completions/mean_length": 12 - 0.3 * s})
    return rows


# --------------------------------------------------------------------------- planted model behaviour
def _fake_evaluate(model_dir, problems, temperature, max_new_tokens, batch_size, seed, *_prompt_and_dtype):
    """Probe answers: correct for the first PROBE share of problems, else a copied operand."""
    step = int(Path(model_dir).name.split("_")[1])
    kind = "hard_only" if "hard_only" in str(model_dir) else "fixed"
    share = PROBE_BASE if step == 0 else PROBE_FINAL[kind]
    rows = []
    problems = list(problems)
    for i, p in enumerate(problems):
        correct = i < round(share * len(problems))
        numbers = re.findall(r"\d+", p["prompt"])
        answer = p["answer"] if correct else (numbers[0] if numbers else "0")
        rows.append({"family": p["family"], "difficulty": int(p["difficulty"]), "prompt": p["prompt"],
                     "answer": p["answer"], "completion": render("terse", answer, []), "correct": float(correct),
                     "cell": f"{p['family']}/{int(p['difficulty'])}"})
    return rows


def _fake_sampler(path, dtype=None, device=None):
    return SimpleNamespace(path=Path(path), tokenizer=SimpleNamespace(pad_token_id=0, chat_template=None))


def _fake_drift_between(base, tuned, base_samples, tuned_samples, pad_id, batch_size=64):
    step = int(tuned.path.name.split("_")[1])
    scale = 0.02 if "hard_only" in str(tuned.path) else 0.005
    # the shape drift.summarise writes: 4 sequences of 10 tokens (2 prompts x 2 samples), KL spread around the mean
    seq = [10 * scale * step * f for f in (0.5, 0.7, 1.3, 1.5)]
    block = {"per_token": scale * step, "per_sequence": 10 * scale * step, "per_sequence_std": 0.0,
             "sequences": 4, "tokens": 40, "sequence_kl": seq, "sequence_tokens": [10] * 4}
    return {"forward_kl_base_tuned_on_base_samples": block,
            "reverse_kl_tuned_base_on_tuned_samples": {**block, "per_token": 1.5 * scale * step}}


def _fake_sample_for_passk(spec, prompts, n, *args, **kwargs):
    """Base (step_0): 2 of n right on every problem. Tuned: all right on half the problems, none on
    the rest: a higher pass@1, a lower pass@n, so the base catches up at some k."""
    if Path(spec.path).name == "step_0":
        return [["ok"] * 2 + ["no"] * (n - 2) for _ in prompts]
    return [["ok" if i % 2 == 0 else "no"] * n for i in range(len(prompts))]


def _write_safetensors(folder: Path) -> tuple[Path, list[Path]]:
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    names = {"model.embed_tokens.weight": (40, 16)}
    for layer in range(2):
        for mod, shape in (("self_attn.q_proj", (16, 16)), ("self_attn.v_proj", (16, 16)), ("mlp.up_proj", (32, 16))):
            names[f"model.layers.{layer}.{mod}.weight"] = shape
    base = {k: torch.randn(*s, generator=gen) for k, s in names.items()}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(base, str(folder / "base.safetensors"))
    tuned = []
    for seed in range(2):
        g = torch.Generator().manual_seed(100 + seed)
        t = {}
        for k, v in base.items():
            shared = torch.zeros_like(v, dtype=torch.bool)
            shared.view(-1)[: v.numel() // 4] = True  # both seeds move the same first quarter
            own = torch.rand(v.shape, generator=g) < 0.05
            t[k] = torch.where(shared | own, v + 0.1, v)
        path = folder / f"seed{seed}.safetensors"
        save_file(t, str(path))
        tuned.append(path)
    return folder / "base.safetensors", tuned


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    import rl_lab.analysis.contamination_run as contamination_run
    import rl_lab.analysis.drift as drift
    import rl_lab.analysis.drift_run as drift_run
    import rl_lab.analysis.passk_run as passk_run
    import rl_lab.core.model_spec as model_spec
    import rl_lab.environments.problem_sets as problem_sets

    root = tmp_path_factory.mktemp("report")
    sweep = root / "sweep"
    trials = []
    for i, point in enumerate(TRIALS):
        kind = point["curriculum.kind"]
        run_dir = sweep / "trials" / f"seed-0_curriculum.kind-{kind}"
        cfg = config_dict(root, environments={"families": FAMILIES}, curriculum={"kind": kind},
                          train={"steps": LAST, "batch_size": 4, "num_generations": 2, "max_completion_length": 8})
        # mixed formats at every step: no format ever exceeds 90%, so no collapse anywhere
        rollouts = {s: rollout_rows(s, {"terse": 5, "steps": 3, "tagged": 2}, level=1 + s % 3, seed=i) for s in STEPS}
        write_run(run_dir, rollouts, config=cfg, metrics=_metrics(kind))
        for step in (0, LAST):
            (run_dir / "checkpoints" / f"step_{step}").mkdir(parents=True)
        trials.append((point, run_dir))
    write_sweep(sweep, trials)
    grid = {"seed": [0], "curriculum.kind": [t["curriculum.kind"] for t in TRIALS]}
    atomic_write_yaml(sweep / "sweep_config.yaml", {**config_dict(root, environments={"families": FAMILIES}),
                                                    "sweep": {"grid": grid}})

    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(contamination_run, "evaluate_checkpoint", _fake_evaluate)
        mp.setattr(drift_run, "load_sampler", _fake_sampler)
        mp.setattr(drift_run, "sample_sequences", lambda *a, **k: [([1], [2, 3])])
        mp.setattr(drift, "drift_between", _fake_drift_between)
        mp.setattr(passk_run, "sample_for_passk", _fake_sample_for_passk)
        mp.setattr(passk_run, "load_tokenizer", lambda path: SimpleNamespace(chat_template=None))
        mp.setattr(model_spec, "validate_model_spec", lambda spec: spec)  # the checkpoints are empty dirs
        mp.setattr(problem_sets, "verify_completion", lambda problem, completion: float(completion == "ok"))
        assert rl_lab(["analyze", "formats", str(sweep)]) == 0
        assert rl_lab(["analyze", "contamination", str(sweep)]) == 0
        assert rl_lab(["analyze", "drift", str(sweep)]) == 0
        run0 = trials[0][1]
        assert rl_lab(["eval", "passk", "--model", str(run0), "--config", str(run0 / "config.yaml"),
                       "--n", str(N_SAMPLES), "--out", str(sweep)]) == 0
    finally:
        mp.undo()
    base, tuned = _write_safetensors(root / "weights")
    assert rl_lab(["analyze", "updates", "--base", str(base), "--tuned", *map(str, tuned),
                   "--out", str(sweep / "analysis" / "updates.json"), "--no-progress"]) == 0
    assert rl_lab(["report", str(sweep)]) == 0
    return sweep


@pytest.fixture(scope="module")
def page(sweep_dir) -> str:
    return (sweep_dir / "report.html").read_text()


def _section(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert match, f"section {key} missing"
    return match.group(1)


# --------------------------------------------------------------------------- the page
def test_every_section_is_present_and_built(page):
    for key in ("training", "formats", "passk", "contamination", "drift", "updates", "config"):
        body = _section(page, key)
        assert "not run / not available" not in body, f"section {key} fell back to its missing box"
    assert page.count("<img ") >= 8
    # self-contained: every image is inline, nothing is fetched
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'<img[^>]* src="([^"]*)"', page))
    assert not re.search(r'(src|href)="https?:', page)
    assert "Content-Security-Policy" in page and "<script" not in page


def test_headline_says_what_did_not_appear(page, sweep_dir):
    import json

    assert "Format collapse did not appear: in 0/2 runs" in page
    # planted: hard_only loses every probe it had right, fixed keeps them
    assert "Prior-skill loss: in 1/2 runs probe accuracy fell" in page and "in 1/2 no loss" in page
    hard = sweep_dir / "trials" / "seed-0_curriculum.kind-hard_only" / "analysis" / "contamination.json"
    change = json.loads(hard.read_text())["prior_skill_accuracy_change"]
    assert change < -0.5
    assert f"seed-0_curriculum.kind-hard_only {report_findings.fmt_pp(change, 0)}" in page


def test_headline_passk_crossover_matches_the_estimator(page, sweep_dir):
    ks = passk.default_ks(N_SAMPLES)
    base = passk.curve([(N_SAMPLES, 2)], ks)
    # planted tuned model: every sample right on half the problems, none on the other half
    tuned = passk.curve([(N_SAMPLES, N_SAMPLES), (N_SAMPLES, 0)], ks)
    expected = passk.crossover(base, tuned)
    assert expected["status"] == "crosses"
    assert f"pass@k crossover: the base model catches up with seed-0_curriculum.kind-fixed:step_{LAST} at k = {expected['k']}" in page


def test_update_and_drift_findings(page, sweep_dir):
    import json

    result = json.loads((sweep_dir / "analysis" / "updates.json").read_text())
    exact = [t["share"]["exact"] for t in result["tuned"]]
    body = _section(page, "updates")
    assert report_findings.fmt_pct(min(exact)) in body
    assert "Overlap of updated sets beyond chance:" in page  # planted: a shared quarter, 5% private
    assert "too few runs" in _section(page, "drift")  # two runs cannot give a correlation


def test_config_and_inputs_are_shown(page, sweep_dir):
    config = _section(page, "config")
    assert "<details>" in config and "show YAML" in config
    assert "hard_only" in config and "curriculum.kind" in config
    assert str(sweep_dir / "analysis" / "formats.json") in page
    assert page.count("Inputs this section read") >= 6


def test_single_run_degrades_to_missing_boxes(sweep_dir, tmp_path):
    run_dir = sweep_dir / "trials" / "seed-0_curriculum.kind-fixed"
    out = tmp_path / "run.html"
    assert rl_lab(["report", str(run_dir), "--out", str(out)]) == 0
    html = out.read_text()
    assert "not run / not available" in _section(html, "updates")
    assert "updates.json not found" in html
    assert "not run / not available" not in _section(html, "formats")
    assert "Format collapse did not appear: in the run" in html


def test_bad_path_is_a_clear_error(tmp_path, capsys):
    assert rl_lab(["report", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------- pure findings
def test_findings_formats_collapse_and_not():
    """Collapse is worded by the exact binomial interval of the final share: 99 of 100 rollouts in
    `steps` lies above 80% with its whole interval, 9 of 10 does not (its interval reaches 55%)."""
    collapsed = {s: rollout_rows(s, {"terse": 1, "steps": 99} if s >= 3 else {"terse": 50, "steps": 50}) for s in (1, 2, 3, 4)}
    mixed = {s: rollout_rows(s, {"terse": 50, "steps": 50}) for s in (1, 2, 3, 4)}
    a = format_collapse.summarise_run(collapsed, 0.8)
    b = format_collapse.summarise_run(mixed, 0.8)
    assert a["collapsed"] and not b["collapsed"]
    (f,) = report_findings.findings_formats({"a": a, "b": b}, 0.8)
    assert f.kind == "observed"
    share = intervals.describe(intervals.binomial(99, 100), 100, "%", 0, of="rollouts")
    assert f.text.startswith(f"Format collapse: in 1/2 runs `steps` exceeded 80% (step {a['collapse_step']}; "
                             f"final share {share}); in 1/2 no collapse")
    (g,) = report_findings.findings_formats({"b": b}, 0.8)
    assert g.kind == "absent" and g.text.startswith("Format collapse did not appear")
    few = {s: rollout_rows(s, {"terse": 1, "steps": 9}) for s in (1, 2)}
    (h,) = report_findings.findings_formats({"few": format_collapse.summarise_run(few, 0.8)}, 0.8)
    assert h.kind == "inconclusive" and "straddles 80%" in h.text


def _passk_payload(base_records: list[dict], tuned_records: list[dict], ks: list[int]) -> dict:
    """A passk.json as analyze_passk writes it before intervals (per-problem (n, c) records and curves)."""
    models = {"b": {**passk.summarise(base_records, ks), "per_problem": base_records},
              "t": {**passk.summarise(tuned_records, ks), "per_problem": tuned_records}}
    curves = {lb: {int(k): v for k, v in m["overall"]["pass_at_k"].items()} for lb, m in models.items()}
    return {"base": "b", "inputs": {"n": ks[-1]}, "models": models,
            "crossover": {"t": {"overall": passk.crossover(curves["b"], curves["t"])}}}


def _records(cs: list[int], n: int = 4) -> list[dict]:
    return [{"family": "addition", "difficulty": 1, "n": n, "c": c, "prompt": f"p{i}"} for i, c in enumerate(cs)]


def test_findings_passk_no_crossover():
    """The tuned model solves every problem, the base only some: tuned − base stays above 0 at every
    k with its whole interval, so the crossover did not appear (worded by the interval; the intervals
    are computed from the per-problem records of a passk.json written before intervals were stored)."""
    payload = _passk_payload(_records([0, 1] * 10), _records([4] * 20), [1, 2, 4])
    (f,) = report_findings.findings_passk(payload)
    assert f.kind == "absent" and "crossover did not appear within k ≤ 4" in f.text


def test_findings_passk_crossover_and_noise():
    """Known answers: a base that solves everything at k = 4 against a tuned model that solves half
    the problems -> the crossover appeared; the same shapes on 2 problems -> inconclusive."""
    ks = [1, 2, 4]
    (f,) = report_findings.findings_passk(_passk_payload(_records([1] * 20), _records([4, 0] * 10), ks))
    assert f.kind == "observed" and f.text.startswith("pass@k crossover: the base model catches up with t at k = ")
    (g,) = report_findings.findings_passk(_passk_payload(_records([1] * 2), _records([4, 0]), ks))
    assert g.kind == "inconclusive"
    same = _records([2] * 20)
    (h,) = report_findings.findings_passk(_passk_payload(same, same, ks))  # identical models: exactly 0 at every k
    assert h.kind == "absent"


def test_findings_prior_uses_the_probe_noise():
    """A 5 pp drop over 40 probes is within noise (inconclusive, not a loss); over 4000 probes it is a
    loss. These records carry no per-probe vectors, so the interval is the unpaired one from counts."""
    small = {"label": "r", "group": "g", "base": 0.5, "final": 0.45, "change": -0.05, "n": 40}
    (f,) = report_findings.findings_prior([small])
    assert f.kind == "inconclusive" and "more probes" in f.text
    big = {**small, "n": 4000}
    (g,) = report_findings.findings_prior([big])
    assert g.kind == "observed"


def test_findings_shortcuts_rise():
    rates = [{"group": "hard", "first": {"skipped_work": 0.0, "rows": 1000}, "last": {"skipped_work": 0.4, "rows": 1000}},
             {"group": "easy", "first": {"skipped_work": 0.1, "rows": 1000}, "last": {"skipped_work": 0.12, "rows": 1000}}]
    (f,) = report_findings.findings_shortcuts(rates)
    assert f.kind == "observed" and "hard: skipped_work 0% → 40%" in f.text and "easy" not in f.text
    (g,) = report_findings.findings_shortcuts(rates[1:])
    assert g.kind == "absent"
    # the same 0% -> 40% over 5 rollouts per step: the interval reaches below 10 pp
    few = [{"group": "few", "first": {"skipped_work": 0.0, "rows": 5}, "last": {"skipped_work": 0.4, "rows": 5}}]
    (h,) = report_findings.findings_shortcuts(few)
    assert h.kind == "inconclusive"
    # rates without the rollout counts: no interval, so no verdict either way
    (u,) = report_findings.findings_shortcuts([{"group": "u", "first": {"skipped_work": 0.0}, "last": {"skipped_work": 0.4}}])
    assert u.kind == "inconclusive" and "no interval" in u.text


def test_skipped_work_rise_from_more_steps_completions_is_not_a_shortcut_rise():
    # 30% -> 80% steps completions, 25% -> 22% of them with broken work: 7.5% -> 17.6% overall
    mix = [{"group": "matched", "first": {"skipped_work": 0.075, "steps_share": 0.3, "rows": 1000},
            "last": {"skipped_work": 0.176, "steps_share": 0.8, "rows": 1000}}]
    (f,) = report_findings.findings_shortcuts(mix)
    assert f.kind == "absent" and "25% → 22% of steps-format ones" in f.text and "30% → 80%" in f.text
    worse = [{"group": "hard", "first": {"skipped_work": 0.03, "steps_share": 0.3, "rows": 1000},
              "last": {"skipped_work": 0.24, "steps_share": 0.3, "rows": 1000}}]
    (g,) = report_findings.findings_shortcuts(worse)
    assert g.kind == "observed" and "10% → 80% of steps-format ones" in g.text


# --------------------------------------------------------------------------- headless Chromium
CHROMIUM = Path("/usr/bin/chromium")
IMG_CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  document.body.setAttribute('data-imgcheck', 'total=' + imgs.length + ';broken=' + bad.length);
});
</script>"""


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        setup = Path(__file__).with_name("setup_chromium.sh")
        proc = subprocess.run(["bash", str(setup)], capture_output=True, text=True, timeout=600)
        if not CHROMIUM.exists():
            pytest.skip(f"chromium could not be installed by {setup.name}: {proc.stderr.strip()[-300:]}")
    return CHROMIUM


def _chrome(chromium: Path, tmp: Path, *flags: str) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", *flags]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _image_check(chromium: Path, html: str, tmp: Path) -> tuple[int, int]:
    # the page's CSP forbids scripts; the probe gets them, while images stay limited to data: URIs
    probe = html.replace("style-src 'unsafe-inline'", "style-src 'unsafe-inline'; script-src 'unsafe-inline'", 1)
    assert probe != html
    target = tmp / "probe.html"
    target.write_text(probe.replace("</body>", IMG_CHECK + "</body>"))
    proc = _chrome(chromium, tmp, "--virtual-time-budget=5000", "--dump-dom", target.as_uri())
    match = re.search(r'data-imgcheck="total=(\d+);broken=(\d+)"', proc.stdout)
    assert match, f"image probe did not run: {proc.stderr[-500:]}"
    return int(match.group(1)), int(match.group(2))


def test_browser_renders_every_image(chromium, page, tmp_path):
    total, broken = _image_check(chromium, page, tmp_path)
    assert total == page.count("<img ") and total > 0
    assert broken == 0


def test_browser_probe_catches_a_non_inline_image(chromium, page, sweep_dir, tmp_path):
    """Control: an image referenced by file path (a real PNG beside the page) must count as broken."""
    shutil.copy(next((sweep_dir / "plots").glob("*.png")), tmp_path / "local.png")
    total, broken = _image_check(chromium, page.replace("</main>", '<img src="local.png"></main>'), tmp_path)
    assert broken == 1 and total == page.count("<img ") + 1


def test_browser_screenshot(chromium, sweep_dir, tmp_path):
    shot = tmp_path / "report.png"
    proc = _chrome(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1400,3000", "--hide-scrollbars",
                   (sweep_dir / "report.html").as_uri())
    assert shot.is_file(), proc.stderr[-500:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0 and len(data) > 20_000  # a blank page compresses to a few kB
    keep = sweep_dir.parent / "report_screenshot.png"
    keep.write_bytes(data)


def test_findings_updates_sparse_dense_and_unchanged():
    def result(share):
        return {"settings": {"tol": 1e-5}, "pairs": [],
                "tuned": [{"label": "t", "compared_in": ["float32"], "share": {c: share for c in ("exact", "tol", "bf16", "paper")}}]}

    kinds = {f.kind for f in report_findings.findings_updates(result(0.2))}
    assert "observed" in kinds
    dense = report_findings.findings_updates(result(0.97))
    assert any(f.kind == "absent" and f.text.startswith("Update sparsity did not appear") for f in dense)
    same = report_findings.findings_updates(result(0.0))
    assert any("No parameter changed at all" in f.text for f in same)
    assert not any("sparsity:" in f.text.lower() for f in same)


def test_findings_updates_word_the_range_over_checkpoints():
    """Shares are exact counts: checkpoints that disagree about the sparsity bound are inconclusive, and
    pairs whose overlap ratios straddle report.overlap_ratio are too."""
    def result(shares, ratios):
        return {"settings": {"tol": 1e-5},
                "tuned": [{"label": f"t{i}", "compared_in": ["float32"], "share": {c: v for c in ("exact", "tol", "bf16", "paper")}}
                          for i, v in enumerate(shares)],
                "pairs": [{"a": "t0", "b": "t1", "criteria": {"exact": {"iou_ratio": r, "iou": 0.5, "iou_chance": 0.2},
                                                              "paper": {"iou_ratio": r}}} for r in ratios]}

    found = {f.text.split(":")[0]: f for f in report_findings.findings_updates(result([0.3, 0.7], [3.0, 1.05]))}
    assert found["Update sparsity is inconclusive"].kind == "inconclusive"
    assert "range over 2 checkpoints, exact: no sampling" in found["Update sparsity is inconclusive"].text
    overlap = next(f for f in found.values() if f.text.startswith("Overlap"))
    assert overlap.kind == "inconclusive" and "(pairs disagree)" in overlap.text
    kinds = [f.kind for f in report_findings.findings_updates(result([0.2, 0.3], [3.0, 2.0]))]
    assert kinds == ["info", "observed", "observed"]


def test_findings_drift_correlation_by_its_interval():
    def points(kls, changes):
        return [{"kl": k, "prior_change": c} for k, c in zip(kls, changes, strict=True)]

    kls = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]
    (down,) = report_findings.findings_drift_points(points(kls, [-0.01 * i for i in range(1, 9)]))
    assert down.kind == "observed" and "Pearson r = −1.00" in down.text
    (three,) = report_findings.findings_drift_points(points(kls[:3], [-0.01, -0.03, -0.02]))
    assert three.kind == "inconclusive" and "[−1.00, +1.00]" in three.text  # three runs say nothing about r
    (up,) = report_findings.findings_drift_points(points(kls, [0.01 * i + 0.001 * (i % 2) for i in range(1, 9)]))
    assert up.kind == "absent" and "smaller loss or a gain" in up.text


def test_training_windows_and_interval_text():
    """Two seeds, reward rising by exactly 0.4 from the first to the last half of the steps in each:
    the change is +0.4 with no spread; one step per window in one run has no interval."""
    from rl_lab.report.findings.training import window_change

    runs = [{"group": "g", "series": {"reward": {1: 0.2 + d, 2: 0.2 + d, 3: 0.6 + d, 4: 0.6 + d}}} for d in (0.0, 0.1)]
    change = window_change(runs, "reward", 0.5)
    assert (change.first, change.last) == (pytest.approx(0.25), pytest.approx(0.65))
    assert (change.change.value, change.change.low, change.change.high) == pytest.approx((0.4, 0.4, 0.4))
    assert change.change.seeds == 2
    lone = window_change(runs[:1], "reward", 0.1)
    assert not lone.change.has_interval
    (f,) = report_findings.findings_training(runs[:1], ReportConfig(tail_fraction=0.1))
    assert "(change +0.40)" in f.text and "a window of one logged step in one run has no interval" in f.text
    (g,) = report_findings.findings_training(runs, ReportConfig(tail_fraction=0.5))
    assert "(change +0.40 [+0.40, +0.40] (n = 8 logged steps, 2 seeds))" in g.text


def test_table_numbers_carry_their_interval():
    from rl_lab.report.numbers import fmt_ci

    est = intervals.Estimate(-0.203, -0.312, -0.091, 64, 2, "test")
    assert fmt_ci(est, "pp") == "−20.3 pp [−31.2, −9.1]"
    assert fmt_ci(est.to_dict(), "delta") == "−0.20 [−0.31, −0.09]"
    assert fmt_ci(intervals.binomial(5, 10), "pct") == "50% [19, 81]"
    assert fmt_ci(intervals.seed_range([0.2, 0.3]), "pct") == "25% (range 20 to 30)"
    assert fmt_ci(None) == "–" and fmt_ci({"value": 1}) == "–"


def test_heatmaps_show_the_last_step_of_each_run():
    tuned = [{"label": f"r{r}/step_{s}"} for r in (0, 1) for s in (2, 10, 4)]
    assert [t["label"] for t in report_updates.heatmap_choice(tuned)] == ["r0/step_10", "r1/step_10"]


# --------------------------------------------------------------------------- templates and inputs
def _small_run(root: Path, name: str, config: dict | None = None, metrics: list | None = None) -> Path:
    run = root / name
    rollouts = {s: rollout_rows(s, {"terse": 5, "steps": 3, "tagged": 2}) for s in (1, 2, 3, 4)}
    return write_run(run, rollouts, config=config or config_dict(root), metrics=metrics or _metrics("fixed")[:4])


def test_text_from_the_run_dir_is_escaped_not_rendered(tmp_path):
    """Run names, config text and analysis strings go through Jinja2's autoescaping: no tag survives."""
    run = _small_run(tmp_path, 'r<b>x</b>&"q')
    (run / "config.yaml").write_text((run / "config.yaml").read_text() + "# <script>alert(1)</script>\n")
    assert rl_lab(["analyze", "formats", str(run)]) == 0
    formats = run / "analysis" / "formats.json"
    payload = json.loads(formats.read_text())
    payload["inputs"]["seed"] = "</pre><img src=x onerror=alert(1)>"
    formats.write_text(json.dumps(payload))
    out = tmp_path / "page.html"
    assert rl_lab(["report", str(run), "--out", str(out)]) == 0
    page = out.read_text()
    assert "<script" not in page and "<b>x</b>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the config comment, shown as text
    assert "r&lt;b&gt;x&lt;/b&gt;&amp;&#34;q" in page  # the run's name in the tables
    assert "&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;" in page  # an analysis string in the inputs
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'<img[^>]* src="([^"]*)"', page))


def test_a_damaged_metrics_line_is_named_in_the_training_section(tmp_path):
    run = _small_run(tmp_path, "run")
    with (run / "metrics.jsonl").open("a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"step": 9, "reward": 0.5}) + "\n")  # the damaged line is not the torn last one
    out = tmp_path / "page.html"
    assert rl_lab(["report", str(run), "--out", str(out)]) == 0
    training = _section(out.read_text(), "training")
    assert "could not read" in training and "metrics.jsonl line 5" in training
    assert "has not logged a step yet" not in training


def test_report_thresholds_and_status_come_from_the_run(tmp_path):
    """report.tail_fraction of the run's config sets the training finding's window; the status
    column shows status.json's state (it once showed a method's repr)."""
    run = _small_run(tmp_path, "run", config=config_dict(tmp_path, report={"tail_fraction": 0.5}))
    (run / "status.json").write_text(json.dumps({"state": "done", "step": 4, "total_steps": 4}))
    out = tmp_path / "page.html"
    assert rl_lab(["report", str(run), "--out", str(out)]) == 0
    training = _section(out.read_text(), "training")
    assert "mean of the first vs the last 50% of logged steps" in training
    assert "<td>done</td>" in training and "bound method" not in training
    assert "not run / not available" in _section(out.read_text(), "formats")


def _alias_bomb(levels: int = 9) -> bytes:
    """A billion-laughs YAML value: 9**levels leaves from ~300 bytes (see test_config_limits)."""
    items = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return ("seed: [" + ", ".join(items) + "]\n").encode()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("config", [b"\x8a\x00\xff binary", _alias_bomb()], ids=["binary", "alias_bomb"])
def test_a_run_whose_config_is_binary_or_an_alias_bomb_still_gets_a_report(tmp_path, capsys, config):
    """A damaged config.yaml once ended the report in a UnicodeDecodeError (exit 1); the report read
    it with yaml.safe_load, which expands alias bombs. Now: a warning naming the file, a page."""
    run = _small_run(tmp_path, "run")
    (run / "config.yaml").write_bytes(config)
    out = tmp_path / "page.html"
    assert rl_lab(["report", str(run), "--out", str(out)]) == 0
    assert str(run / "config.yaml") in capsys.readouterr().err
    assert "training" in out.read_text()
