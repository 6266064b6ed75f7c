"""End to end: real ClickHouse (chDB 26.5) on the tool's output, writing to a real S3 protocol
server (moto, signatures checked), for the W&B-shaped renders of charts 8.0.10 and 9.4.7.

For one pod of the shard-0 StatefulSet the test builds what the pod gets:

* files: every ConfigMap the ``clickhouse`` container mounts under ``/bitnami/clickhouse/etc/``
  in the tool's OUTPUT, copied flat into ``conf.d/``, ``config.d/`` and ``users.d/`` as the
  Bitnami image does (``helpers.chmerge.bitnami_layout``). Nothing is left out: the chart's
  macros, logger, ``remote_servers``, ``keeper_server`` (8.x), ``zookeeper``, ``listen_host``
  and (9.x) ``08-sampling.xml`` are all loaded. Measured with strace (chdb-core-lite 26.5.0):
  chDB starts no Keeper and no listeners and connects only to the S3 endpoint; ``zookeeper`` is
  only used by Replicated tables; ``remote_servers`` hosts are resolved (three DNS queries for
  ``clickhouse-shard0-{0,1,2}.clickhouse-headless.weave.svc.cluster.local``) only when the
  clusters are used (e.g. ``system.clusters``), which is why the test never queries them.
* the data volume: ``/bitnami/clickhouse/`` in the file contents is rewritten to a temporary
  folder (the pod's PVC), whose ``data/`` is chDB's data path as ``/bitnami/clickhouse/data``
  is the server's. That rewrite is the only edit to the tool's files.
* the base config: not the image's ``config.xml`` but ``USERS_BASE_CONFIG`` (empty
  ``filesystem_caches_path`` as on a server, and ``users.xml`` via ``user_directories`` as the
  stock config names it) and a minimal stock-like ``users.xml`` whose ``default`` user has
  profile ``default`` -- the profile the image also gives the admin user in the
  ``users.d/__bitnami_default_user.xml`` it writes at start (not reproduced: chDB runs as
  ``default``).
* environment: the container's ``env`` list in order, as the kubelet builds it
  (``helpers.k8s.pod_env``): ``$(CLICKHOUSE_REPLICA_ID)`` expanded from the pod name,
  ``secretKeyRef`` from the render's Secrets plus the test's own Secret ``s3``.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers.chdb_harness import BASE_USERS_XML, USERS_BASE_CONFIG, ChdbRun, chdb_available, run_chdb
from helpers.chmerge import bitnami_layout
from helpers.k8s import clickhouse_statefulsets, config_mounts, expand, load_docs, pod_env
from helpers.moto_server import MotoS3, start_moto_s3
from postrender.cli import load_config
from postrender.core import process

REPO = Path(__file__).resolve().parent.parent
VERSIONS = ["8.0.10", "9.4.7"]
NAMESPACE = "weave"
PREFIX = "prod"
ROWS = 10_000
USERS_FILE = "90-weave-users.xml"
SIGNATURE_ERROR = "The request signature we calculated does not match"
CHDB_TIMEOUT = 20.0  # a healthy run takes well under 1 s
CONFIG = """apiVersion: weave-postrender.dev/v1alpha1
kind: WeavePostRender
metadata: {{name: weave}}
spec:
  clusterName: weave_cluster
  s3:
    endpoint: {endpoint}
    credentials: {{source: secret, secretName: s3, accessKeyIdKey: id, secretAccessKeyKey: key}}
  cache: {{size: 1Gi}}
"""
_buckets = itertools.count()


@pytest.fixture(scope="session")
def s3() -> Iterator[MotoS3]:
    """One moto server for the file; each test gets a bucket of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = start_moto_s3()
        try:
            yield server
        finally:
            server.stop()


