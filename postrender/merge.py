"""ClickHouse's config merge, for ``explain``: what the server will really run with.

Rules (ClickHouse ``ConfigProcessor``, DESIGN.md section 6): files of ``conf.d`` and
``config.d`` merge in byte order of their full path; an element's identity is its
tag plus its attributes except ``replace remove incl from_env from_zk``; an
override's text replaces the base value, ``remove`` deletes the match, ``replace``
swaps it in place, unmatched elements are appended. Each override element merges
into one existing sibling of the same identity; which one, when there are several,
changed between ClickHouse 26.1 and 26.5, so ``explain`` reports repeated siblings
split across files as a finding instead of guessing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from .clickhouse_xml import XMLProblem, parse

IGNORED_ATTRS = {"replace", "remove", "incl", "from_env", "from_zk"}
CONFIG_EXTENSIONS = (".xml", ".conf", ".yaml", ".yml")


@dataclass
class Merged:
    """The merged tree, which file each top-level section came from, and what looked wrong."""

    root: etree._Element
    sources: dict[str, list[str]] = field(default_factory=dict)  # top-level tag -> files
    problems: list[str] = field(default_factory=list)


def identity(el: etree._Element) -> tuple[str, tuple[tuple[str, str], ...]]:
    return str(el.tag), tuple(sorted((k, v) for k, v in el.attrib.items() if k not in IGNORED_ATTRS))


def merge_order(paths: list[str]) -> list[str]:
    """conf.d and config.d files ClickHouse reads, in its order (byte order of the full path)."""
    chosen = [p for p in paths if p.rsplit("/", 2)[-2] in ("conf.d", "config.d")
              and p.lower().endswith(CONFIG_EXTENSIONS) and not p.rsplit("/", 1)[-1].startswith(".")]
    return sorted(chosen, key=lambda p: p.encode("utf-8"))


def merge_files(files: dict[str, str]) -> Merged:
    """Merge ``{server path: XML}`` onto an empty ``<clickhouse/>`` as the server would."""
    merged = Merged(etree.Element("clickhouse"))
    for path in merge_order(list(files)):
        try:
            override = parse(files[path])
        except XMLProblem as exc:
            merged.problems.append(f"Failed to merge config with '{path}': {exc}")
            continue
        short = path.split("/etc/", 1)[-1]
        for child in override:
            seen = merged.sources.setdefault(str(child.tag), []) if isinstance(child.tag, str) else None
            if seen is not None and short not in seen:
                seen.append(short)
        _repeated_across_files(merged, override, path)
        _merge(merged.root, override)
    return merged


def _merge(base: etree._Element, override: etree._Element) -> None:
    if (override.text or "").strip():
        for child in list(base):
            base.remove(child)
        base.text = override.text
    unmatched = [c for c in base if isinstance(c.tag, str)]
    for child in override:
        if not isinstance(child.tag, str):
            continue
        match = next((c for c in unmatched if identity(c) == identity(child)), None)
        if match is not None:
            unmatched.remove(match)
        if child.get("remove") is not None:
            if match is not None:
                base.remove(match)
        elif match is None:
            base.append(_clean(copy.deepcopy(child)))
        elif child.get("replace") is not None:
            base.replace(match, copy.deepcopy(child))
        else:
            for key, value in child.attrib.items():
                match.set(key, value)
            _merge(match, child)


def _clean(el: etree._Element) -> etree._Element:
    """An appended subtree loses ``replace``/``remove`` on its descendants (as on the server)."""
    for sub in el.iterdescendants():
        for attr in ("replace", "remove"):
            sub.attrib.pop(attr, None)
    return el


def _repeated_across_files(merged: Merged, override: etree._Element, path: str) -> None:
    """Repeated same-identity siblings must come from one file: across files they do not add up."""
    for parent in override.iter():
        if not isinstance(parent.tag, str):
            continue
        base_parent = _find_same(merged.root, override, parent)
        if base_parent is None:
            continue
        counts: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        for child in parent:
            if isinstance(child.tag, str):
                counts[identity(child)] = counts.get(identity(child), 0) + 1
        for ident, count in counts.items():
            in_base = sum(1 for c in base_parent if isinstance(c.tag, str) and identity(c) == ident)
            if in_base and max(in_base, count) > 1:
                merged.problems.append(f"<{ident[0]}> under {_xpath(override, parent)} is repeated and also "
                                       f"defined in {path}: repeated siblings do not accumulate across files; "
                                       "emit all of them in one file")


def _find_same(base_root: etree._Element, override_root: etree._Element, el: etree._Element) -> etree._Element | None:
    chain = []
    node: etree._Element | None = el
    while node is not None and node is not override_root:
        chain.append(node)
        node = node.getparent()
    current = base_root
    for step in reversed(chain):
        current = next((c for c in current if isinstance(c.tag, str) and identity(c) == identity(step)), None)
        if current is None:
            return None
    return current


def _xpath(root: etree._Element, el: etree._Element) -> str:
    parts = []
    node: etree._Element | None = el
    while node is not None and node is not root:
        parts.append(str(node.tag))
        node = node.getparent()
    return "/".join(reversed(parts)) or "the root"


def storage_problems(root: etree._Element) -> list[str]:
    """What ClickHouse would say about the merged storage, in its own words (clickhouse-errors.md)."""
    out: list[str] = []
    disks = root.find("storage_configuration/disks")
    declared: list[str] = []
    for disk in disks if disks is not None else []:
        if not isinstance(disk.tag, str):
            continue
        if (disk.findtext("type") or "").strip() == "cache":
            backing = (disk.findtext("disk") or "").strip()
            if backing not in declared:
                out.append(f"Code: 36. DB::Exception: Cannot wrap disk `{backing}` with cache layer `{disk.tag}`: "
                           "there is no such disk (it should be initialized before cache disk). (BAD_ARGUMENTS)")
        declared.append(str(disk.tag))
    policies = root.find("storage_configuration/policies")
    for policy in policies if policies is not None else []:
        for name in policy.iterfind("volumes/*/disk"):
            if (name.text or "").strip() not in declared + ["default"]:
                out.append(f"Code: 479. DB::Exception: Unknown disk {(name.text or '').strip()}. (UNKNOWN_DISK)")
    default = (root.findtext("merge_tree/storage_policy") or "").strip()
    known = [str(p.tag) for p in policies] if policies is not None else []
    if default and default not in known + ["default"]:
        out.append(f"Code: 478. DB::Exception: Unknown storage policy `{default}`. (UNKNOWN_POLICY)")
    return out
