"""Config: defaults, every error at once, hints, and the shipped JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from postrender.config import SCHEMA_PATH, from_object, json_schema
from postrender.findings import InputError

REPO = Path(__file__).resolve().parents[2]
BASE = {"apiVersion": "weave-postrender.dev/v1alpha1", "kind": "WeavePostRender",
        "spec": {"s3": {"endpoint": "https://s3.us-east-1.amazonaws.com/b"}}}


def _with(**spec: object) -> dict[str, object]:
    return {**BASE, "spec": {**BASE["spec"], **spec}}  # type: ignore[dict-item]


def _errors(obj: object) -> list[str]:
    with pytest.raises(InputError) as info:
        from_object(obj)
    return [f.message for f in info.value.findings]


def test_defaults() -> None:
    cfg = from_object(BASE)
    assert (cfg.cluster_name, cfg.cache_size, cfg.credentials.source) == ("weave_cluster", "20Gi", "environment")
    assert cfg.replica_endpoint == "https://s3.us-east-1.amazonaws.com/b/$(CLICKHOUSE_REPLICA_ID)/"


def test_every_error_at_once_with_hint() -> None:
    errors = _errors(_with(clusterName="weave-cluster", cache={"size": "20GB"}, s3={"endpont": "x"}))
    assert len(errors) == 4, errors
    assert any("did you mean 'endpoint'" in e for e in errors)


@pytest.mark.parametrize("size", ["20GB", "20GiB", "20gi", "20 Gi", "0", "-1", ""])
def test_sizes_clickhouse_refuses(size: str) -> None:
    assert any("spec.cache.size" in e for e in _errors(_with(cache={"size": size})))


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000/", "s3://bucket", "https://h/b&x", "https://h/b<",
                                      "https://h/b/$(CLICKHOUSE_REPLICA_ID)", "ftp://h/b", "https://h/b?x=1"])
def test_endpoints_refused(endpoint: str) -> None:
    assert any("spec.s3.endpoint" in e for e in _errors(_with(s3={"endpoint": endpoint})))


def test_virtual_hosted_endpoint_needs_no_path() -> None:
    assert from_object(_with(s3={"endpoint": "https://bucket.s3.us-east-1.amazonaws.com"})).endpoint


def test_not_a_mapping() -> None:
    assert "must be a mapping" in _errors(["a", "list"])[0]


def test_inline_credentials_need_opt_in_and_warn() -> None:
    creds = {"source": "inline", "accessKeyId": "AKIA", "secretAccessKey": "s3cr3t"}
    assert any("allowInline" in e for e in _errors(_with(s3={**BASE["spec"]["s3"], "credentials": creds})))  # type: ignore[index]
    cfg = from_object(_with(s3={**BASE["spec"]["s3"], "credentials": {**creds, "allowInline": True}}))  # type: ignore[index]
    assert [w.rule for w in cfg.warnings] == ["inline-credentials"]
    assert "s3cr3t" not in cfg.warnings[0].message


def test_shipped_schema_is_generated_from_the_field_table() -> None:
    assert json.loads(Path(SCHEMA_PATH).read_text()) == json_schema()


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_pass_schema_and_validator(path: Path) -> None:
    obj = YAML(typ="safe").load(path.read_text())
    jsonschema.validate(obj, json_schema())
    assert from_object(obj).endpoint


def test_schema_rejects_unknown_keys_like_the_validator() -> None:
    bad = _with(cache={"sise": "20Gi"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json_schema())
    assert _errors(bad)
