"""Inject the Weave storage into one ClickHouse release.

Before (9.x)::

    env:
      - name: CLICKHOUSE_REPLICA_ID
        valueFrom: {fieldRef: {fieldPath: metadata.name}}
      - name: CLICKHOUSE_ADMIN_USER

After::

    env:
      - name: CLICKHOUSE_REPLICA_ID
        valueFrom: {fieldRef: {fieldPath: metadata.name}}
      - name: S3_ENDPOINT
        value: "https://.../bucket/$(CLICKHOUSE_REPLICA_ID)/"
      - name: CLICKHOUSE_ADMIN_USER

plus ``90-weave-storage.xml`` in the ConfigMap the chart mounts as a config
folder (or the tool's own ConfigMap and mount where the chart has none), the
users.d profile file for cache-on-write, and a pod-template checksum so a
changed config rolls the pods.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .bitnami import ETC, SERVER_ETC, Release, Shard
from .clickhouse_xml import STORAGE_KEY, USERS_KEY, storage_xml, users_xml
from .config import Config
from .findings import Finding, error, info
from .stream import Doc, Resources
from .textedit import append_item, append_to, put, remove_item
from .yamlio import MappingNode, SequenceNode, get, get_path, items, sval, to_py

ANNOTATION = "checksum/weave-postrender"
OWN_SUFFIX = "-weave-postrender"
MOUNT_NAME = "weave-postrender"
REPLICA_ID = "CLICKHOUSE_REPLICA_ID"
ENV_NAMES = ("S3_ENDPOINT", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")


def wanted_files(cfg: Config) -> dict[str, str]:
    files = {STORAGE_KEY: storage_xml(
        size=cfg.cache_size, cache_path=cfg.cache_path, metadata_path=cfg.metadata_path, region=cfg.region,
        credentials=cfg.credentials.source, cache_on_write=cfg.cache_on_write, default_policy=cfg.default_policy)}
    if cfg.cache_on_write:
        files[USERS_KEY] = users_xml()
    return files


def wanted_env(cfg: Config) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "S3_ENDPOINT", "value": cfg.replica_endpoint}]
    creds = cfg.credentials
    if creds.source == "secret":
        for name, key in (("S3_ACCESS_KEY_ID", creds.access_key_id_key),
                          ("S3_SECRET_ACCESS_KEY", creds.secret_access_key_key)):
            env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": creds.secret_name, "key": key}}})
    elif creds.source == "inline":
        env += [{"name": "S3_ACCESS_KEY_ID", "value": creds.access_key_id},
                {"name": "S3_SECRET_ACCESS_KEY", "value": creds.secret_access_key}]
    return env


def inject(stream: Resources, release: Release, cfg: Config) -> list[Finding]:
    """Every edit for one release; findings say what changed or why not."""
    files = wanted_files(cfg)
    own: dict[str, str] = {}
    done: set[tuple[str, str]] = set()  # (ConfigMap, key): shards share the chart's ConfigMap
    findings: list[Finding] = []
    digest = hashlib.sha256(json.dumps([files, wanted_env(cfg)], sort_keys=True).encode()).hexdigest()
    for shard in release.shards:
        findings += _env(shard, cfg)
        for key, content in files.items():
            dirs = ("users.d",) if key == USERS_KEY else ("conf.d", "config.d")
            target = _chart_configmap(release, shard, dirs)
            if target is not None:
                if (target.name, key) not in done:
                    done.add((target.name, key))
                    findings += _set_data(target, key, content)
            else:
                own[key] = content
                findings += _own_mount(release, shard, key, dirs)
        findings += _annotate(shard, digest)
    if own:
        findings += _own_configmap(stream, release, own)
    return findings


def _chart_configmap(release: Release, shard: Shard, dirs: tuple[str, ...]) -> Doc | None:
    """A chart-rendered ConfigMap mounted whole as one of ``dirs`` (a new key lands as a file)."""
    for mount in shard.mounts:
        if mount.dir in dirs and mount.sub_path is None and not mount.items_restricted:
            for name in mount.configmaps:
                cm = release.configmaps.get(name)
                if cm is not None and release.owns(cm) and not name.endswith(OWN_SUFFIX):
                    return cm
    return None


def storage_path(release: Release, shard: Shard) -> str | None:
    """Where the server will read the injected storage file (merge order matters)."""
    dirs = ("conf.d", "config.d")
    target = _chart_configmap(release, shard, dirs)
    if target is not None:
        mount = next(m for m in shard.mounts if m.dir in dirs and target.name in m.configmaps)
        return f"{SERVER_ETC}/{mount.dir}/{STORAGE_KEY}"
    free = _free_dirs(shard, dirs)
    return f"{SERVER_ETC}/{free[0]}/{STORAGE_KEY}" if free else None


def _free_dirs(shard: Shard, dirs: tuple[str, ...]) -> list[str]:
    """The etc folders not mounted whole: a mount may be added below them."""
    return [d for d in dirs if not any(m.is_root and m.dir == d for m in shard.mounts)]


def _set_data(cm: Doc, key: str, content: str) -> list[Finding]:
    if sval(get_path(cm.node, "data", key)) == content:
        return []
    put(cm.buf, cm.node, ["data", key], content)
    return [info("file-injected", f"added {key} to the ConfigMap", resource=cm.ref, field=f"data.{key}")]


def _own_mount(release: Release, shard: Shard, key: str, dirs: tuple[str, ...]) -> list[Finding]:
    """Mount the tool's ConfigMap key next to (never inside) the chart's mounts."""
    own_name = release.fullname + OWN_SUFFIX
    free = _free_dirs(shard, dirs)
    volume = f"{MOUNT_NAME}-{'users' if key == USERS_KEY else 'config'}"
    source = {"name": own_name, "items": [{"key": key, "path": key}]}
    spec = get_path(shard.doc.node, "spec", "template", "spec")
    assert isinstance(spec, MappingNode)
    if not free:
        root = next(m for m in shard.mounts if m.is_root and m.dir == dirs[0])
        if get(root.volume_node, "projected") is None:
            return [error("cannot-place", f"{ETC}/{dirs[0]} is mounted whole from ConfigMap "
                          f"{', '.join(root.configmaps) or root.volume} which is not in the stream; add {key} "
                          "to it or let the chart render it", resource=shard.doc.ref)]
        if own_name in root.configmaps:
            return []
        append_to(shard.doc.buf, root.volume_node, ["projected", "sources"], {"configMap": source})  # type: ignore[arg-type]
        return [info("file-injected", f"added {key} to projected volume {root.volume}", resource=shard.doc.ref)]
    if any(sval(get(v, "name")) == volume for v in items(get(spec, "volumes"))):
        return []
    path = f"{ETC}/{free[0]}/{MOUNT_NAME}"
    append_to(shard.doc.buf, spec, ["volumes"], {"name": volume, "configMap": source})
    append_to(shard.doc.buf, shard.container, ["volumeMounts"], {"name": volume, "mountPath": path})
    return [info("file-injected", f"mounted {key} from ConfigMap {own_name} at {path}", resource=shard.doc.ref)]


def _own_configmap(stream: Resources, release: Release, data: dict[str, str]) -> list[Finding]:
    name = release.fullname + OWN_SUFFIX
    existing = release.configmaps.get(name)
    if existing is not None:
        return [f for key, content in data.items() for f in _set_data(existing, key, content)]
    sts = release.shards[0].doc
    labels = {k: v for k, v in sts.labels().items()
              if k in ("app.kubernetes.io/instance", "app.kubernetes.io/name", "app.kubernetes.io/managed-by",
                       "app.kubernetes.io/component", "app.kubernetes.io/part-of")}
    meta: dict[str, Any] = {"name": name}
    if sts.namespace:
        meta["namespace"] = sts.namespace
    meta["labels"] = labels
    filename = sts.annotation("postrenderer.helm.sh/postrender-filename")
    if filename:  # Helm 4 maps every output document back to a template file
        meta["annotations"] = {"postrenderer.helm.sh/postrender-filename": filename}
    stream.add_resource({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}, near=sts)
    return [info("configmap-added", f"added ConfigMap {name} with {', '.join(data)}", resource=sts.ref)]


def _env(shard: Shard, cfg: Config) -> list[Finding]:
    env = get(shard.container, "env")
    entries = items(env)
    names = [sval(get(e, "name")) for e in entries]
    if REPLICA_ID not in names or not isinstance(env, SequenceNode):
        return [error("replica-id-missing", f"the ClickHouse container has no {REPLICA_ID} env: S3_ENDPOINT "
                      "needs it to give every replica its own folder", resource=shard.doc.ref,
                      field="spec.template.spec.containers[clickhouse].env")]
    want = wanted_env(cfg)
    at = names.index(REPLICA_ID)
    current = [to_py(e) for e in entries[at + 1: at + 1 + len(want)]]
    stray = [i for i, n in enumerate(names) if n in ENV_NAMES and not at < i <= at + len(want)]
    if current == want and not stray:
        return []
    for i, n in enumerate(names):
        if n in ENV_NAMES:
            remove_item(shard.doc.buf, env, i)
    append_item(shard.doc.buf, env, want, after=at)
    return [info("env-injected", f"set {', '.join(w['name'] for w in want)} after {REPLICA_ID}",
                 resource=shard.doc.ref)]


def _annotate(shard: Shard, digest: str) -> list[Finding]:
    meta = get_path(shard.doc.node, "spec", "template", "metadata")
    if sval(get(get(meta, "annotations"), ANNOTATION)) == digest:
        return []
    template = get_path(shard.doc.node, "spec", "template")
    assert isinstance(template, MappingNode)
    put(shard.doc.buf, template, ["metadata", "annotations", ANNOTATION], digest)
    return [info("rollout-annotation", f"set {ANNOTATION} so a config change rolls the pods",
                 resource=shard.doc.ref)]
