"""Read a rendered stream the way Kubernetes and the kubelet would, for one ClickHouse pod.

Why: end-to-end tests must start ClickHouse on what a pod really gets -- the ConfigMap files
its container mounts and the environment the kubelet builds -- taken from the tool's output,
not from the tool's own idea of it. Nothing here imports ``postrender``.

Sources: ``pkg/kubelet/kubelet_pods.go`` ``makeEnvironmentVariables`` (``envFrom`` first,
then ``env`` in list order; a literal ``value`` is expanded against the variables defined
*before* it; ``valueFrom`` values are used as they are) and
``third_party/forked/golang/expansion/expand.go`` (``$(VAR)`` syntax, ``$$`` escape, unknown
references kept literally).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML

BITNAMI_MOUNTED_ETC = "/bitnami/clickhouse/etc/"

Doc = dict[str, Any]


def load_docs(text: str) -> list[Doc]:
    """Every mapping document of a YAML stream (safe loader: plain dicts and lists)."""
    return [d for d in YAML(typ="safe").load_all(text) if isinstance(d, dict)]


def clickhouse_statefulsets(docs: list[Doc]) -> list[Doc]:
    """The ClickHouse server StatefulSets (by label, as the chart marks them; not keeper)."""
    return [d for d in docs if d.get("kind") == "StatefulSet"
            and d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "clickhouse"]


def clickhouse_container(sts: Doc) -> Doc:
    return next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "clickhouse")


def config_mounts(sts: Doc, docs: list[Doc]) -> list[tuple[str, dict[str, str]]]:
    """``(mountPath, {file name: content})`` for every ConfigMap the ``clickhouse`` container
    mounts under ``/bitnami/clickhouse/etc/`` (plain or projected volumes, ``items`` honoured).
    A ConfigMap the stream does not hold (``existingConfigdConfigmap``) is left out."""
    ns = sts["metadata"].get("namespace")
    cms = {d["metadata"]["name"]: d.get("data") or {} for d in docs
           if d.get("kind") == "ConfigMap" and d["metadata"].get("namespace") == ns}
    pod = sts["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    out = []
    for m in clickhouse_container(sts).get("volumeMounts") or []:
        if not m["mountPath"].startswith(BITNAMI_MOUNTED_ETC):
            continue
        vol = volumes[m["name"]]
        sources = [vol["configMap"]] if "configMap" in vol else \
            [s["configMap"] for s in vol.get("projected", {}).get("sources", []) if "configMap" in s]
        for src in sources:
            data = cms.get(src["name"])
            if data is None:
                continue
            files = {i["path"]: data[i["key"]] for i in src["items"]} if src.get("items") else dict(data)
            out.append((m["mountPath"], files))
    return out


def expand(value: str, defined: Mapping[str, str]) -> str:
    """Kubernetes' ``expansion.Expand``: ``$(NAME)`` -> the value when NAME is defined, else
    kept as written; ``$$`` -> ``$``; any other ``$x`` and an unclosed ``$(`` stay literal."""
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(value):
        if value[cursor] == "$" and cursor + 1 < len(value):
            out.append(value[checkpoint:cursor])
            rest = value[cursor + 1:]
            if rest[0] == "$":
                out.append("$")
                advance = 1
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close == -1:
                    out.append("$(")
                    advance = 1
                else:
                    name = rest[1:close]
                    out.append(defined.get(name, f"$({name})"))
                    advance = close + 1
            else:
                out.append("$" + rest[0])
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + value[checkpoint:]


def secret_data(secret: Doc) -> dict[str, str]:
    """A Secret's ``data`` (base64) and ``stringData``, decoded; stringData wins as on apply."""
    data = {k: base64.b64decode(v).decode("utf-8") for k, v in (secret.get("data") or {}).items()}
    return {**data, **(secret.get("stringData") or {})}


def pod_env(sts: Doc, pod_name: str, secrets: list[Doc]) -> list[tuple[str, str]]:
    """The ``clickhouse`` container's environment in pod ``pod_name``, in order, as the kubelet
    builds it: literal values expanded against earlier variables, ``fieldRef metadata.name``
    and ``metadata.namespace``, ``secretKeyRef`` from ``secrets`` (Secret documents in the
    StatefulSet's namespace). Anything else (configMapKeyRef, resourceFieldRef, other
    fieldRefs, envFrom, service-link variables) raises, so a test never runs on a guess."""
    ns = sts["metadata"].get("namespace")
    by_name = {s["metadata"]["name"]: secret_data(s) for s in secrets
               if s.get("kind") == "Secret" and s["metadata"].get("namespace") == ns}
    container = clickhouse_container(sts)
    if container.get("envFrom"):
        raise NotImplementedError(f"envFrom is not modelled: {container['envFrom']}")
    defined: dict[str, str] = {}
    env: list[tuple[str, str]] = []
    for entry in container.get("env") or []:
        name = entry["name"]
        if "valueFrom" in entry:
            value = _value_from(entry["valueFrom"], pod_name, ns, by_name, name)
        else:
            value = expand(str(entry.get("value", "")), defined)
        if value is None:
            continue  # an optional reference that does not resolve: the variable is not set
        defined[name] = value
        env.append((name, value))
    return env


def _value_from(source: Doc, pod_name: str, ns: str | None,
                secrets: Mapping[str, Mapping[str, str]], name: str) -> str | None:
    if "fieldRef" in source:
        path = source["fieldRef"]["fieldPath"]
        fields = {"metadata.name": pod_name, "metadata.namespace": ns or "default"}
        if path not in fields:
            raise NotImplementedError(f"{name}: fieldRef {path} is not modelled")
        return fields[path]
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        data = secrets.get(ref["name"])
        if data is None or ref["key"] not in data:
            if ref.get("optional"):
                return None
            raise KeyError(f"{name}: Secret {ref['name']!r} key {ref['key']!r} not found: the kubelet "
                           "would refuse to start the container (CreateContainerConfigError)")
        return data[ref["key"]]
    raise NotImplementedError(f"{name}: valueFrom {sorted(source)} is not modelled")