@dataclass
class Release:
    """The tool's output for one render, with a bucket of its own on the S3 server."""

    docs: list[dict[str, Any]]
    sts: dict[str, Any]
    bucket: str
    s3: MotoS3

    def pod(self, ordinal: int, workdir: Path, *, secret_key: str | None = None,
            drop: frozenset[str] = frozenset()) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        """Files per folder and environment of pod ``<sts>-<ordinal>``, data volume in ``workdir``."""
        files: dict[str, dict[str, str]] = {"conf.d": {}, "config.d": {}, "users.d": {}}
        for path, content in bitnami_layout(config_mounts(self.sts, self.docs)):
            if posixpath.basename(path) in drop:
                continue
            # The pod's data volume /bitnami/clickhouse is the temporary workdir here.
            files[posixpath.basename(posixpath.dirname(path))][posixpath.basename(path)] = \
                content.replace("/bitnami/clickhouse/", f"{workdir}/")
        test_secret = {"kind": "Secret", "metadata": {"name": "s3", "namespace": NAMESPACE},
                       "stringData": {"id": self.s3.access_key_id,
                                      "key": secret_key or self.s3.secret_access_key}}
        secrets = [d for d in self.docs if d.get("kind") == "Secret"] + [test_secret]
        return files, dict(pod_env(self.sts, self.pod_name(ordinal), secrets))

    def pod_name(self, ordinal: int) -> str:
        return f"{self.sts['metadata']['name']}-{ordinal}"

    def run(self, ordinal: int, workdir: Path, queries: list[str], **kwargs: Any) -> ChdbRun:
        files, env = self.pod(ordinal, workdir, **kwargs)
        return run_chdb(files["config.d"], env, queries, conf_d=files["conf.d"], users_d=files["users.d"],
                        users_xml=BASE_USERS_XML, base_config=USERS_BASE_CONFIG, workdir=workdir,
                        timeout=CHDB_TIMEOUT)

    def object_keys(self) -> list[str]:
        return self.s3.keys(self.bucket)


@pytest.fixture
def release(request: pytest.FixtureRequest, s3: MotoS3, tmp_path: Path) -> Release:
    assert chdb_available(), "chdb-core-lite is not installed: pip install -e '.[test]'"
    version = request.param
    bucket = f"weave-e2e-{next(_buckets)}"
    s3.create_bucket(bucket)
    config = tmp_path / "weave.yaml"
    config.write_text(CONFIG.format(endpoint=f"{s3.url}/{bucket}/{PREFIX}"), encoding="utf-8")
    render = REPO / "fixtures" / "rendered" / f"clickhouse-{version}" / "b-wandb-shape.yaml"
    outcome = process(render.read_text(encoding="utf-8"), load_config(str(config)))
    assert outcome.output is not None, outcome.findings
    docs = load_docs(outcome.output)
    statefulsets = clickhouse_statefulsets(docs)
    assert [s["metadata"]["name"] for s in statefulsets] == ["clickhouse-shard0"]
    return Release(docs, statefulsets[0], bucket, s3)


def _workdir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


CREATE = "CREATE TABLE weave_calls (id UInt64, s String) ENGINE = MergeTree ORDER BY id"
INSERT = f"INSERT INTO weave_calls SELECT number, toString(number) FROM numbers({ROWS})"
CACHE = "SELECT count(), sum(size) FROM system.filesystem_cache"
ON_WRITE = "SELECT getSetting('enable_filesystem_cache_on_write_operations')"
# The same checksum over the stored table and over the rows that went in.
CHECKSUM = "SELECT count(), sum(cityHash64(id, s)), sum(id), sum(length(s)) FROM weave_calls"
SOURCE_CHECKSUM = (f"SELECT count(), sum(cityHash64(number, toString(number))), sum(number), "
                   f"sum(length(toString(number))) FROM numbers({ROWS})")
S3_READS = "SELECT value FROM system.events WHERE event = 'ReadBufferFromS3Bytes'"


@pytest.mark.parametrize("release", VERSIONS, indirect=True)
def test_default_merge_tree_table_goes_to_s3_under_the_pod_prefix(release: Release, tmp_path: Path) -> None:
    run = release.run(0, _workdir(tmp_path, "pod0"), [
        CREATE, INSERT,
        "SELECT storage_policy FROM system.tables WHERE database = currentDatabase() AND name = 'weave_calls'",
        "SELECT disk_name, sum(rows) FROM system.parts WHERE table = 'weave_calls' AND active GROUP BY disk_name",
        "SELECT type, object_storage_type FROM system.disks WHERE name = 's3_disk_cache'",
        "SYSTEM DROP FILESYSTEM CACHE",  # so the rows below are read back from S3, not the cache
        CHECKSUM, SOURCE_CHECKSUM, S3_READS,
    ])
    assert run.ok, run.stderr
    policy, parts, disk, _, stored, source, s3_reads = run.results[2:]
    assert policy == [["s3_main"]]
    assert parts == [["s3_disk_cache", ROWS]]
    assert disk == [["ObjectStorage", "S3"]]
    assert stored == source
    assert stored[0][0] == ROWS and stored[0][2] == ROWS * (ROWS - 1) // 2
    assert stored[0][3] == sum(len(str(i)) for i in range(ROWS))
    assert s3_reads and int(s3_reads[0][0]) > 0, "nothing was read from S3"
    keys = release.object_keys()
    assert keys, "nothing was written to the bucket"
    outside = [k for k in keys if not k.startswith(f"{PREFIX}/{release.pod_name(0)}/")]
    assert outside == [], outside


