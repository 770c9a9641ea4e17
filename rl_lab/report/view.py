"""The report's view model: what a section shows, as plain data the template renders.

A section builder (``rl_lab.report.sections``) returns a ``Section`` holding findings
(sentences), blocks (``FigureBlock`` and ``Card`` with a ``Table``, text or code) and the inputs
it read. Nothing here is HTML: the one Jinja2 template (templates/report.html.j2) turns these
into markup with autoescaping, so text from a run dir can never inject tags.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rl_lab.analysis.figures import figure_png
from rl_lab.report.findings import Finding

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Cell:
    """A table cell with more than a string: a toned note after the text, or several lines."""

    text: str = ""
    note: str = ""
    tone: str = ""  # css class of the note: neg | pos | zero
    lines: list[str] = field(default_factory=list)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str | Cell]]
    numeric: list[int]  # column indexes that are right-aligned
    caption: str = ""


def table(headers: Sequence[Any], rows: Sequence[Sequence[Any]], numeric_from: int = 1,
          text_cols: Sequence[int] = (), caption: str = "") -> Table:
    """Columns from ``numeric_from`` on, except ``text_cols``, are right-aligned."""
    width = max([len(headers), *(len(r) for r in rows)])
    numeric = [i for i in range(width) if i >= numeric_from and i not in text_cols]
    cells = [[v if isinstance(v, Cell) else str(v) for v in r] for r in rows]
    return Table([str(h) for h in headers], cells, numeric, caption)


@dataclass
class FigureBlock:
    title: str
    src: str | None  # a data: URI; None shows ``missing`` instead
    guide: str = ""
    wide: bool = False
    missing: str = ""
    kind: str = "figure"


@dataclass
class Card:
    title: str
    table: Table | None = None
    text: str = ""  # a paragraph
    code: str = ""  # collapsible preformatted text ("show YAML")
    missing: str = ""  # a "not run / not available" box
    wide: bool = True
    kind: str = "card"


Block = FigureBlock | Card


def data_uri(fig: Figure) -> str:
    """The one place a matplotlib Figure becomes an embedded image (the figure is closed)."""
    return "data:image/png;base64," + base64.b64encode(figure_png(fig)).decode("ascii")


def figure(title: str, fig: Figure | None, guide: str, wide: bool = False, missing: str = "") -> FigureBlock:
    if fig is None:
        return FigureBlock(title, None, wide=wide, missing=missing or "figure not drawn")
    return FigureBlock(title, data_uri(fig), guide, wide)


@dataclass
class Section:
    key: str
    title: str
    lead: str
    reason: str | None = None  # set: the section shows "not run / not available: reason"
    findings: list[Finding] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    inputs: list[tuple[str, Any]] = field(default_factory=list)  # (label, what was read)

    @property
    def input_texts(self) -> list[tuple[str, str]]:
        """Each input as readable text: a string as is, a record as pruned, indented JSON."""
        return [(label, data if isinstance(data, str) else json.dumps(_prune(data), indent=2, default=str))
                for label, data in self.inputs]

    def read_files(self) -> list[str]:
        """The JSON files this section read (else every input label)."""
        return [label for label, _ in self.inputs if label.endswith(".json")] or [label for label, _ in self.inputs]


def _prune(obj: Any, depth: int = 0) -> Any:
    """A readable excerpt of an ``inputs`` record: long lists and strings cut, with a count."""
    if isinstance(obj, dict):
        items = list(obj.items())
        out = {str(k): _prune(v, depth + 1) for k, v in items[:30]}
        if len(items) > 30:
            out["…"] = f"{len(items) - 30} more keys"
        return out
    if isinstance(obj, list):
        out = [_prune(v, depth + 1) for v in obj[:12]]
        if len(obj) > 12:
            out.append(f"… {len(obj) - 12} more")
        return out
    if isinstance(obj, str) and len(obj) > 300:
        return obj[:300] + "…"
    return obj
