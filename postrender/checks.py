"""Read-only checks of one release against the config: what would break at runtime.

Each check returns findings with a stable rule id; none edits anything. They
look at the chart's own mounted XML files (cluster, keeper, system logs,
storage defined elsewhere) and at the StatefulSets (volumes and paths).
"""

from __future__ import annotations

from .bitnami import ConfigFile, Release, Shard
from .clickhouse_xml import OWNED, STORAGE_KEY, Facts, XMLProblem, read
from .config import Config
from .inject import storage_path
from .findings import Finding, error, info, warning
from .sizes import clickhouse_size, human, k8s_quantity
from .yamlio import Node, get, get_path, items, sval

_READ_ONLY = ("configMap", "secret", "projected", "downwardAPI")


def check(release: Release, cfg: Config) -> list[Finding]:
    findings: list[Finding] = []
    shard = release.shards[0]
    files, missing = release.files(shard)
    for name in sorted(set(missing)):
        findings.append(warning("configmap-not-in-stream", f"ConfigMap {name} is mounted but not in the stream, "
                                "so its files cannot be checked against the injected storage",
                                resource=shard.doc.ref))
    facts = Facts()
    for f in sorted(files, key=lambda f: f.server_path):
        if f.key == STORAGE_KEY or "/users.d/" in f.server_path:
            continue  # the tool's own file, and user settings, say nothing of the server config
        try:
            facts.add(f.server_path, read(f.content))
        except XMLProblem as exc:
            cm = release.configmaps[f.configmap]
            line = f" (line {exc.line})" if exc.line else ""
            findings.append(error("xml-invalid", f"{f.key}{line} {exc}", resource=cm.ref, field=f"data.{f.key}"))
    if any(f.rule == "xml-invalid" for f in findings):
        return findings  # facts from a file that did not parse would only mislead
    cluster = _cluster(release, cfg, facts)
    if missing:  # what is absent may be in the ConfigMap we cannot see
        cluster = [f if f.rule not in ("cluster-missing", "keeper-missing") else
                   warning(f.rule, f.message + f" (or in ConfigMap {', '.join(sorted(set(missing)))}, which is "
                           "not in the stream: check it there)", resource=f.resource, field=f.field)
                   for f in cluster]
    findings += cluster
    findings += _overrides(release, files, facts)
    for s in release.shards:
        findings += _paths(s, cfg)
    return findings


def _cluster(release: Release, cfg: Config, facts: Facts) -> list[Finding]:
    ref = release.shards[0].doc.ref
    if release.pods == 1:
        return [info("single-node", "one replica: Weave runs without replication", resource=ref)]
    out: list[Finding] = []
    if not facts.clusters:
        out.append(error("cluster-missing", f"{release.pods} replicas but no remote_servers cluster is "
                         f"configured; Weave's replicated mode needs cluster '{cfg.cluster_name}'", resource=ref))
    elif cfg.cluster_name not in facts.clusters:
        chart = " and ".join(f"'{c}'" for c in facts.clusters)
        why = " (Weave's default)" if cfg.cluster_name == "weave_cluster" else ""
        other = "" if len(facts.clusters) > 1 else \
            f", or set spec.clusterName: {next(iter(facts.clusters))} in the weave-postrender config"
        out.append(error("cluster-name-mismatch", f"the chart renders cluster {chart} but spec.clusterName is "
                         f"'{cfg.cluster_name}': set the chart value clusterName: {cfg.cluster_name}{why}"
                         f"{other}", resource=ref, field="remote_servers"))
    else:
        listed = {h for shard in facts.clusters[cfg.cluster_name] for h in shard}
        absent = [h for s in release.shards for h in s.hosts() if h not in listed]
        if absent:
            out.append(error("cluster-replicas-incomplete", f"remote_servers/{cfg.cluster_name} does not list "
                             f"{', '.join(absent)}; every replica must be in the cluster", resource=ref))
    if facts.zookeeper_nodes == 0:
        out.append(error("keeper-missing", "replicated tables need ZooKeeper or ClickHouse Keeper but no "
                         "<zookeeper> node is configured: set keeper.enabled: true in the chart values",
                         resource=ref, field="zookeeper"))
    return out


