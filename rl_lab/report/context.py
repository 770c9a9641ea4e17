"""Everything the report's sections read, loaded once through ``rl_lab.core.rundir``: the runs of
"a run or a sweep", their metrics, the config (with the schema's defaults filled in), the
report thresholds, and the analysis JSONs (``analysis``, and ``per_run`` for the trials' own).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_lab.analysis.settings import config_section, taxonomy
from rl_lab.core import rundir
from rl_lab.core.config import AnalysisConfig, FormatsConfig, ReportConfig
from rl_lab.core.errors import InputError, RlLabError
from rl_lab.core.rundir import RunDir
from rl_lab.environments.taxonomies import Taxonomy
from rl_lab.report.view import Section


@dataclass
class RunData:
    info: RunDir
    group: str
    seed: int | None
    metrics: list[dict[str, Any]]
    metrics_error: str | None = None  # why metrics.jsonl could not be read (it names the line)

    @property
    def label(self) -> str:
        return self.info.name


@dataclass
class Loaded:
    """An analysis JSON: its payload, where it lives, and why it is missing (payload None)."""

    payload: dict[str, Any] | None
    path: Path
    why: str | None = None

    def record(self, top: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
        """``(path, what it recorded)`` for a section's inputs: the ``top`` keys of the payload,
        its creation time and its ``inputs``."""
        payload = self.payload or {}
        return str(self.path), {**{k: payload.get(k) for k in top}, "created": payload.get("created"),
                                **(payload.get("inputs") or {})}


@dataclass
class PerRun:
    """One run's own analysis JSON (a lone run: the root's)."""

    run: RunData
    payload: dict[str, Any]
    path: Path

    def record(self, keys: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """``(path, the chosen keys of its inputs)`` for a section's inputs."""
        inputs = self.payload.get("inputs") or {}
        return str(self.path), {k: inputs.get(k) for k in keys}


class Context:
    def __init__(self, path: Path):
        self.resolved = rundir.resolve(path)
        self.root = self.resolved.root
        self.kind = self.resolved.kind
        self.summary = self._sweep_summary()
        config_file = self.root / (rundir.SWEEP_CONFIG if self.kind == "sweep" else rundir.CONFIG)
        if not config_file.is_file():
            config_file = self.resolved.runs[0].config_file
        self.config_file = config_file if config_file.is_file() else None
        self.config_text = _config_text(self.config_file) if self.config_file else None
        raw = _safe_yaml(self.config_text, self.config_file)
        self.config = _with_defaults(raw)
        self.thresholds = _section(raw, "report", ReportConfig, self.config_file)
        self.analysis_config = _section(raw, "analysis", AnalysisConfig, self.config_file)
        self.taxonomy = _taxonomy(_section(raw, "formats", FormatsConfig, self.config_file))
        self.runs = [self._load_run(r) for r in self.resolved.runs]

    def _sweep_summary(self) -> dict[str, Any] | None:
        if self.kind != "sweep":
            return None
        try:
            return rundir.read_sweep_summary(self.root)
        except InputError:
            return None

    def _load_run(self, info: RunDir) -> RunData:
        rows, error = [], None
        try:
            rows = [r for r in info.metrics() if isinstance(r.get("step"), int | float)]
        except InputError as exc:
            error = str(exc)
        try:
            seed, group = info.seed(), rundir.group_label(info)
        except InputError:  # an unreadable config.yaml: the run is still shown, ungrouped
            seed, group = None, info.name
        return RunData(info, group, seed, rows, error)

    def analysis(self, name: str, where: Path | None = None) -> Loaded:
        """``<where or root>/analysis/<name>.json``; ``why`` says what is wrong when it cannot be used."""
        where = Path(where or self.root)
        path = rundir.analysis_file(where, name)
        try:
            payload = rundir.read_analysis(where, name)
        except InputError as exc:
            return Loaded(None, path, str(exc))
        return Loaded(payload, path, None if payload is not None else f"{path} not found")

    def open_section(self, section: Section, name: str, command: str, top: Sequence[str] = (),
                     record: bool = True) -> Loaded:
        """Load ``<root>/analysis/<name>.json`` for ``section`` and (``record``) list it among its
        inputs (``Loaded.record``); when it is missing the section says why and which ``command``
        writes it."""
        root = self.analysis(name)
        if root.payload is None:
            section.reason = f"{root.why}; run `{command}`"
        elif record:
            section.inputs.append(root.record(top))
        return root

    def per_run(self, name: str, root: Loaded) -> list[PerRun]:
        """Each run's own ``<name>.json``: for a lone run the root's, for a sweep every trial
        that has one (the one place a section falls back from the sweep to its trials)."""
        if self.kind == "run":
            return [PerRun(self.runs[0], root.payload, root.path)] if root.payload is not None else []
        found = []
        for r in self.runs:
            sub = self.analysis(name, r.info.path)
            if sub.payload is not None:
                found.append(PerRun(r, sub.payload, sub.path))
        return found

    def run_by_dir(self, run_dir: str) -> RunData | None:
        for r in self.runs:
            if str(r.info.path) == str(run_dir) or r.info.path.resolve() == Path(run_dir).resolve():
                return r
        return None

    def label_of(self, run_dir: str) -> str:
        """The run's label (its dir name) for a run dir named in an analysis JSON."""
        r = self.run_by_dir(run_dir)
        return r.label if r else Path(run_dir or "?").name

    @property
    def group_of(self) -> dict[str, str]:
        return {r.label: r.group for r in self.runs}


