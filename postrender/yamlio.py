"""ruamel.yaml configured in one place, and small helpers over composed nodes.

The tool never round-trips a document through a YAML dumper: it *composes*
(parses to nodes that remember their character offsets) only the documents that
may concern it, reads them through the helpers below, and edits the original
text at those offsets (see ``textedit``). That is what keeps unchanged bytes
unchanged: comments, quoting, key order and odd indentation included.
"""

from __future__ import annotations

from typing import Any, Iterator

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]  # noqa: F401  (libyaml)

    _HAS_CLIB = True
except ImportError:  # pragma: no cover - the dependency is declared; this is the fallback
    _HAS_CLIB = False

__all__ = ["Node", "MappingNode", "ScalarNode", "SequenceNode", "YAMLError", "MarkedYAMLError",
           "compose", "safe_load", "get", "get_path", "sval", "entries", "items", "content_end"]


def _composer(pure: bool = False) -> YAML:
    # Composing (not constructing) keeps every node's start/end mark as a character
    # index into the text. The C composer (ruamel.yaml.clib, libyaml) is ten times
    # faster than the pure one and gives the same marks, except for empty (null)
    # values, whose marks the edits never use; pure=True is the fallback without it.
    yaml = YAML(typ="safe", pure=pure) if not pure and _HAS_CLIB else YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False  # a duplicate key is an error, not a silent overwrite
    return yaml


def _loader() -> YAML:
    # typ="safe": configs are plain data; no tags may construct Python objects.
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


_COMPOSER = _composer()


def use_pure_composer(pure: bool) -> None:
    """Switch composers (tests prove both give the same edits)."""
    global _COMPOSER
    _COMPOSER = _composer(pure)
_LOADER = _loader()


def compose(text: str) -> list[Node]:
    """All documents of ``text`` as nodes (empty documents are skipped)."""
    return [n for n in _COMPOSER.compose_all(text) if n is not None]


def safe_load(text: str) -> Any:
    return _LOADER.load(text)


def get(node: Node | None, key: str) -> Node | None:
    """The value node for ``key`` in a mapping node, else None."""
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def get_path(node: Node | None, *keys: str) -> Node | None:
    for key in keys:
        node = get(node, key)
    return node


def sval(node: Node | None) -> str | None:
    """A scalar's string value (None for missing, null-valued or non-scalar nodes)."""
    if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        return node.value  # type: ignore[no-any-return]
    return None


def entries(node: Node | None) -> Iterator[tuple[Node, Node]]:
    if isinstance(node, MappingNode):
        yield from node.value


def items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def is_empty(node: Node | None) -> bool:
    """True for a missing value, a null (``key:``) or an empty flow ``{}``/``[]``."""
    if node is None:
        return True
    if isinstance(node, ScalarNode):
        return node.tag == "tag:yaml.org,2002:null"
    return not node.value


def content_end(text: str, node: Node) -> int:
    """Index just after the last non-blank character of ``node`` in ``text``.

    A block node's end mark may lie past trailing blank lines; edits that
    append after a node want the end of its last line of content.
    """
    end: int = node.end_mark.index
    while end > node.start_mark.index and text[end - 1] in " \t\r\n":
        end -= 1
    return end


def to_py(node: Node | None, budget: list[int] | None = None) -> Any:
    """Plain Python data for a small node (used to compare with what the tool wants).

    ``budget`` bounds the work: aliases are shared nodes, and an alias bomb would
    otherwise expand exponentially here.
    """
    budget = budget if budget is not None else [10_000]
    budget[0] -= 1
    if budget[0] < 0:
        from .findings import InputError, error

        raise InputError([error("yaml-too-large", "a ClickHouse or W&B document holds a structure too large "
                                "or too deeply aliased to be a Kubernetes resource (a YAML alias bomb?)")])
    if isinstance(node, MappingNode):
        return {sval(k): to_py(v, budget) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [to_py(v, budget) for v in node.value]
    return sval(node)
