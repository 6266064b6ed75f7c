"""The WeavePostRender config: load, apply defaults, validate in one pass.

One object serves the CLI (``--config``) and the KRM ``functionConfig``. Every
problem is collected and reported at once (yamllint's habit), unknown keys get a
did-you-mean, and the JSON Schema shipped in ``schema/`` is generated from the
same field table (``python -m postrender.config`` rewrites it), so the schema and
the validator cannot disagree.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, NamedTuple

from .findings import Finding, InputError, error, warning
from .sizes import clickhouse_size

API_VERSION = "weave-postrender.dev/v1alpha1"
KIND = "WeavePostRender"
SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "schema", "weavepostrender.schema.json")

CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENV_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ABS_PATH = re.compile(r"^/[^\s]*/$")


class Field(NamedTuple):
    """One config key: its JSON type, default, and an optional extra check."""

    type: str
    default: Any = None
    required: bool = False
    enum: tuple[str, ...] = ()
    pattern: str | None = None
    doc: str = ""
    check: Callable[[Any], str | None] | None = None
    children: dict[str, "Field"] | None = None
    secret: bool = False  # never echo the value in a message


def _redact(value: Any) -> Any:
    """A URL's user:password part is never echoed."""
    return re.sub(r"//[^/@\s]*@", "//***@", value) if isinstance(value, str) else value


# scheme://[userinfo@]host[:port][/path][?query][#fragment] (RFC 3986, just what the check needs)
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<user>[^/?#@]*@)?(?P<host>\[[^\]]*\]|[^/?#:]*)"
                  r"(?::\d*)?(?P<path>/[^?#]*)?(?P<query>\?[^#]*)?(?P<fragment>#.*)?$")


def _check_endpoint(value: str) -> str | None:
    url = _URL.match(value)
    if url is not None and url["user"]:
        return "must not hold credentials (user:password@): use spec.s3.credentials"
    if "$" in value:
        return "must not contain '$': the tool appends '/$(CLICKHOUSE_REPLICA_ID)/' itself"
    if "&" in value or "<" in value:
        return "must not contain '&' or '<': ClickHouse parses env values as XML and would not start"
    if url is None or url["scheme"].lower() not in ("http", "https") or not url["host"]:
        return "must be an http(s) URL of a bucket, e.g. https://s3.us-east-1.amazonaws.com/my-bucket"
    virtual_hosted = re.match(r"^[^.]+\.s3[.-]", url["host"]) is not None
    if not virtual_hosted and not (url["path"] or "").strip("/"):
        return ("names no bucket: ClickHouse fails with \"Bucket name length is out of bounds\"; "
                "use https://HOST/BUCKET[/PREFIX]")
    if url["query"] or url["fragment"]:
        return "must not have a query string or fragment"
    return None


def _check_size(value: str) -> str | None:
    if clickhouse_size(value) is None:
        return ("is not a size ClickHouse accepts: use digits with an optional K, M, G or T "
                "(decimal) or Ki, Mi, Gi, Ti (binary) suffix, e.g. 20Gi; not 20GB, 20GiB, 20gi, 0")
    return None


def _check_cluster(value: str) -> str | None:
    if not CLUSTER_NAME.match(value):
        return "must match ^[A-Za-z0-9_.]+$ (Weave's migrator refuses other names; no hyphens)"
    return None


def _check_path(value: str) -> str | None:
    if not ABS_PATH.match(value) or "/../" in value or "&" in value or "<" in value:
        return "must be an absolute folder path ending in '/', without spaces, '..', '&' or '<'"
    return None


_SECRET_KEY = dict(type="string", pattern=ENV_KEY.pattern)

