"""Find Bitnami ClickHouse releases in a stream and what their pods mount.

Releases are found by labels, never by names (``fullnameOverride`` renames
everything). Placement is decided from the StatefulSet's own volumes, not from
the chart version, so 8.x (``conf.d/default``), 9.x (``config.d``), charts
with existing ConfigMaps and future layouts are all handled by one rule: the
image copies every file below ``/bitnami/clickhouse/etc/{conf.d,config.d,users.d}``
flat into the server's folders, where ClickHouse merges them by path order.
"""

from __future__ import annotations

import posixpath
import re
from typing import NamedTuple

from .stream import Doc, Resources
from .yamlio import MappingNode, Node, get, get_path, items, sval

ETC = "/bitnami/clickhouse/etc"
SERVER_ETC = "/opt/bitnami/clickhouse/etc"
DIRS = ("conf.d", "config.d", "users.d")
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
_CHART = re.compile(r"^clickhouse-(\d+)\.(\d+)\.(\d+)")


class Mount(NamedTuple):
    """One volumeMount of the ClickHouse container below the etc folders."""

    dir: str                  # conf.d | config.d | users.d
    path: str                 # mountPath
    volume: str               # volume name
    volume_node: Node | None  # the ``volumes`` entry
    configmaps: list[str]     # ConfigMaps feeding it (configMap or projected sources)
    items_restricted: bool    # the volume selects keys with ``items``
    sub_path: str | None
    is_root: bool             # mounted on the etc folder itself


class ConfigFile(NamedTuple):
    server_path: str  # where ClickHouse reads it (after the image's flat copy)
    configmap: str
    key: str
    content: str


class Shard:
    """One StatefulSet of the release (one shard) and its ClickHouse container."""

    __slots__ = ("doc", "container", "mounts")

    def __init__(self, doc: Doc, container: MappingNode, mounts: list[Mount]) -> None:
        self.doc, self.container, self.mounts = doc, container, mounts

    @property
    def replicas(self) -> int:
        text = sval(get_path(self.doc.node, "spec", "replicas"))
        return int(text) if text and text.isdigit() else 1

    def hosts(self) -> list[str]:
        service = sval(get_path(self.doc.node, "spec", "serviceName")) or ""
        ns = self.doc.namespace or "default"
        return [f"{self.doc.name}-{i}.{service}.{ns}.svc.cluster.local" for i in range(self.replicas)]

    def env(self) -> list[Node]:
        return items(get(self.container, "env"))

    def volume_mounts(self) -> list[Node]:
        return items(get(self.container, "volumeMounts"))


class Release:
    """One Helm release of the chart: its shards and the ConfigMaps of its namespace."""

    def __init__(self, namespace: str, instance: str, chart: str) -> None:
        self.namespace, self.instance, self.chart = namespace, instance, chart
        self.shards: list[Shard] = []
        self.configmaps: dict[str, Doc] = {}

    @property
    def major(self) -> int | None:
        match = _CHART.match(self.chart)
        return int(match.group(1)) if match else None

    @property
    def fullname(self) -> str:
        service = sval(get_path(self.shards[0].doc.node, "spec", "serviceName")) or ""
        return service[: -len("-headless")] if service.endswith("-headless") else self.shards[0].doc.name

    @property
    def pods(self) -> int:
        return sum(s.replicas for s in self.shards)

    def owns(self, doc: Doc) -> bool:
        """A ConfigMap this release's chart rendered (safe to add a key to)."""
        return doc.labels().get(LABEL_INSTANCE) == self.instance and doc.labels().get(LABEL_NAME) == "clickhouse"

    def files(self, shard: Shard) -> tuple[list[ConfigFile], list[str]]:
        """Config files the shard's server reads, and ConfigMaps not in the stream."""
        out: list[ConfigFile] = []
        missing: list[str] = []
        for mount in shard.mounts:
            for name in mount.configmaps:
                cm = self.configmaps.get(name)
                if cm is None:
                    missing.append(name)
                    continue
                for key, content in _data(cm):
                    if mount.sub_path is not None and mount.sub_path != key:
                        continue
                    base = posixpath.basename(mount.path) if mount.sub_path is not None else key
                    out.append(ConfigFile(f"{SERVER_ETC}/{mount.dir}/{base}", name, key, content))
        return out, missing


