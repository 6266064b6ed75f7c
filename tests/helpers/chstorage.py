"""Read the storage facts a test needs out of a merged ClickHouse config, and predict the
storage errors ClickHouse would raise, in its own words (shared/clickhouse-errors.md).

Why: a merged tree is hard to assert on; ``summarize_storage`` flattens it into disks,
policies and problems. Values are read the way Poco's ``XMLConfiguration::getString`` does:
the element's whole inner text, *not* trimmed (``<disk> s3_disk </disk>`` names a disk with
spaces, which ClickHouse then cannot find).

Sources: ``registerDiskCache`` (backing disk must already exist: disks are created in document
order), ``FileCacheSettings::loadFromConfig`` + ``parseWithSizeSuffix`` /
``readTextWithSizeSuffix`` / ``readIntTextImpl`` (``max_size``), ``VolumeJBOD`` (every volume
child whose name starts with ``disk``), ``StoragePolicySelector`` (policy ``default`` always
exists), ``DiskSelector`` (disk ``default`` always exists).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

UINT64 = 1 << 64
# readTextWithSizeSuffix: decimal when the letter ends the text, binary when 'i' follows.
SIZE_SUFFIXES = {"k": (1000, 10), "K": (1000, 10), "M": (10**6, 20), "G": (10**9, 30), "T": (10**12, 40)}


def _text(parent: etree._Element | None, path: str) -> str | None:
    """Poco ``getString``: inner text of the first match, untrimmed; None when absent."""
    el = None if parent is None else parent.find(path)
    return None if el is None else "".join(el.itertext())


def _elements(parent: etree._Element | None) -> list[etree._Element]:
    return [] if parent is None else [c for c in parent if isinstance(c.tag, str)]


def parse_size(raw: str) -> int:
    """``parseWithSizeSuffix<UInt64>``; raises ValueError with ClickHouse's message."""
    if raw == "":
        raise ValueError("Code: 32. DB::Exception: Attempt to read after eof. (ATTEMPT_TO_READ_AFTER_EOF)")
    if raw[0] == "-":
        raise ValueError("Code: 72. DB::Exception: Unsigned type must not contain '-' symbol. "
                         "(CANNOT_PARSE_NUMBER)")
    pos = start = 1 if raw[0] == "+" else 0
    value = 0
    while pos < len(raw) and raw[pos] in "0123456789":
        value, pos = (value * 10 + int(raw[pos])) % UINT64, pos + 1
    if start and pos == start:
        raise ValueError("Code: 72. DB::Exception: Cannot parse number without any digits. "
                         "(CANNOT_PARSE_NUMBER)")
    if pos < len(raw) and raw[pos] in SIZE_SUFFIXES:
        base, shift = SIZE_SUFFIXES[raw[pos]]
        pos += 1
        if pos == len(raw):
            value = value * base % UINT64
        elif raw[pos] == "i":
            value, pos = (value << shift) % UINT64, pos + 1
    if pos != len(raw):
        raise ValueError(f"Code: 27. DB::Exception: Cannot parse input: expected 'eof' before: "
                         f"'{raw[pos:]}'. (CANNOT_PARSE_INPUT_ASSERTION_FAILED)")
    return value


def _cache_size_problem(disk: etree._Element) -> str | None:
    raw = _text(disk, "max_size")
    if raw is None:
        if disk.find("max_size_ratio_to_total_space") is not None:
            return None
        return ("Either `max_size` or `max_size_ratio_to_total_space` must be defined "
                "in cache configuration.")
    try:
        size = parse_size(raw)
    except ValueError as err:
        return str(err)
    return "Code: 36. DB::Exception: `max_size` cannot be 0. (BAD_ARGUMENTS)" if size == 0 else None


def _disks(storage: etree._Element | None) -> list[dict[str, Any]]:
    return [{"name": d.tag, "type": _text(d, "type") or "local", "disk": _text(d, "disk"),
             "max_size": _text(d, "max_size"), "endpoint": _text(d, "endpoint")}
            for d in _elements(None if storage is None else storage.find("disks"))]


def _policies(storage: etree._Element | None) -> dict[str, dict[str, list[str]]]:
    policies: dict[str, dict[str, list[str]]] = {}
    for policy in _elements(None if storage is None else storage.find("policies")):
        policies[policy.tag] = {
            volume.tag: ["".join(d.itertext()) for d in _elements(volume) if d.tag.startswith("disk")]
            for volume in _elements(policy.find("volumes"))}
    return policies


def _disk_problems(disks: list[dict[str, Any]], elements: list[etree._Element]) -> list[str]:
    problems: list[str] = []
    created: set[str] = set()
    for disk, element in zip(disks, elements):
        if disk["type"] == "cache":
            backing = disk["disk"] or ""
            if not backing:
                problems.append("Code: 36. DB::Exception: Disk Cache requires `disk` field in config. "
                                "(BAD_ARGUMENTS)")
            elif backing not in created:
                problems.append(
                    f"Code: 36. DB::Exception: Cannot wrap disk `{backing}` with cache layer "
                    f"`{disk['name']}`: there is no such disk (it should be initialized before "
                    "cache disk). (BAD_ARGUMENTS)")
            size_problem = _cache_size_problem(element)
            if size_problem:
                problems.append(size_problem)
        created.add(disk["name"])
    return problems


def summarize_storage(root: etree._Element) -> dict[str, Any]:
    """Disks (document order, with type and backing disk), policies -> volumes -> disks,
    ``merge_tree/storage_policy``, and the problems ClickHouse would report."""
    storage = root.find("storage_configuration")
    disks = _disks(storage)
    policies = _policies(storage)
    merge_tree_policy = _text(root, "merge_tree/storage_policy")
    disk_elements = _elements(None if storage is None else storage.find("disks"))
    problems = _disk_problems(disks, disk_elements)
    known_disks = {d["name"] for d in disks} | {"default"}
    for volumes in policies.values():
        for names in volumes.values():
            problems += [f"Code: 479. DB::Exception: Unknown disk {n}. (UNKNOWN_DISK)"
                         for n in names if n not in known_disks]
    if merge_tree_policy is not None and merge_tree_policy not in set(policies) | {"default"}:
        problems.append(f"Code: 478. DB::Exception: Unknown storage policy `{merge_tree_policy}`. "
                        "(UNKNOWN_POLICY)")
    return {"disks": disks, "policies": policies,
            "merge_tree_storage_policy": merge_tree_policy, "problems": problems}
