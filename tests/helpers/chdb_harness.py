"""Start real ClickHouse (chDB, in-process engine) on a set of config files, in a subprocess.

Why: the oracle in ``chmerge`` is only as good as our reading of the C++; this harness lets a
test ask the real engine. chDB merges ``<dir>/config.d`` and ``<dir>/conf.d`` beside the
``config.xml`` it is given exactly like clickhouse-server, and one engine per process means
each configuration gets its own subprocess. Start-up errors reach the child's stderr, not a
Python exception, so the stderr is returned as is.

Needs ``chdb-core-lite`` (``pip install --no-deps chdb-core-lite==26.5.0 pyarrow``);
``chdb_available()`` lets tests skip without it. Nothing listens on the network (the engine
only connects out, e.g. to an S3 endpoint a config names).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# An empty filesystem_caches_path makes cache paths behave as on a server (DESIGN.md 7).
BASE_CONFIG = "<clickhouse>\n  <filesystem_caches_path></filesystem_caches_path>\n</clickhouse>\n"

# The same, plus the users config the way the stock config.xml (which the Bitnami image ships)
# names it. chDB 26.5 reads ``user_directories/users_xml/path`` relative to the config's
# folder and merges ``users.d/`` (and ``conf.d/``) into it like the server; a plain
# ``<users_config>users.xml</users_config>`` is looked up relative to the working directory
# and fails ("Configuration file users.xml doesn't exist"). Measured with chdb-core-lite 26.5.0.
USERS_BASE_CONFIG = (
    "<clickhouse>\n  <filesystem_caches_path></filesystem_caches_path>\n"
    "  <user_directories><users_xml><path>users.xml</path></users_xml></user_directories>\n"
    "</clickhouse>\n")

# A minimal users.xml shaped like the stock one: user ``default`` with profile ``default``
# (the profile the Bitnami image also gives its admin user), no password, any network.
BASE_USERS_XML = """<clickhouse>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</clickhouse>
"""

STORAGE_QUERIES = (
    "SELECT name, type, object_storage_type, cache_path FROM system.disks ORDER BY name",
    "SELECT policy_name, volume_name, arrayStringConcat(disks, ',') FROM system.storage_policies ORDER BY policy_name, volume_priority",
    "SELECT value FROM system.merge_tree_settings WHERE name = 'storage_policy'",
    "SELECT cache_name, max_size FROM system.filesystem_cache_settings ORDER BY cache_name",
)

_CHILD = r"""
import json, sys
from chdb import state

def plain(v):
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v if isinstance(v, (int, float, str, type(None))) else str(v)

data, config, queries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
conn = state.connect(f"file:{data}?config-file={config}")
cur = conn.cursor()
out = []
for query in queries:
    cur.execute(query)
    out.append([plain(list(row)) for row in cur.fetchall()])
conn.close()
print("@@CHDB@@" + json.dumps(out))
"""


@dataclass
class ChdbRun:
    """The outcome: ``results[i]`` holds the rows of ``queries[i]`` when ``ok``."""

    ok: bool
    results: list[list[list[Any]]] = field(default_factory=list)
    stderr: str = ""
    seconds: float = 0.0


def chdb_available() -> bool:
    """True when the chdb package can be imported (without importing it here)."""
    return importlib.util.find_spec("chdb") is not None


def run_chdb(config_d: Mapping[str, str], env: Mapping[str, str] | None = None,
             queries: Sequence[str] = STORAGE_QUERIES, *, conf_d: Mapping[str, str] | None = None,
             base_config: str = BASE_CONFIG, timeout: float = 120.0,
             users_xml: str | None = None, users_d: Mapping[str, str] | None = None,
             workdir: Path | None = None) -> ChdbRun:
    """Write ``config.xml`` plus ``config.d/``/``conf.d/`` files, start chDB with only ``env``
    (and PATH) in its environment, run ``queries``; on a failed start return its stderr.

    ``users_xml``/``users_d``: a users config beside ``config.xml`` and its ``users.d/`` files;
    chDB reads them only when ``base_config`` names the file (``USERS_BASE_CONFIG`` does, for
    ``BASE_USERS_XML``), else it uses a built-in ``default`` user and ignores ``users.d/``. ``workdir``: an existing empty folder to run in instead
    of a throw-away one (the caller keeps it); the engine's data path is then ``workdir/data``,
    so config files may name paths under it.
    """
    if workdir is not None:
        return _run(workdir, base_config, config_d, conf_d or {}, users_xml, users_d or {},
                    env, queries, timeout)
    with tempfile.TemporaryDirectory(prefix="chdb-") as tmp:
        return _run(Path(tmp), base_config, config_d, conf_d or {}, users_xml, users_d or {},
                    env, queries, timeout)


def _run(tmp: Path, base_config: str, config_d: Mapping[str, str], conf_d: Mapping[str, str],
         users_xml: str | None, users_d: Mapping[str, str], env: Mapping[str, str] | None,
         queries: Sequence[str], timeout: float) -> ChdbRun:
    config = _write_tree(tmp, base_config, config_d, conf_d, users_xml, users_d)
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                 "AWS_EC2_METADATA_DISABLED": "true", **(env or {})}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp / "data"), str(config), json.dumps(list(queries))],
        cwd=tmp, env=child_env, capture_output=True, text=True, timeout=timeout, check=False)
    return _outcome(proc, time.monotonic() - started)


def _write_tree(tmp: Path, base_config: str, config_d: Mapping[str, str],
                conf_d: Mapping[str, str], users_xml: str | None = None,
                users_d: Mapping[str, str] | None = None) -> Path:
    """The config lives in its own folder so the working directory holds no config.xml."""
    etc = tmp / "etc"
    folders = [("config.d", config_d), ("conf.d", conf_d)]
    if users_d:
        folders.append(("users.d", users_d))
    for folder, files in folders:
        (etc / folder).mkdir(parents=True)
        for name, content in files.items():
            (etc / folder / name).write_text(content, encoding="utf-8")
    (etc / "config.xml").write_text(base_config, encoding="utf-8")
    if users_xml is not None:
        (etc / "users.xml").write_text(users_xml, encoding="utf-8")
    (tmp / "data").mkdir()
    return etc / "config.xml"


def _outcome(proc: subprocess.CompletedProcess[str], seconds: float) -> ChdbRun:
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@CHDB@@")]
    if proc.returncode != 0 or not marker:
        return ChdbRun(ok=False, stderr=proc.stderr + proc.stdout, seconds=seconds)
    return ChdbRun(ok=True, results=json.loads(marker[-1][len("@@CHDB@@"):]),
                   stderr=proc.stderr, seconds=seconds)