SPEC: dict[str, Field] = {
    "clusterName": Field("string", "weave_cluster", check=_check_cluster,
                         doc="ClickHouse cluster (remote_servers) name Weave uses."),
    "s3": Field("object", required=True, children={
        "endpoint": Field("string", required=True, check=_check_endpoint,
                          doc="Bucket URL with optional prefix; each replica writes under <endpoint>/<pod>/."),
        "region": Field("string", pattern=r"^[a-z0-9-]+$", doc="S3 region, written to the disk's <region> when set."),
        "metadataPath": Field("string", "/bitnami/clickhouse/data/disks/s3_disk/", check=_check_path,
                              doc="Where the S3 disk keeps its metadata: must be on the persistent data volume."),
        "credentials": Field("object", children={
            "source": Field("string", "environment", enum=("environment", "secret", "inline"),
                            doc="environment: IRSA, instance profile or AWS_* env; secret: a Secret reference; "
                                "inline: values in this file (needs allowInline: true)."),
            "secretName": Field("string", pattern=DNS_LABEL.pattern, doc="Secret holding the keys (source: secret)."),
            "accessKeyIdKey": Field(**_SECRET_KEY, default="AWS_ACCESS_KEY_ID"),  # type: ignore[arg-type]
            "secretAccessKeyKey": Field(**_SECRET_KEY, default="AWS_SECRET_ACCESS_KEY"),  # type: ignore[arg-type]
            "accessKeyId": Field("string", doc="Inline key id (source: inline).", secret=True),
            "secretAccessKey": Field("string", doc="Inline secret key (source: inline).", secret=True),
            "allowInline": Field("boolean", False, doc="Explicit opt-in to plaintext credentials."),
        }),
    }),
    "cache": Field("object", children={
        "size": Field("string", "20Gi", check=_check_size, doc="max_size of the cache disk, written verbatim."),
        "path": Field("string", "/bitnami/clickhouse/data/caches/s3_disk_cache/", check=_check_path,
                      doc="Cache folder: must be on a writable volume."),
        "cacheOnWrite": Field("boolean", True, doc="Cache parts as they are written: sets the disk's "
                              "cache_on_write_operations and the default profile's "
                              "enable_filesystem_cache_on_write_operations (a users.d file)."),
    }),
    "wandb": Field("object", doc="The W&B WeightsAndBiases custom resource (apps.wandb.com/v1) in the same stream.",
                   children={
        "enabled": Field("boolean", True, doc="Edit WeightsAndBiases resources found in the stream."),
        "database": Field("string", "wandb_weave", pattern=r"^[A-Za-z0-9_]+$",
                          doc="global.clickhouse.database Weave uses."),
        "release": Field("string", pattern=DNS_LABEL.pattern, doc="The ClickHouse Helm release the CR points at: "
                         "chooses among several releases in the stream, or names one that is not in it."),
        "namespace": Field("string", pattern=DNS_LABEL.pattern,
                           doc="The release's namespace when it is not in the stream (default: the CR's)."),
        "fullname": Field("string", pattern=DNS_LABEL.pattern,
                          doc="The chart's fullnameOverride, when the release is not in the stream."),
        "user": Field("string", doc="The chart's auth.username, when the release is not in the stream."),
        "replicated": Field("boolean", doc="Whether the release has more than one replica, when it is not "
                            "in the stream (default true, the W&B guide's 3 replicas)."),
    }),
    "storage": Field("object", children={
        "defaultPolicy": Field("boolean", True, doc="Make s3_main the MergeTree default (merge_tree.storage_policy)."),
        "minFreeVolumeFraction": Field("number", 0.1, doc="Warn when the cache leaves less than this "
                                       "fraction of the data volume free."),
    }),
}


class Credentials(NamedTuple):
    source: str
    secret_name: str | None
    access_key_id_key: str
    secret_access_key_key: str
    access_key_id: str | None
    secret_access_key: str | None


class WandbOptions(NamedTuple):
    enabled: bool
    database: str
    release: str | None
    namespace: str | None
    fullname: str | None
    user: str | None
    replicated: bool | None


class Config(NamedTuple):
    cluster_name: str
    endpoint: str
    region: str | None
    metadata_path: str
    credentials: Credentials
    cache_size: str
    cache_path: str
    cache_on_write: bool
    default_policy: bool
    min_free_fraction: float
    wandb: WandbOptions = WandbOptions(True, "wandb_weave", None, None, None, None, None)
    warnings: tuple[Finding, ...] = ()

    @property
    def replica_endpoint(self) -> str:
        """The S3_ENDPOINT value: every replica under its own folder."""
        return self.endpoint.rstrip("/") + "/$(CLICKHOUSE_REPLICA_ID)/"


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
}


def _validate(obj: Any, fields: dict[str, Field], path: str, out: list[str]) -> dict[str, Any]:
    """Check ``obj`` against ``fields``; return it with defaults filled in."""
    result: dict[str, Any] = {}
    for key in obj:
        if key not in fields:
            from difflib import get_close_matches  # only when there is a key to suggest for

            hint = get_close_matches(str(key), list(fields), n=1)
            extra = f"; did you mean '{hint[0]}'?" if hint else f"; known keys: {', '.join(fields)}"
            out.append(f"{path}.{key}: unknown key{extra}")
    for name, field in fields.items():
        where = f"{path}.{name}"
        if name not in obj or obj[name] is None:
            if field.required:
                out.append(f"{where}: required")
            result[name] = _validate({}, field.children, where, out) if field.children else field.default
            continue
        value = obj[name]
        shown = "***" if field.secret else repr(_redact(value))
        if not _TYPES[field.type](value):
            out.append(f"{where}: must be a {field.type}, got {type(value).__name__} {shown}")
            # keep the shape, so later checks see defaults instead of a missing key
            result[name] = _validate({}, field.children, where, []) if field.children else field.default
            continue
        if field.children:
            result[name] = _validate(value, field.children, where, out)
            continue
        if field.enum and value not in field.enum:
            out.append(f"{where}: must be one of {', '.join(field.enum)}, got {value!r}")
        elif field.pattern and not re.match(field.pattern, value):
            out.append(f"{where}: {shown} does not match {field.pattern}")
        elif field.check and (problem := field.check(value)):
            out.append(f"{where}: {shown} {problem}")
        result[name] = value
    return result


