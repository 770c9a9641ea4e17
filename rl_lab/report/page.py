"""The page: the header facts, the headline findings, and the one Jinja2 template that renders
every section's view model (templates/report.html.j2, with report.css inlined). Autoescaping is
on, so every run name, rollout text or config value lands in the page as text, never as markup.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cache

from rl_lab.report.context import Context, lookup
from rl_lab.report.findings import Finding
from rl_lab.report.numbers import dig, fmt_pct
from rl_lab.report.view import Section

# Images only from data: URIs, inline CSS, nothing else: the file can be mailed or archived as is.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
BADGES = {"observed": "observed", "absent": "did not appear", "inconclusive": "inconclusive", "info": "measured",
          "missing": "not run"}


@cache
def environment():
    """Jinja2 (already installed with torch) over this package's templates, autoescaping everything."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("rl_lab.report", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def describe_experiment(ctx: Context) -> list[tuple[str, str]]:
    """The header's facts: what was run (from the config, summary and run dirs)."""
    cfg = ctx.config
    facts: list[tuple[str, str]] = [("experiment", str(cfg.get("name") or ctx.root.name)),
                                    ("kind", f"sweep of {len(ctx.runs)} trials" if ctx.kind == "sweep" else "single run")]
    base = dig(cfg, "train.base_model") or dig(cfg, "model.path")
    if base:
        facts.append(("base model", str(base)))
    else:
        model = cfg.get("model") or {}
        out = cfg.get("output_dir") or f"runs/{cfg.get('name', '?')}"
        mix = dig(cfg, "pretrain.format_mixture") or {}
        mix_text = ", ".join(f"{k} {fmt_pct(v, 0)}" for k, v in mix.items())
        facts.append(("base model", f"{model.get('preset', 'tiny')} {model.get('architecture', 'qwen2')} preset "
                      f"({model.get('dtype', 'float32')}), pretrained here at {out}/base/model"
                      + (f"; format mixture {mix_text}" if mix_text else "")))
    families = dig(cfg, "environments.families") or []
    if families:
        facts.append(("families", "; ".join(f"{f.get('name')} ({f.get('role', 'trained')}, levels "
                                            f"{f.get('levels') or 'all'})" for f in families)))
    grid = (ctx.summary or {}).get("grid") or dig(cfg, "sweep.grid") or {}
    if ctx.kind == "sweep" and grid:
        facts.append(("sweep grid", "; ".join(f"{k} ∈ {v}" for k, v in grid.items())))
    seeds = sorted({r.seed for r in ctx.runs if r.seed is not None})
    facts.append(("seeds", ", ".join(map(str, seeds)) or "–"))
    facts.append(("curricula", ", ".join(dict.fromkeys(str(lookup(r.info, "curriculum.kind") or "fixed") for r in ctx.runs))))
    train = cfg.get("train") or {}
    if train:
        facts.append(("RL", f"{train.get('steps', '?')} steps, lr {train.get('learning_rate', '?')}, "
                      f"group size {train.get('num_generations', '?')}, loss {train.get('loss_type', 'dapo')}, "
                      f"beta {train.get('beta', 0.0)}"))
    counts = (ctx.summary or {}).get("counts")
    if counts:
        facts.append(("trial status", ", ".join(f"{v} {k}" for k, v in counts.items())))
    stamps = [r.info.metrics_file for r in ctx.runs if r.info.metrics_file.is_file()]
    if stamps:
        latest = max(p.stat().st_mtime for p in stamps)
        facts.append(("last training write", time.strftime("%Y-%m-%d %H:%M", time.localtime(latest))))
    facts.append(("report generated", time.strftime("%Y-%m-%d %H:%M %Z")))
    facts.append(("directory", str(ctx.root)))
    return facts


def headline(sections: Sequence[Section]) -> list[Finding]:
    """Every section's findings, and a "not run" line for each section that is missing."""
    out: list[Finding] = []
    for s in sections:
        if s.key == "config":
            continue
        if s.reason:
            out.append(Finding("missing", s.title.split(":")[0].lower(), f"{s.title}: not available ({s.reason})."))
        out.extend(s.findings)
    return out


def render_page(ctx: Context, sections: Sequence[Section], title: str | None = None) -> str:
    from markupsafe import Markup

    facts = describe_experiment(ctx)
    return environment().get_template("report.html.j2").render(
        # CSP is our constant, not data: its single quotes stay literal inside the double-quoted attribute
        title=title or f"rl_lab report: {dict(facts)['experiment']}", csp=Markup(CSP), facts=facts,
        findings=headline(sections), sections=sections, badges=BADGES,
    )
