"""Minimal-diff edits of YAML text at the offsets of composed nodes.

Every change the tool makes is a ``Splice`` (replace ``text[start:end]``) on one
text buffer, computed from node marks; nothing else in the buffer moves. New
content is rendered in block style with the indentation of its future siblings,
so an inserted env entry looks like the chart's own. Only the few shapes the
tool writes are supported: mappings, sequences, strings, booleans, integers.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from .yamlio import MappingNode, Node, ScalarNode, SequenceNode, content_end, get, is_empty, to_py

_PLAIN = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./-]*$")
# What YAML 1.1 or 1.2 would read as a number or a date rather than a string.
_NOT_STRING = re.compile(r"^([-+]?[0-9_.]+([eE][-+]?[0-9]+)?|0[xXoObB][0-9a-fA-F_]+|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*)$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


class Splice(NamedTuple):
    start: int
    end: int
    text: str


class Buffer:
    """A text and the splices queued on it; ``result`` applies them once."""

    __slots__ = ("text", "splices")

    def __init__(self, text: str) -> None:
        self.text = text
        self.splices: list[Splice] = []

    def add(self, start: int, end: int, text: str) -> None:
        self.splices.append(Splice(start, end, text))

    @property
    def changed(self) -> bool:
        return bool(self.splices)

    def result(self) -> str:
        out, pos = [], 0
        for s in sorted(self.splices, key=lambda s: (s.start, s.end)):
            if s.start < pos:
                raise ValueError(f"overlapping edits at offset {s.start}")
            out += [self.text[pos:s.start], s.text]
            pos = s.end
        out.append(self.text[pos:])
        return "".join(out)


def scalar(value: Any) -> str:
    """A one-line YAML scalar: plain when unambiguous, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not _NOT_STRING.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _literal_ok(text: str) -> bool:
    return "\n" in text and not text[:1].isspace() and text.endswith("\n") and not text.endswith("\n\n") \
        and all(c == "\n" or c == "\t" or c.isprintable() for c in text)


def render(obj: Any, col: int) -> list[str]:
    """Block lines for a mapping or sequence whose entries start at column ``col``."""
    pad = " " * col
    lines: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            lines += _entry(f"{pad}{scalar(key)}:", value, col)
    else:
        for item in obj:
            sub = render(item, col + 2) if isinstance(item, (dict, list)) and item else [pad + "  " + scalar(item)]
            lines.append(f"{pad}- {sub[0][col + 2:]}")
            lines += sub[1:]
    return lines


def _entry(head: str, value: Any, col: int) -> list[str]:
    if isinstance(value, str) and _literal_ok(value):
        return [f"{head} |"] + [(" " * (col + 2) + line) if line else "" for line in value[:-1].split("\n")]
    if isinstance(value, (dict, list)) and value:
        return [head] + render(value, col + 2)
    if isinstance(value, (dict, list)):
        return [f"{head} {'{}' if isinstance(value, dict) else '[]'}"]
    return [f"{head} {scalar(value)}"]


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end


def _column(text: str, index: int) -> int:
    return index - (text.rfind("\n", 0, index) + 1)


def _colon_after(text: str, key: Node) -> int:
    return text.index(":", key.end_mark.index) + 1


def _key_column(text: str, mapping: MappingNode) -> int:
    return _column(text, mapping.value[0][0].start_mark.index)


def _dash_column(text: str, seq: SequenceNode) -> int:
    first = seq.value[0].start_mark.index
    dash = text.rfind("-", 0, first)
    return _column(text, dash)


def _parent_col(text: str, key: Node) -> int:
    return _column(text, key.start_mark.index)


def set_key(buf: Buffer, mapping: MappingNode, key: str, value: Any) -> None:
    """Set ``key`` to ``value`` in a block mapping (replace, fill or append)."""
    text = buf.text
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            start = _colon_after(text, k)
            # a bare ``key:`` (null) has no text of its own; anything else ends at its content
            end = start if isinstance(v, ScalarNode) and is_empty(v) else content_end(text, v)
            buf.add(start, end, _value_text(value, _parent_col(text, k)))
            return
    if not mapping.value or mapping.flow_style:
        raise ValueError("cannot append to an empty or flow mapping; use fill_key on its parent")
    at = _line_end(text, _entry_end(text, *mapping.value[-1]) - 1)
    col = _key_column(text, mapping)
    buf.add(at, at, "\n" + "\n".join(_entry(f"{' ' * col}{scalar(key)}:", value, col)))


def _entry_end(text: str, key: Node, value: Node) -> int:
    """Where a ``key: value`` entry's content ends (an empty value has no marks worth trusting)."""
    if isinstance(value, ScalarNode) and is_empty(value):
        return _colon_after(text, key)
    return content_end(text, value)


