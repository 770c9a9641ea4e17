"""Generate the config reference (every key, default, allowed values) from the schema.

``python -m rl_lab.core.config_doc > docs/config.md``; a test checks the file is current,
so the reference cannot drift from the code.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from rl_lab.core.config import Config


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (list, tuple, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args if a is not Ellipsis)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(field: Any) -> str:
    parts = []
    for meta in field.metadata:
        for name, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("min_length", "length >=")):
            if getattr(meta, name, None) is not None:
                parts.append(f"{sym} {getattr(meta, name)}")
        if getattr(meta, "pattern", None):
            parts.append(f"matches `{meta.pattern}`")
    return ", ".join(parts)


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()
    else:
        return "**required**"
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{json.dumps(value)}`"


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        nested = [a for a in (annotation, *typing.get_args(annotation)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested and typing.get_origin(annotation) is not list:
            out.extend(rows(nested[0], key + "."))
            continue
        if typing.get_origin(annotation) is list and nested:
            out.append((key, "list of sections", _default(field), field.description or ""))
            out.extend(rows(nested[0], key + ".N."))
            continue
        allowed = _type_name(annotation)
        bounds = _bounds(field)
        out.append((key, allowed + (f" ({bounds})" if bounds else ""), _default(field), field.description or ""))
    return out


def render() -> str:
    lines = [
        "# Config reference",
        "",
        "Generated from `rl_lab/core/config.py` by `python -m rl_lab.core.config_doc`; do not edit by hand.",
        "Any key can be overridden on the command line as a dotted `KEY=VALUE` (the value is parsed as YAML).",
        "Every float must be finite (NaN and inf are refused, in lists and mappings too); relative weights",
        "must be >= 0 with a positive sum. A config file may not repeat a key in one mapping, nest deeper",
        "than 100 levels or expand YAML aliases past 100,000 nodes.",
        "",
        "| key | allowed values | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for key, allowed, default, doc in rows(Config):
        lines.append(f"| `{key}` | {allowed} | {default} | {doc} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
