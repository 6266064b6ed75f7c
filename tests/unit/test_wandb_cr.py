"""The W&B CR as the operator will read it: types matter (a string "true" is ignored)."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from golden import GOLDEN


def _cr(case: str) -> dict[str, Any]:
    docs = YAML(typ="safe").load_all((GOLDEN / case / "expected.yaml").read_text())
    return next(d for d in docs if isinstance(d, dict) and d.get("kind") == "WeightsAndBiases")


@pytest.mark.parametrize("case,host,replicated,secret", [
    ("wandb-8.0.10-1x3", "clickhouse-headless.weave.svc.cluster.local", True, "clickhouse"),
    ("wandb-8.0.10-1x1", "clickhouse-headless.weave.svc.cluster.local", False, "clickhouse"),
    ("wandb-9.4.7-1x1", "clickhouse-headless.weave.svc.cluster.local", False, "clickhouse"),
    ("wandb-fullname-override", "weave-db-headless.weave.svc.cluster.local", True, "weave-db"),
    ("wandb-cr-alone-assumed", "ch-clickhouse-headless.default.svc.cluster.local", True, "ch-clickhouse"),
])
def test_clickhouse_block(case: str, host: str, replicated: bool, secret: str) -> None:
    values = _cr(case)["spec"]["values"]
    ch = values["global"]["clickhouse"]
    assert (ch["host"], ch["port"], ch["replicated"]) == (host, 8123, replicated)
    assert ch["replicated"] is replicated and ch["port"] == 8123
    assert ch["passwordSecret"] == {"name": secret, "passwordKey": "admin-password"}
    assert "password" not in ch
    assert values["global"]["weave-trace"]["enabled"] is True and values["weave-trace"]["install"] is True
    assert values["weave-trace"]["extraEnv"]["WF_CLICKHOUSE_REPLICATED"] == ("true" if replicated else "false")


def test_other_cluster_name_reaches_weave() -> None:
    env = _cr("wandb-8.0.10-other-cluster")["spec"]["values"]["weave-trace"]["extraEnv"]
    assert env["WF_CLICKHOUSE_REPLICATED_CLUSTER"] == "default"


def test_rest_of_the_cr_and_its_comments_survive() -> None:
    text = (GOLDEN / "wandb-8.0.10-1x3" / "expected.yaml").read_text()
    assert "# BEFORE Weave is enabled" in text
    cr = _cr("wandb-8.0.10-1x3")
    assert cr["spec"]["values"]["global"]["mysql"]["password"] == "8wtX6cJHizAZvYScjDzZcUarK4zZGjpV"
    assert cr["spec"]["values"]["ingress"]["annotations"]["kubernetes.io/ingress.class"] == "gce"


def test_conflicting_values_fixed_others_kept() -> None:
    ch = _cr("wandb-conflicting")["spec"]["values"]
    assert ch["global"]["clickhouse"]["replicated"] is True
    assert ch["global"]["clickhouse"]["password"] == "weave_123"  # left, with a warning
    assert ch["weave-trace"]["extraEnv"] == {"WF_CLICKHOUSE_REPLICATED": "true", "OTHER": "keep"}
