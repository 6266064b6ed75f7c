"""Independent proof: what ClickHouse will load from the tool's output.

For every golden output, the files each ClickHouse StatefulSet mounts are laid out as
the Bitnami image does and merged by ClickHouse's rules with the independent oracle in
``tests/helpers`` (which imports nothing of the tool), then the storage is checked:
exactly one S3 disk, one cache disk over it declared after it, the policy on the cache,
and the MergeTree default. The injected file is then started in real ClickHouse (chDB).
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import pytest

from golden import cases
from helpers.chdb_harness import run_chdb
from helpers.chmerge import bitnami_layout, merge, summarize_storage
from helpers.k8s import clickhouse_statefulsets, config_mounts, load_docs

SUCCESS = [c for c in cases() if c.expected_path.exists() and "clickhouse" in c.expected_path.read_text()
           and c.name != "no-clickhouse"]


def _merged(sts: dict[str, Any], docs: list[dict[str, Any]], config: str) -> Any:
    """Merge what the server reads into ``config`` (config.xml: conf.d + config.d; users.xml: users.d)."""
    files = bitnami_layout(config_mounts(sts, docs))
    return merge("<clickhouse></clickhouse>", files, config_path=f"/opt/bitnami/clickhouse/etc/{config}")


@pytest.mark.parametrize("case", SUCCESS, ids=lambda c: c.name)
def test_merged_storage_is_exactly_the_weave_storage(case: Any) -> None:
    docs = load_docs(case.expected_path.read_text())
    for sts in clickhouse_statefulsets(docs):
        summary = summarize_storage(_merged(sts, docs, "config.xml"))
        disks = [(d["name"], d["type"]) for d in summary["disks"]]
        assert disks == [("s3_disk", "s3"), ("s3_disk_cache", "cache")], summary
        assert summary["disks"][1]["disk"] == "s3_disk"
        assert summary["policies"] == {"s3_main": {"main": ["s3_disk_cache"]}}
        assert summary["merge_tree_storage_policy"] == "s3_main"
        assert summary["problems"] == []


@pytest.mark.parametrize("case", SUCCESS, ids=lambda c: c.name)
def test_env_and_profile_reach_every_replica(case: Any) -> None:
    docs = load_docs(case.expected_path.read_text())
    for sts in clickhouse_statefulsets(docs):
        env = [e["name"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]]
        assert env[env.index("CLICKHOUSE_REPLICA_ID") + 1] == "S3_ENDPOINT"
        assert env.count("S3_ENDPOINT") == 1
        users = _merged(sts, docs, "users.xml")
        assert users.findtext("profiles/default/enable_filesystem_cache_on_write_operations") == "1"
        assert "checksum/weave-postrender" in sts["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("name", ["8.0.10-1x3", "9.4.7-1x3"])
def test_real_clickhouse_loads_the_injected_storage(name: str, tmp_path: Path) -> None:
    case = next(c for c in SUCCESS if c.name == name)
    docs = load_docs(case.expected_path.read_text())
    files = dict(bitnami_layout(config_mounts(clickhouse_statefulsets(docs)[0], docs)))
    storage = next(text for path, text in files.items() if posixpath.basename(path) == "90-weave-storage.xml")
    # Point the data volume at a temporary folder, as the pod's /bitnami/clickhouse would be.
    storage = storage.replace("/bitnami/clickhouse/data/", f"{tmp_path}/data/")
    run = run_chdb({"90-weave-storage.xml": storage}, {"S3_ENDPOINT": "http://127.0.0.1:9/bucket/pod-0/"})
    assert run.ok, run.stderr
    disks, policies, default, caches = run.results
    assert [(d[0], d[1]) for d in disks if d[0].startswith("s3")] == [("s3_disk", "ObjectStorage"),
                                                                    ("s3_disk_cache", "ObjectStorage")], disks
    assert [p for p in policies if p[0] != "default"] == [["s3_main", "main", "s3_disk_cache"]], policies
    assert default == [["s3_main"]], default
    assert [int(c[1]) for c in caches] == [20 * 1024**3], caches
