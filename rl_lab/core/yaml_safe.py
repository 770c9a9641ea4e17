"""YAML for files a user hands us: ``yaml.SafeLoader`` plus three refusals it lacks.

- a key written twice in one mapping (``train:`` twice silently replaces the first with PyYAML);
- alias expansion past ``MAX_NODES`` nodes: PyYAML builds a "billion laughs" document as shared
  references in microseconds, and whatever walks it afterwards (validation, an error message
  echoing the value, a sweep grid's cross product) runs out of memory or never ends;
- nesting deeper than ``MAX_DEPTH``: PyYAML's composer recurses once per level and dies with
  ``RecursionError`` on ``[[[[...`` 50k deep.

Why by hand: no maintained YAML library for Python refuses duplicate keys *and* bounds alias
expansion (ruamel.yaml refuses duplicates but expands aliases freely); this is a small
``SafeLoader`` subclass, so the accepted language is otherwise exactly PyYAML's safe subset.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 100
MAX_NODES = 100_000  # a resolved config is a few hundred nodes; a big sweep grid a few thousand
MAX_BYTES = 10_000_000
MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlRefused(yaml.YAMLError):
    """A document PyYAML would accept but rl_lab refuses (duplicate key, alias bomb, deep nesting)."""


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing duplicate keys, deep nesting and alias expansion past MAX_NODES."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlRefused(f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node:
        node = super().compose_document()
        expanded = _expanded_size(node, {}, set())
        if expanded > MAX_NODES:
            raise YamlRefused(f"aliases expand to more than {MAX_NODES:,} nodes; a document this large "
                              "is an alias bomb, not a config")
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue  # keys merged in with '<<' may be overridden: that is what merging is for
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first.get(key)
            except TypeError:
                continue  # an unhashable key: SafeLoader raises its own error below
            if seen is not None:
                raise YamlRefused(f"key {_short(key)} appears twice in one mapping (lines {seen} and "
                                  f"{key_node.start_mark.line + 1}); the second would silently replace the first")
            first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: Node, memo: dict[int, int], visiting: set[int]) -> int:
    """Nodes of the document with every alias expanded (memoised, so a bomb costs its DAG size)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in visiting:
        raise YamlRefused("an alias refers to a node that contains it (a recursive structure)")
    visiting.add(key)
    size = 1
    if isinstance(node, SequenceNode):
        size += sum(_expanded_size(child, memo, visiting) for child in node.value)
    elif isinstance(node, MappingNode):
        size += sum(_expanded_size(k, memo, visiting) + _expanded_size(v, memo, visiting) for k, v in node.value)
    elif not isinstance(node, ScalarNode):  # pragma: no cover - PyYAML has no other node kind
        raise YamlRefused(f"unexpected YAML node {type(node).__name__}")
    visiting.discard(key)
    memo[key] = min(size, MAX_NODES + 1)  # capped: the count itself cannot grow without bound
    return memo[key]


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load(text: str) -> Any:
    """The document in ``text`` (YAMLError, or YamlRefused, when rl_lab cannot use it)."""
    if len(text) > MAX_BYTES:
        raise YamlRefused(f"{len(text):,} characters; a config is at most {MAX_BYTES:,}")
    return yaml.load(text, Loader=StrictSafeLoader)
