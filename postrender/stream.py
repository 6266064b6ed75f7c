"""Split a YAML stream into documents byte-exactly, and join it back.

A document is the text from one ``---`` line to the next (the first one may have
none, as in Helm 4's input), so the header comments Helm 3 puts after ``---``
(``# Source: ...``) stay with their document and joining the pieces gives the
input back, byte for byte. Only documents that pass ``may_concern`` -- a cheap
text test that can never miss a ClickHouse or W&B document -- are composed.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from .findings import Finding, InputError, ResourceRef, error, warning
from .textedit import Buffer, render
from .yamlio import MappingNode, Node, SequenceNode, YAMLError, compose, entries, get, get_path, sval

_SEPARATOR = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)

# The tool reads ClickHouse StatefulSets and ConfigMaps (carrying the label value
# "clickhouse", or named by a StatefulSet) and the W&B CR. A backslash may hide any
# of these words inside a double-quoted escape, so a document with one is always
# looked at: the test can never miss a document that concerns the tool.
_KINDS = ("StatefulSet", "ConfigMap")


def split(text: str) -> list[str]:
    """Pieces whose concatenation is ``text``; each holds at most one document."""
    starts = [m.start() for m in _SEPARATOR.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)], strict=True) if b > a]


_KIND = re.compile(r"^kind:\s*[\"']?([A-Za-z0-9]+)", re.M)
_NAME = re.compile(r"^  name:\s*[\"']?([^\"'\s#]+)", re.M)
_NAMESPACE = re.compile(r"^  namespace:\s*[\"']?([^\"'\s#]+)", re.M)


def label(piece: str) -> str:
    """``Kind namespace/name`` of a document, read cheaply from its text (also when it does not parse)."""
    kind = _KIND.search(piece)
    name = _NAME.search(piece)
    ns = _NAMESPACE.search(piece)
    where = f"{ns.group(1)}/" if ns else ""
    return f"{kind.group(1) if kind else 'document'} {where}{name.group(1) if name else '?'}"


def may_concern(piece: str, names: tuple[str, ...] = ()) -> bool:
    if "\\" in piece or "WeightsAndBiases" in piece:
        return True
    return any(k in piece for k in _KINDS) and ("clickhouse" in piece or any(n in piece for n in names))


class Doc:
    """One composed resource and the buffer its edits go to."""

    __slots__ = ("buf", "node", "position")

    def __init__(self, buf: Buffer, node: MappingNode, position: int) -> None:
        self.buf, self.node, self.position = buf, node, position

    def _meta(self, key: str) -> str:
        return sval(get_path(self.node, "metadata", key)) or ""

    @property
    def kind(self) -> str:
        return sval(get(self.node, "kind")) or ""

    @property
    def api_version(self) -> str:
        return sval(get(self.node, "apiVersion")) or ""

    @property
    def name(self) -> str:
        return self._meta("name")

    @property
    def namespace(self) -> str:
        return self._meta("namespace")

    def labels(self) -> dict[str, str]:
        return {sval(k) or "": sval(v) or "" for k, v in entries(get_path(self.node, "metadata", "labels"))}

    def annotation(self, key: str) -> str | None:
        return sval(get_path(self.node, "metadata", "annotations", key))

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.api_version, self.kind, self.name, self.namespace)


class Resources(Protocol):
    """What the core needs of an input: a Helm ``Stream`` or a KRM ``ResourceListStream``."""

    notes: list[Finding]

    def resources(self, names: tuple[str, ...] = ()) -> list[Doc]: ...

    def add_resource(self, obj: dict[str, Any], near: Doc) -> None: ...


class Stream:
    """A plain multi-document stream (Helm's post-renderer input)."""

    def __init__(self, pieces: list[str], strict: bool = False) -> None:
        self.pieces, self.strict = pieces, strict
        self.docs: dict[int, Doc] = {}
        self.added: dict[int, list[str]] = {}
        self.notes: list[Finding] = []
        self._looked: set[int] = set()

    @classmethod
    def parse(cls, text: str, strict: bool = False) -> "Stream":
        return cls(split(text), strict)

    def resources(self, names: tuple[str, ...] = ()) -> list[Doc]:
        """Compose (once) every piece that may concern the tool; return the resources."""
        for i, piece in enumerate(self.pieces):
            if i not in self._looked and (self.strict or may_concern(piece, names)):
                self._looked.add(i)
                node = _compose_one(piece, i)
                if isinstance(node, MappingNode):
                    self.docs[i] = Doc(Buffer(piece), node, i)
                elif node is not None:
                    shape = "a list" if isinstance(node, SequenceNode) else "a scalar"
                    self.notes.append(warning("not-a-resource", f"document {i + 1} is {shape}, not a Kubernetes "
                                              "resource; passed through unchanged"))
        return [self.docs[i] for i in sorted(self.docs)]

    def add_resource(self, obj: dict[str, Any], near: Doc) -> None:
        """Insert a new document before ``near`` (so Helm 3 and readers see it beside its kin)."""
        text = "---\n# Source: weave-postrender/configmap.yaml\n" + "\n".join(render(obj, 0)) + "\n"
        self.added.setdefault(near.position, []).append(text)

    @property
    def changed(self) -> bool:
        return bool(self.added) or any(d.buf.changed for d in self.docs.values())

    def output(self) -> str:
        out: list[str] = []
        for i, piece in enumerate(self.pieces):
            for new in self.added.get(i, []):
                out.append(new if not out or out[-1].endswith("\n") else "\n" + new)
            doc = self.docs.get(i)
            out.append(doc.buf.result() if doc else piece)
        return "".join(out)


def _compose_one(piece: str, index: int) -> Node | None:
    try:
        nodes = compose(piece)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1} of the document" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError([error("yaml-invalid", f"document {index + 1} ({label(piece)}){line}: invalid YAML: "
                                f"{problem}")]) from None
    if len(nodes) > 1:
        raise InputError([error("yaml-invalid", f"document {index + 1}: holds {len(nodes)} documents "
                                "without a '---' line between them")])
    return nodes[0] if nodes else None
