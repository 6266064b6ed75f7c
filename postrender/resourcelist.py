"""The KRM ``ResourceList``: the same core over ``items``, results written back.

kustomize and kpt hand a function one ``ResourceList`` document (``items``,
``functionConfig``) and read one back with ``results``. The whole list is one
text buffer: items are composed in place and edited at their offsets, exactly
like documents of a Helm stream, so every annotation kustomize or kpt put on an
item (``config.kubernetes.io/*``, ``internal.config.kubernetes.io/*``,
``kustomize.config.k8s.io/id``) and every comment stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .findings import Finding, InputError, Severity, error
from .stream import Doc
from .textedit import Buffer, append_to, put
from .yamlio import MappingNode, Node, YAMLError, compose, get, items, safe_load, sval

KIND = "ResourceList"
API_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1")


def is_resource_list(text: str) -> bool:
    """A cheap look: does the input open with a ResourceList (without parsing it)?"""
    head = text[:4096]
    return f"kind: {KIND}" in head and "config.kubernetes.io/" in head


@dataclass
class ResourceListStream:
    """Items of one ResourceList; quacks like ``stream.Stream`` for the core."""

    buf: Buffer
    root: MappingNode
    docs: list[Doc] = field(default_factory=list)
    new: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "ResourceListStream":
        try:
            nodes = compose(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            raise InputError([error("yaml-invalid", f"the ResourceList is not valid YAML{line}: "
                                    f"{getattr(exc, 'problem', None) or exc}")]) from None
        root = nodes[0] if len(nodes) == 1 else None
        if not isinstance(root, MappingNode) or sval(get(root, "kind")) != KIND \
                or sval(get(root, "apiVersion")) not in API_VERSIONS:
            raise InputError([error("not-a-resource-list", "the input is not one config.kubernetes.io/v1 "
                                    "ResourceList document")])
        seq = get(root, "items")
        docs = [Doc(Buffer(""), n, i) for i, n in enumerate(items(seq)) if isinstance(n, MappingNode)]
        stream = cls(Buffer(text), root, docs)
        for doc in docs:
            doc.buf = stream.buf  # every item is edited in the one list buffer
        return stream

    def function_config(self) -> Any:
        """The config object, typed (``allowInline: true`` is a boolean, not the string "true")."""
        node: Node | None = get(self.root, "functionConfig")
        if node is None:
            return None
        start, end = node.start_mark, node.end_mark
        return safe_load(" " * start.column + self.buf.text[start.index:end.index])

    def resources(self, names: tuple[str, ...] = ()) -> list[Doc]:
        return self.docs

    def add_resource(self, obj: dict[str, Any], near: Doc) -> None:
        self.new.append(obj)

    @property
    def changed(self) -> bool:
        return self.buf.changed or bool(self.new)

    def output(self, findings: list[Finding], keep_items: bool) -> str:
        """The list with edited items (or the original ones, on error) and ``results``."""
        buf = self.buf if keep_items else Buffer(self.buf.text)
        if keep_items:
            for obj in self.new:
                append_to(buf, self.root, ["items"], obj)
        if findings:  # a list without results stays as it was
            put(buf, self.root, ["results"], [result(f) for f in findings])
        return buf.result()


def result(finding: Finding) -> dict[str, Any]:
    """A finding as a KRM result (kyaml ``framework.Result``), the rule id in tags."""
    out: dict[str, Any] = {"message": finding.message, "severity": finding.severity.value}
    if finding.resource is not None:
        ref = {"apiVersion": finding.resource.api_version, "kind": finding.resource.kind,
               "name": finding.resource.name}
        if finding.resource.namespace:
            ref["namespace"] = finding.resource.namespace
        out["resourceRef"] = ref
    if finding.field:
        out["field"] = {"path": finding.field}
    if finding.file:
        out["file"] = {"path": finding.file}
    out["tags"] = {"rule": finding.rule}
    return out


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0