@pytest.mark.parametrize("release", VERSIONS, indirect=True)
def test_two_replicas_of_one_shard_write_to_two_prefixes(release: Release, tmp_path: Path) -> None:
    for ordinal in (0, 1):
        _, env = release.pod(ordinal, tmp_path)
        assert env["S3_ENDPOINT"] == f"{release.s3.url}/{release.bucket}/{PREFIX}/{release.pod_name(ordinal)}/"
        run = release.run(ordinal, _workdir(tmp_path, f"pod{ordinal}"), [CREATE, INSERT, CHECKSUM, SOURCE_CHECKSUM])
        assert run.ok, run.stderr
        assert run.results[2] == run.results[3]
    prefixes = {posixpath.join(*k.split("/")[:2]) for k in release.object_keys()}
    assert prefixes == {f"{PREFIX}/{release.pod_name(0)}", f"{PREFIX}/{release.pod_name(1)}"}, prefixes


@pytest.mark.parametrize("release", VERSIONS, indirect=True)
def test_users_d_profile_makes_an_insert_fill_the_cache(release: Release, tmp_path: Path) -> None:
    queries = [ON_WRITE, CACHE, CREATE, INSERT, CACHE]
    honoured = release.run(0, _workdir(tmp_path, "with"), queries)
    assert honoured.ok, honoured.stderr
    setting, before, _, _, after = honoured.results
    assert setting == [[True]]
    assert before == [[0, 0]]
    rows, size = after[0]
    assert rows > 0 and size > 0, after
    # Without the tool's users.d file (run as pod -1, so the two runs' objects stay apart), the
    # cache disk's own cache_on_write_operations is not enough: the INSERT leaves the cache empty.
    without = release.run(1, _workdir(tmp_path, "without"), queries, drop=frozenset({USERS_FILE}))
    assert without.ok, without.stderr
    assert without.results[0] == [[False]]
    assert without.results[4] == [[0, 0]]


@pytest.mark.parametrize("release", VERSIONS, indirect=True)
def test_a_wrong_secret_key_fails_with_the_signature_error(release: Release, tmp_path: Path) -> None:
    wrong = "W" * len(release.s3.secret_access_key)
    _, env = release.pod(0, tmp_path, secret_key=wrong)
    assert env["S3_SECRET_ACCESS_KEY"] == wrong
    run = release.run(0, _workdir(tmp_path, "pod0"), [CREATE, INSERT], secret_key=wrong)
    assert not run.ok
    assert SIGNATURE_ERROR in run.stderr, run.stderr
    assert "(S3_ERROR)" in run.stderr, run.stderr
    assert release.object_keys() == []


@pytest.mark.parametrize(("value", "expanded"), [
    ("http://s3/b/prod/$(CLICKHOUSE_REPLICA_ID)/", "http://s3/b/prod/clickhouse-shard0-1/"),
    ("$(UNDEFINED)/", "$(UNDEFINED)/"),  # what every replica gets when the order is wrong
    ("$$(CLICKHOUSE_REPLICA_ID)", "$(CLICKHOUSE_REPLICA_ID)"),
    ("$$$(CLICKHOUSE_REPLICA_ID)", "$clickhouse-shard0-1"),
    ("$(CLICKHOUSE_REPLICA_ID", "$(CLICKHOUSE_REPLICA_ID"),
    ("$CLICKHOUSE_REPLICA_ID", "$CLICKHOUSE_REPLICA_ID"),
    ("ends with $", "ends with $"),
])
def test_the_helper_expands_like_the_kubelet(value: str, expanded: str) -> None:
    """The e2e conclusions rest on ``helpers.k8s.expand``; pin it to Kubernetes' expand.go rules."""
    assert expand(value, {"CLICKHOUSE_REPLICA_ID": "clickhouse-shard0-1"}) == expanded
