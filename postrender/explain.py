"""``explain``: the server config each ClickHouse StatefulSet will really run with.

Every mounted config file is laid out as the Bitnami image does (flat copy into the
server's ``conf.d``/``config.d``), merged in ClickHouse's order (``merge``), and each
``from_env`` element is shown with its value from the container's env: a literal as
written (``S3_ENDPOINT`` keeps ``$(CLICKHOUSE_REPLICA_ID)`` unless ``--pod`` names a
pod to expand it for), a Secret or fieldRef as a marker -- never a secret's value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .bitnami import Release, Shard
from .findings import Finding, error
from .merge import Merged, merge_files, merge_order, storage_problems
from .yamlio import get, get_path, sval

_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY", re.I)
_SECRET_TAGS = ("password", "secret_access_key", "access_key_id")


@dataclass
class Explained:
    shard: Shard
    pod: str | None
    merged: Merged
    files: list[str]
    findings: list[Finding] = field(default_factory=list)


def explain(release: Release, pod: str | None) -> list[Explained]:
    out = []
    for shard in release.shards:
        files, _missing = release.files(shard)
        contents = {f.server_path: f.content for f in files}
        merged = merge_files(contents)
        _substitute(merged.root, _env_values(shard, pod if _pod_of(shard, pod) else None))
        findings = [error("merged-config", p, resource=shard.doc.ref)
                    for p in merged.problems + storage_problems(merged.root)]
        out.append(Explained(shard, pod if _pod_of(shard, pod) else None, merged,
                             [p.split("/etc/", 1)[-1] for p in merge_order(list(contents))],
                             findings))
    return out


def _pod_of(shard: Shard, pod: str | None) -> bool:
    return pod is not None and pod.rsplit("-", 1)[0] == shard.doc.name


def _env_values(shard: Shard, pod: str | None) -> dict[str, str]:
    """What each env var will hold, as far as the manifests say (markers for Secrets and fields)."""
    values: dict[str, str] = {}
    for entry in shard.env():
        name = sval(get(entry, "name")) or ""
        literal = sval(get(entry, "value"))
        ref = get_path(entry, "valueFrom", "secretKeyRef")
        field_path = sval(get_path(entry, "valueFrom", "fieldRef", "fieldPath"))
        if literal is not None and _SECRET_NAME.search(name):
            values[name] = "***"  # an inline credential: never printed
        elif literal is not None:
            # Kubernetes expands $(VAR) only for variables defined earlier in the list.
            values[name] = _VAR.sub(lambda m: values.get(m.group(1), m.group(0))
                                    if pod is not None else m.group(0), literal)
        elif ref is not None:
            values[name] = f"(from Secret {sval(get(ref, 'name'))} key {sval(get(ref, 'key'))})"
        elif field_path == "metadata.name":
            values[name] = pod if pod is not None else "(the pod name)"
        else:
            values[name] = f"(from {field_path or 'valueFrom'})"
    return values


def _substitute(root: etree._Element, env: dict[str, str]) -> None:
    for el in root.iter(*_SECRET_TAGS):
        if el.get("from_env") is None and (el.text or "").strip():
            el.text = "***"  # a credential written into a config file: never printed
    for el in root.iter():
        var = el.get("from_env") if isinstance(el.tag, str) else None
        if var is None:
            continue
        if var in env:
            el.text = env[var]
        else:
            el.append(etree.Comment(f" {var} is not in the container's env: unless the image sets it, "
                                    "ClickHouse leaves this element empty "))


def to_xml(item: Explained) -> str:
    """The merged config as XML, each top-level section preceded by the files it came from."""
    root = item.merged.root
    for child in list(root):
        if isinstance(child.tag, str):
            files = item.merged.sources.get(str(child.tag), [])
            child.addprevious(etree.Comment(" from " + ", ".join(files) + " "))
    etree.indent(root, space="  ")
    head = (f"<!-- StatefulSet {item.shard.doc.namespace}/{item.shard.doc.name}"
            f"{', pod ' + item.pod if item.pod else ''}: merged from {len(item.files)} files -->\n")
    return head + str(etree.tostring(root, encoding="unicode")) + "\n"


def to_json(item: Explained) -> dict[str, Any]:
    return {
        "statefulset": item.shard.doc.name, "namespace": item.shard.doc.namespace, "pod": item.pod,
        "files": item.files, "sources": item.merged.sources, "config": _element(item.merged.root),
        "findings": [f.text() for f in item.findings],
    }


def _element(el: etree._Element) -> Any:
    children = [c for c in el if isinstance(c.tag, str)]
    attrs = {f"@{k}": v for k, v in el.attrib.items()}
    if not children:
        text = (el.text or "").strip()
        return {**attrs, "#text": text} if attrs else text
    out: dict[str, Any] = dict(attrs)
    for c in children:
        value = _element(c)
        if c.tag in out:
            out[c.tag] = out[c.tag] if isinstance(out[c.tag], list) else [out[c.tag]]
            out[c.tag].append(value)
        else:
            out[c.tag] = value
    return out
