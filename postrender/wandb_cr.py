"""The W&B ``WeightsAndBiases`` resource: point it at the ClickHouse release.

Before (the W&B guide's CR, Weave not enabled)::

    spec:
      values:
        global:
          mysql: {...}

After, for a 3-replica release ``clickhouse`` in namespace ``weave``::

    spec:
      values:
        global:
          mysql: {...}
          clickhouse:
            host: clickhouse-headless.weave.svc.cluster.local
            port: 8123
            user: weave_admin
            database: wandb_weave
            replicated: true
            passwordSecret: {name: clickhouse, passwordKey: admin-password}
          weave-trace: {enabled: true}
        weave-trace:
          install: true
          extraEnv: {WF_CLICKHOUSE_REPLICATED: "true"}

Every value comes from the release when it is in the stream (host from its
headless Service, user and Secret from the StatefulSet), else from the config,
and a finding says which values had to be assumed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .bitnami import Release
from .config import Config
from .findings import Finding, error, info, warning
from .stream import Doc
from .textedit import merge_into, same, scalar
from .yamlio import MappingNode, get, get_path, is_empty, items, sval

KIND = "WeightsAndBiases"
SUPPORTED = "apps.wandb.com/v1"
HTTP_PORT = 8123
DEFAULT_CLUSTER = "weave_cluster"
VALUES = ("spec", "values")


class Target(NamedTuple):
    """Where Weave's ClickHouse is, as the CR must say it."""

    host: str
    namespace: str
    user: str
    replicated: bool
    secret: str
    secret_key: str



def _from_release(release: Release) -> Target:
    shard = release.shards[0]
    env = {sval(get(e, "name")): e for e in shard.env()}
    service = sval(get_path(shard.doc.node, "spec", "serviceName")) or f"{release.fullname}-headless"
    ns = release.namespace or "default"
    ref = get_path(env.get("CLICKHOUSE_ADMIN_PASSWORD"), "valueFrom", "secretKeyRef")
    secret, key = sval(get(ref, "name")), sval(get(ref, "key"))
    if secret is None:  # chart 9.x: usePasswordFiles mounts the Secret instead
        volumes = items(get_path(shard.doc.node, "spec", "template", "spec", "volumes"))
        secret = next((sval(get_path(v, "secret", "secretName")) for v in volumes
                       if sval(get_path(v, "secret", "secretName"))), None)
    return Target(f"{service}.{ns}.svc.cluster.local", ns, sval(get(env.get("CLICKHOUSE_ADMIN_USER"), "value"))
                  or "default", release.pods > 1, secret or release.fullname, key or "admin-password")


def _from_config(cr: Doc, cfg: Config) -> tuple[Target, list[Finding]]:
    opts = cfg.wandb
    assumed: list[str] = []
    release = opts.release or ""
    fullname = opts.fullname or (release if "clickhouse" in release else f"{release}-clickhouse")
    ns = opts.namespace or cr.namespace or "default"
    if not opts.namespace:
        assumed.append(f"namespace {ns} (the CR's)")
    if not opts.user:
        assumed.append("user default (the chart's default auth.username)")
    if opts.replicated is None:
        assumed.append("replicated: true")
    target = Target(f"{fullname}-headless.{ns}.svc.cluster.local", ns, opts.user or "default",
                    True if opts.replicated is None else opts.replicated, fullname, "admin-password")
    notes = [info("wandb-assumed", f"ClickHouse release {release} is not in the stream; assumed "
                  f"{', '.join(assumed)}: set spec.wandb.* to be explicit", resource=cr.ref)] if assumed else []
    return target, notes