def lookup(run: RunDir, dotted: str) -> Any:
    """``run.lookup`` for the report: None when the run's config.yaml cannot be read (the page of a
    damaged run dir still shows what can be shown; ``Context`` warned about the file)."""
    try:
        return run.lookup(dotted)
    except InputError:
        return None


def _config_text(path: Path) -> str | None:
    """The run's config as text, or None (with a warning) when it is not readable text: the report
    of a damaged run dir still shows what can be shown."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        print(f"warning: {path} is not UTF-8 text; the report uses the schema's defaults", file=sys.stderr)
    except OSError as exc:
        print(f"warning: {path} cannot be read ({exc.strerror}); the report uses the schema's defaults",
              file=sys.stderr)
    return None


def _safe_yaml(text: str | None, path: Path | None = None) -> dict[str, Any]:
    """The config mapping through the strict loader (a run dir is untrusted input: an alias bomb or
    50k-deep nesting in its config.yaml is refused, not expanded), ``{}`` when it does not parse."""
    import yaml

    from rl_lab.core import yaml_safe

    try:
        data = yaml_safe.load(text) if text else None
    except yaml.YAMLError as exc:  # YamlRefused included
        print(f"warning: {path} is not a config the report can read ({str(exc)[:200]}); it uses the schema's "
              "defaults", file=sys.stderr)
        return {}
    return data if isinstance(data, dict) else {}


def _with_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """The config with the schema's defaults filled in (the header shows what ran), or as read
    when it no longer validates (an old run must still get a report)."""
    from rl_lab.config import validate_config

    try:
        return validate_config(raw).to_dict() if raw else raw
    except (RlLabError, ValueError):
        return raw


def _taxonomy(formats: FormatsConfig) -> Taxonomy:
    try:
        return taxonomy(formats)
    except InputError as exc:
        print(f"warning: {exc}; the report uses the default format taxonomy", file=sys.stderr)
        return taxonomy(FormatsConfig())


def _section(raw: dict[str, Any], key: str, model: type, where: Path | None) -> Any:
    """A config section for the report; an invalid one falls back to the schema's defaults
    (with a warning), since a report of an old run must still be written."""
    try:
        return config_section(raw, key, model, where or "config")
    except InputError as exc:
        print(f"warning: {exc}; the report uses the schema's defaults for {key}", file=sys.stderr)
        return model()