def _value_text(value: Any, key_col: int) -> str:
    lines = _entry("", value, key_col)
    head, rest = lines[0], lines[1:]
    return head + ("\n" + "\n".join(rest) if rest else "")


def append_item(buf: Buffer, seq: SequenceNode, objs: list[Any], after: int | None = None) -> None:
    """Insert ``objs`` into a non-empty block sequence after item ``after`` (default: last)."""
    text = buf.text
    if not seq.value or seq.flow_style:
        raise ValueError("cannot append to an empty or flow sequence; use set_key on its parent")
    index = len(seq.value) - 1 if after is None else after
    at = _line_end(text, content_end(text, seq.value[index]) - 1)
    buf.add(at, at, "\n" + "\n".join(render(objs, _dash_column(text, seq))))


def replace_item(buf: Buffer, seq: SequenceNode, index: int, obj: Any) -> None:
    text = buf.text
    item = seq.value[index]
    col = _dash_column(text, seq)
    start = text.rfind("-", 0, item.start_mark.index) - col
    end = _line_end(text, content_end(text, item) - 1)
    buf.add(start, end, "\n".join(render([obj], col)))


def remove_item(buf: Buffer, seq: SequenceNode, index: int) -> None:
    text = buf.text
    item = seq.value[index]
    col = _dash_column(text, seq)
    start = text.rfind("-", 0, item.start_mark.index) - col
    end = _line_end(text, content_end(text, item) - 1)
    buf.add(start - 1, end, "")  # the line break before the item goes with it


def _block(node: Node | None) -> bool:
    return isinstance(node, (MappingNode, SequenceNode)) and bool(node.value) and not node.flow_style


def put(buf: Buffer, mapping: MappingNode, path: list[str], value: Any) -> None:
    """Set ``mapping[path[0]]...[path[-1]] = value``, creating mappings on the way.

    Where an intermediate mapping is missing, null or in flow style, it is
    rewritten in block style with its old entries kept.
    """
    node = mapping
    for i, key in enumerate(path[:-1]):
        child = get(node, key)
        if not (isinstance(child, MappingNode) and _block(child)):
            existing = to_py(child) if isinstance(child, MappingNode) else {}
            nested: Any = value
            for k in reversed(path[i + 1:]):
                nested = {k: nested}
            existing.update(nested)
            set_key(buf, node, key, existing)
            return
        node = child
    set_key(buf, node, path[-1], value)


def append_to(buf: Buffer, mapping: MappingNode, path: list[str], item: Any) -> None:
    """Append ``item`` to the sequence at ``path`` (created if missing or empty)."""
    node: Node | None = mapping
    for key in path:
        node = get(node, key)
    if isinstance(node, SequenceNode) and _block(node):
        append_item(buf, node, [item])
    else:
        put(buf, mapping, path, (to_py(node) if isinstance(node, SequenceNode) else []) + [item])


def same(node: Node | None, value: Any) -> bool:
    """Whether ``node`` already holds ``value`` with the same YAML type.

    ``replicated: "true"`` is not ``replicated: true``: the W&B operator ignores
    the string, so quoting counts.
    """
    if not isinstance(node, ScalarNode) or is_empty(node):
        return False
    quoted = bool(node.style)  # the C composer says '' for plain, the pure one None
    if isinstance(value, bool):
        return not quoted and node.value.lower() == ("true" if value else "false")
    if isinstance(value, int):
        return not quoted and node.value == str(value)
    return bool(node.value == value and (quoted or scalar(value) == value))


def merge_into(buf: Buffer, mapping: MappingNode, tree: dict[str, Any]) -> list[str]:
    """Make ``mapping`` hold every leaf of ``tree``; return the dotted paths that changed.

    One pass over the tree, so several new keys under one missing parent become
    one new block instead of several copies of the parent.
    """
    changed: list[str] = []
    for key, value in tree.items():
        child = get(mapping, key)
        if isinstance(value, dict) and isinstance(child, MappingNode) and _block(child):
            changed += [f"{key}.{p}" for p in merge_into(buf, child, value)]
        elif isinstance(value, dict):
            existing = to_py(child) if isinstance(child, MappingNode) else {}
            set_key(buf, mapping, key, _deep_merge(existing, value))
            changed += [f"{key}.{p}" for p in _leaves(value)]
        elif not same(child, value):
            set_key(buf, mapping, key, value)
            changed.append(key)
    return changed


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _leaves(tree: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for k, v in tree.items():
        out += [f"{k}.{p}" for p in _leaves(v)] if isinstance(v, dict) else [k]
    return out