def plan(cr: Doc, releases: list[Release], cfg: Config) -> tuple[Target | None, list[Finding]]:
    """What the CR must say, or why it cannot be said; read-only."""
    if cr.api_version != SUPPORTED:
        return None, [error("wandb-cr-unsupported-version", f"{cr.api_version} (operator "
                            f"{cr.api_version.rsplit('/', 1)[-1]}) is not supported: only {SUPPORTED} "
                            "(spec.values) is; nothing was written to this resource", resource=cr.ref)]
    opts = cfg.wandb
    chosen = [r for r in releases if (not opts.release or r.instance == opts.release)
              and (not opts.namespace or r.namespace == opts.namespace)]
    if len(chosen) > 1:
        names = ", ".join(f"{r.namespace}/{r.instance}" for r in chosen)
        return None, [error("wandb-ambiguous-release", f"several ClickHouse releases ({names}) and no way to "
                            "choose: set spec.wandb.release (and spec.wandb.namespace)", resource=cr.ref)]
    if not chosen and not opts.release:
        return None, [error("wandb-no-release", "no ClickHouse release in the stream to point the CR at: set "
                            "spec.wandb.release (and namespace, user, fullname) in the config", resource=cr.ref)]
    target, notes = (_from_release(chosen[0]), []) if chosen else _from_config(cr, cfg)
    if cr.namespace and cr.namespace != target.namespace:
        notes.append(warning("wandb-namespace-differs", f"the CR is in namespace {cr.namespace}, ClickHouse in "
                             f"{target.namespace}: the host is right, but passwordSecret {target.secret} must "
                             f"exist in {cr.namespace}; copy Secret {target.namespace}/{target.secret} (key "
                             f"{target.secret_key}) there", resource=cr.ref))
    return target, notes + _conflicts(cr, _values(target, cfg))


def _values(target: Target, cfg: Config) -> dict[str, Any]:
    env: dict[str, Any] = {"WF_CLICKHOUSE_REPLICATED": "true" if target.replicated else "false"}
    if cfg.cluster_name != DEFAULT_CLUSTER:
        env["WF_CLICKHOUSE_REPLICATED_CLUSTER"] = cfg.cluster_name
    return {
        "global": {
            "clickhouse": {"host": target.host, "port": HTTP_PORT, "user": target.user,
                           "database": cfg.wandb.database, "replicated": target.replicated,
                           "passwordSecret": {"name": target.secret, "passwordKey": target.secret_key}},
            "weave-trace": {"enabled": True},
        },
        "weave-trace": {"install": True, "extraEnv": env},
    }


def _conflicts(cr: Doc, values: dict[str, Any]) -> list[Finding]:
    """Values already in the CR that differ: the release wins, and the user hears why."""
    out: list[Finding] = []
    base = get_path(cr.node, *VALUES)
    password = get_path(base, "global", "clickhouse", "password")
    if sval(password):
        out.append(warning("wandb-plaintext-password", "spec.values.global.clickhouse.password holds a "
                           "plaintext password; it is left as it is, but remove it: passwordSecret is set",
                           resource=cr.ref, field="spec.values.global.clickhouse.password"))
    for path, want in _leaf_items(values):
        node = get_path(base, *path)
        if node is None or is_empty(node) or same(node, want):
            continue
        have = sval(node)
        if have is not None and have.lower() == str(want).lower():
            why = ("was the string " + repr(have) + ": the operator ignores a string here, it must be a YAML boolean"
                   if isinstance(want, bool) else f"was {have} but not a string: env values must be quoted")
        else:
            why = (f"was {have!r}; the ClickHouse release and the weave-postrender config are the source "
                   "of truth")
        out.append(warning("wandb-value-replaced", f"{why}; set to {scalar(want)}", resource=cr.ref,
                           field=".".join(VALUES + path)))
    return out


def _leaf_items(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in tree.items():
        out += _leaf_items(v, prefix + (k,)) if isinstance(v, dict) else [(prefix + (k,), v)]
    return out


def edit(cr: Doc, target: Target, cfg: Config) -> list[Finding]:
    """Write the Weave block into ``spec.values``; info on what changed."""
    root = cr.node
    values = {"spec": {"values": _values(target, cfg)}}
    assert isinstance(root, MappingNode)
    changed = merge_into(cr.buf, root, values)
    if not changed:
        return []
    return [info("wandb-cr-updated", f"set {', '.join(p.removeprefix('spec.values.') for p in changed)}",
                 resource=cr.ref, field="spec.values")]