def _check_credentials(creds: dict[str, Any], out: list[str], notes: list[Finding]) -> None:
    where = "spec.s3.credentials"
    source = creds["source"]
    if source == "secret" and not creds["secretName"]:
        out.append(f"{where}.secretName: required when source is secret")
    if source == "inline":
        if not (creds["accessKeyId"] and creds["secretAccessKey"]):
            out.append(f"{where}: source inline needs accessKeyId and secretAccessKey")
        if not creds["allowInline"]:
            out.append(f"{where}.allowInline: plaintext credentials end up in the manifests; "
                       "set allowInline: true to accept that, or use source: secret")
        else:
            notes.append(warning("inline-credentials", "S3 credentials are written in plaintext into the "
                                 "StatefulSets; prefer source: secret", field=where))
    elif creds["accessKeyId"] or creds["secretAccessKey"]:
        out.append(f"{where}: accessKeyId/secretAccessKey are only read with source: inline")


def from_object(obj: Any, origin: str = "config") -> Config:
    """Validate a parsed config object; raise InputError listing every problem."""
    problems: list[str] = []
    notes: list[Finding] = []
    if not isinstance(obj, dict):
        raise InputError([error("config-invalid", f"{origin}: the config must be a mapping "
                                f"(apiVersion, kind, metadata, spec), got {type(obj).__name__}")])
    if obj.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion: must be {API_VERSION}, got {obj.get('apiVersion')!r}")
    if obj.get("kind") != KIND:
        problems.append(f"kind: must be {KIND}, got {obj.get('kind')!r}")
    for key in obj:
        if key not in ("apiVersion", "kind", "metadata", "spec"):
            problems.append(f"{key}: unknown top-level key; expected apiVersion, kind, metadata, spec")
    spec_obj = obj.get("spec")
    if not isinstance(spec_obj, dict):
        problems.append("spec: required mapping (with at least s3.endpoint)")
        spec_obj = {}
    spec = _validate(spec_obj, SPEC, "spec", problems)
    _check_credentials(spec["s3"]["credentials"], problems, notes)
    if problems:
        raise InputError([error("config-invalid", f"{origin}: {p}") for p in problems])
    s3, cache, creds = spec["s3"], spec["cache"], spec["s3"]["credentials"]
    return Config(
        cluster_name=spec["clusterName"], endpoint=s3["endpoint"], region=s3["region"],
        metadata_path=s3["metadataPath"],
        credentials=Credentials(creds["source"], creds["secretName"], creds["accessKeyIdKey"],
                                creds["secretAccessKeyKey"], creds["accessKeyId"], creds["secretAccessKey"]),
        cache_size=cache["size"], cache_path=cache["path"], cache_on_write=cache["cacheOnWrite"],
        default_policy=spec["storage"]["defaultPolicy"],
        min_free_fraction=float(spec["storage"]["minFreeVolumeFraction"]),
        wandb=WandbOptions(**spec["wandb"]), warnings=tuple(notes),
    )


def _schema(fields: dict[str, Field]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, field in fields.items():
        node: dict[str, Any] = {"type": field.type}
        if field.doc:
            node["description"] = field.doc
        if field.default is not None:
            node["default"] = field.default
        if field.enum:
            node["enum"] = list(field.enum)
        if field.pattern:
            node["pattern"] = field.pattern
        if field.children:
            node.update(_schema(field.children))
        props[name] = node
    required = [n for n, f in fields.items() if f.required]
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = required
    return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the whole config object (shipped in the package)."""
    spec = _schema(SPEC)
    spec["required"] = ["s3"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": KIND,
        "type": "object",
        "required": ["apiVersion", "kind", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": {"type": "object"},
            "spec": spec,
        },
    }


if __name__ == "__main__":  # regenerate the shipped schema
    import json

    with open(SCHEMA_PATH, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(json_schema(), indent=2) + "\n")