def _data(cm: Doc) -> list[tuple[str, str]]:
    data = get(cm.node, "data")
    if not isinstance(data, MappingNode):
        return []
    return [(sval(k) or "", sval(v) or "") for k, v in data.value]


def is_clickhouse_statefulset(doc: Doc) -> bool:
    labels = doc.labels()
    return (doc.kind == "StatefulSet" and labels.get(LABEL_NAME) == "clickhouse"
            and labels.get(LABEL_COMPONENT, "clickhouse") == "clickhouse")


def clickhouse_container(doc: Doc) -> MappingNode | None:
    """The container that runs the server: the one with CLICKHOUSE_REPLICA_ID, else ``clickhouse``."""
    containers = items(get_path(doc.node, "spec", "template", "spec", "containers"))
    for c in containers:
        if any(sval(get(e, "name")) == "CLICKHOUSE_REPLICA_ID" for e in items(get(c, "env"))):
            return c  # type: ignore[return-value]
    for c in containers:
        if sval(get(c, "name")) == "clickhouse":
            return c  # type: ignore[return-value]
    return None


def _mounts(doc: Doc, container: MappingNode) -> list[Mount]:
    volumes = {sval(get(v, "name")): v for v in items(get_path(doc.node, "spec", "template", "spec", "volumes"))}
    out = []
    for m in items(get(container, "volumeMounts")):
        path = (sval(get(m, "mountPath")) or "").rstrip("/")
        for d in DIRS:
            base = f"{ETC}/{d}"
            if path == base or path.startswith(base + "/"):
                vol = volumes.get(sval(get(m, "name")))
                cms = [sval(get_path(vol, "configMap", "name")) or ""] if get(vol, "configMap") else []
                for src in items(get_path(vol, "projected", "sources")):
                    if get(src, "configMap") is not None:
                        cms.append(sval(get_path(src, "configMap", "name")) or "")
                restricted = get_path(vol, "configMap", "items") is not None
                out.append(Mount(d, path, sval(get(m, "name")) or "", vol, cms, restricted,
                                 sval(get(m, "subPath")), path == base))
    return out


def referenced_configmaps(stream: Resources) -> tuple[str, ...]:
    """Names of ConfigMaps the ClickHouse StatefulSets mount (for a second look)."""
    names: list[str] = []
    for doc in stream.resources():
        if is_clickhouse_statefulset(doc) and (c := clickhouse_container(doc)) is not None:
            names += [n for m in _mounts(doc, c) for n in m.configmaps]
    return tuple(n for n in names if n)


def find_releases(stream: Resources) -> list[Release]:
    """Every ClickHouse release in the stream, with its shards and ConfigMaps."""
    docs = stream.resources(referenced_configmaps(stream))
    releases: dict[tuple[str, str], Release] = {}
    for doc in docs:
        if not is_clickhouse_statefulset(doc):
            continue
        labels = doc.labels()
        key = (doc.namespace, labels.get(LABEL_INSTANCE, ""))
        release = releases.setdefault(key, Release(key[0], key[1], labels.get("helm.sh/chart", "")))
        container = clickhouse_container(doc)
        if container is not None:
            release.shards.append(Shard(doc, container, _mounts(doc, container)))
        else:
            release.shards.append(Shard(doc, MappingNode("tag:yaml.org,2002:map", []), []))
    for release in releases.values():
        release.configmaps = {d.name: d for d in docs
                              if d.kind == "ConfigMap" and d.namespace == release.namespace}
    return list(releases.values())