def _overrides(release: Release, files: list[ConfigFile], facts: Facts) -> list[Finding]:
    ref = release.shards[0].doc.ref
    out: list[Finding] = []
    ours = storage_path(release, release.shards[0])
    by_file: dict[str, list[str]] = {}
    for path in OWNED:
        for other in facts.owned_by_file.get(path, []):
            by_file.setdefault(other, []).append(path)
    for other, paths in by_file.items():
        what = ", ".join(paths)
        if ours is not None and other > ours:
            out.append(error("storage-overridden", f"{other} defines {what} and ClickHouse merges it after "
                             f"{ours}, so it overrides the injected storage: remove them from that file",
                             resource=ref))
        else:
            out.append(warning("storage-replaced", f"{other} also defines {what}; the injected file replaces "
                               "them (remove the old definitions, e.g. the W&B guide's XML)", resource=ref))
    if facts.removed_logs:
        out.append(warning("system-logs-removed", f"the chart removes {', '.join(sorted(set(facts.removed_logs)))}"
                           " (chart 9.1+ 08-sampling.xml); Weave's export reads system.query_log: set "
                           "the chart's sampling options to keep query_log", resource=ref))
    return out


def _volume_for(shard: Shard, path: str) -> tuple[str, Node | None, bool] | None:
    """The mount holding ``path``: (mountPath, volume entry, readOnly), longest prefix wins."""
    best = None
    for m in shard.volume_mounts():
        mount = (sval(get(m, "mountPath")) or "").rstrip("/")
        if (path.startswith(mount + "/") or path.rstrip("/") == mount) and (best is None or len(mount) > len(best[0])):
            best = (mount, sval(get(m, "name")) or "", sval(get(m, "readOnly")) == "true")
    if best is None:
        return None
    volumes = items(get_path(shard.doc.node, "spec", "template", "spec", "volumes"))
    volume = next((v for v in volumes if sval(get(v, "name")) == best[1]), None)
    claims = items(get_path(shard.doc.node, "spec", "volumeClaimTemplates"))
    claim = next((c for c in claims if sval(get_path(c, "metadata", "name")) == best[1]), None)
    return best[0], claim if claim is not None else volume, best[2]


def _paths(shard: Shard, cfg: Config) -> list[Finding]:
    out: list[Finding] = []
    for what, path, field in (("metadata", cfg.metadata_path, "spec.s3.metadataPath"),
                              ("cache", cfg.cache_path, "spec.cache.path")):
        found = _volume_for(shard, path)
        if found is None:
            out.append(error("path-not-writable", f"the {what} path {path} is on the container's root file system, "
                             "which the chart mounts read-only: put it below the data volume (/bitnami/clickhouse)",
                             resource=shard.doc.ref, field=field))
            continue
        mount, volume, read_only = found
        kind = next((k for k in _READ_ONLY if get(volume, k) is not None), None)
        if read_only or kind:
            out.append(error("path-not-writable", f"the {what} path {path} is on {mount}, a read-only "
                             f"{kind or 'mount'}: put it below the data volume", resource=shard.doc.ref, field=field))
        elif what == "cache":
            out += _cache_size(shard, cfg, volume, mount)
    return out


def _cache_size(shard: Shard, cfg: Config, volume: Node | None, mount: str) -> list[Finding]:
    size = sval(get_path(volume, "spec", "resources", "requests", "storage")) or \
        sval(get_path(volume, "emptyDir", "sizeLimit"))
    cache = clickhouse_size(cfg.cache_size) or 0
    volume_bytes = k8s_quantity(size) if size else None
    if volume_bytes is None:
        return [info("cache-size-unchecked", f"the volume at {mount} has no size; cannot check that the "
                     f"{cfg.cache_size} cache fits", resource=shard.doc.ref)]
    if cache >= volume_bytes:
        return [error("cache-exceeds-volume", f"cache size {cfg.cache_size} ({human(cache)}) does not fit on the "
                      f"data volume ({size} = {human(volume_bytes)}): lower spec.cache.size or raise the chart's "
                      "persistence.size", resource=shard.doc.ref, field="spec.cache.size")]
    if volume_bytes - cache < cfg.min_free_fraction * volume_bytes:
        return [warning("cache-volume-tight", f"cache size {cfg.cache_size} leaves less than "
                        f"{cfg.min_free_fraction:.0%} of the {size} data volume for metadata and local tables",
                        resource=shard.doc.ref, field="spec.cache.size")]
    return []
