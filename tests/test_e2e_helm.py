"""weave-postrender end to end under the real Helm 3.17.3 and Helm 4.1.4 binaries.

Each run replays a recorded Bitnami ClickHouse render (8.0.10 and 9.4.7, the W&B shape) through
``helm template`` with the tool as post-renderer (tests/e2e/helmrun.py): under Helm 3 by the path of
the installed ``weave-postrender`` executable, under Helm 4 as the plugin that
``weave-postrender helm-plugin path`` names, installed into isolated Helm homes. What Helm prints
is parsed and checked for the injected S3 storage, users ConfigMap, env and checksum, and for every
document of the render still being there. The failure runs prove that an error finding reaches the
user once, through Helm's stderr, and that Helm fails.

Nothing here skips: a missing binary is a failure (realtools raises).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ruamel.yaml import YAML

import realtools
from e2e import helmrun

REPO = Path(__file__).resolve().parent.parent
PLUGIN_NAME = "weave-postrender"
FILENAME_ANNOTATION = "postrenderer.helm.sh/postrender-filename"
HELM4_FAILED = f'plugin "{PLUGIN_NAME}" exited with error'

BUCKET = "https://s3.us-east-1.amazonaws.com/my-bucket"
S3_ENDPOINT = BUCKET + "/$(CLICKHOUSE_REPLICA_ID)/"
CONFIG = f"""\
apiVersion: weave-postrender.dev/v1alpha1
kind: WeavePostRender
metadata: {{name: weave}}
spec:
  clusterName: weave_cluster
  s3: {{endpoint: {BUCKET}}}
  cache: {{size: 20Gi}}
"""
STORAGE_KEY = "90-weave-storage.xml"
USERS_CM = "clickhouse-weave-postrender"
USERS_KEY = "90-weave-users.xml"
USERS_MOUNT = "/bitnami/clickhouse/etc/users.d/weave-postrender"
CHECKSUM = "checksum/weave-postrender"

# chart version -> (the chart's config ConfigMap, where the chart mounts it)
CHARTS = {
    "8.0.10": ("clickhouse", "/bitnami/clickhouse/etc/conf.d/default"),
    "9.4.7": ("clickhouse-configd", "/bitnami/clickhouse/etc/config.d"),
}


def fixture_path(rel: str) -> Path:
    """A recorded fixture: the repo's ``fixtures/`` first, else the shared copy beside the repo."""
    for base in (REPO / "fixtures", REPO.parent / "shared" / "fixtures"):
        path = base / rel
        if path.is_file():
            return path
    raise FileNotFoundError(f"fixture {rel} is neither in {REPO / 'fixtures'} nor in "
                            f"{REPO.parent / 'shared' / 'fixtures'}")


def render(chart: str) -> Path:
    return fixture_path(f"rendered/clickhouse-{chart}/b-wandb-shape.yaml")


# ---------------------------------------------------------------- binaries and homes


@pytest.fixture(scope="session")
def helm3() -> Path:
    return realtools.helm3()


@pytest.fixture(scope="session")
def helm4() -> Path:
    return realtools.helm4()


@pytest.fixture(scope="session")
def tool() -> Path:
    """The ``weave-postrender`` executable of the environment running the tests (its venv)."""
    path = Path(sys.executable).parent / "weave-postrender"
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is not an executable: install the package into {sys.prefix} "
                           "(pip install -e .) before running the end-to-end tests")
    return path


@pytest.fixture(scope="session")
def plugin_dir(tool: Path) -> Path:
    """What the user is told to install: ``helm plugin install "$(weave-postrender helm-plugin path)"``."""
    proc = subprocess.run([str(tool), "helm-plugin", "path"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", (proc.returncode, proc.stdout, proc.stderr)
    path = Path(proc.stdout.rstrip("\n"))
    assert proc.stdout == f"{path}\n" and (path / "plugin.yaml").is_file(), proc.stdout
    return path


@pytest.fixture
def helm4_homes(tmp_path: Path, helm4: Path, plugin_dir: Path) -> Path:
    """Isolated Helm homes with the shipped plugin installed (install_plugin checks it is listed)."""
    homes = tmp_path / "homes4"
    helmrun.install_plugin(helm4, plugin_dir, homes)
    return homes


# The editable install puts no interpreter beside the plugin folder: tell bin/run which to use.
HELM4_ENV = {"WEAVE_POSTRENDER_PYTHON": sys.executable}


def write_config(tmp_path: Path, text: str = CONFIG, name: str = "weave.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_helm3(helm3: Path, tool: Path, chart: str, homes: Path, args: list[str],
              env: dict[str, str] | None = None) -> helmrun.HelmRun:
    return helmrun.replay(helm3, render(chart), homes, str(tool), args, env=env)


def run_helm4(helm4: Path, chart: str, homes: Path, args: list[str],
              env: dict[str, str] | None = None) -> helmrun.HelmRun:
    return helmrun.replay(helm4, render(chart), homes, PLUGIN_NAME, args, env={**HELM4_ENV, **(env or {})})


# ---------------------------------------------------------------- checks on Helm's output


def load_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in YAML(typ="safe").load_all(text) if doc is not None]


def key(doc: dict[str, Any]) -> tuple[str, str, str]:
    return doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"]


def index(docs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for doc in docs:
        assert key(doc) not in out, f"{key(doc)} twice"
        out[key(doc)] = doc
    return out


def clickhouse_statefulsets(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(StatefulSet, its `clickhouse` container) for every ClickHouse server StatefulSet."""
    for doc in docs:
        if doc["kind"] != "StatefulSet":
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            if container["name"] == "clickhouse":
                yield doc, container


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without an empty ``metadata.annotations``: Helm 4 drops one (test_helm_replay.py)."""
    if doc["metadata"].get("annotations") == {}:
        doc = {**doc, "metadata": {k: v for k, v in doc["metadata"].items() if k != "annotations"}}
    return doc


def mounted_configmap(sts: dict[str, Any], container: dict[str, Any], mount_path: str) -> dict[str, Any]:
    """The configMap volume source mounted at ``mount_path`` in ``container``."""
    mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == mount_path]
    assert len(mounts) == 1 and "subPath" not in mounts[0], f"{sts['metadata']['name']}: mounts at {mount_path}: {mounts}"
    volumes = [v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == mounts[0]["name"]]
    assert len(volumes) == 1 and "configMap" in volumes[0], f"{sts['metadata']['name']}: volume {volumes}"
    return volumes[0]["configMap"]


def assert_projects(source: dict[str, Any], data_key: str) -> None:
    """A configMap volume shows ``data_key`` as a file of that name (all keys, or an item for it)."""
    if "items" in source:
        assert {"key": data_key, "path": data_key} in source["items"], source


def check_injected(run: helmrun.HelmRun, chart: str) -> list[dict[str, Any]]:
    """Everything the tool must have done to the b-wandb-shape render of ``chart``."""
    assert run.returncode == 0, run.explain()
    why = run.explain()
    docs = load_all(run.stdout)
    out = index(docs)
    original = index(load_all(render(chart).read_text()))
    config_cm, config_mount = CHARTS[chart]

    # Every original document is still there, and the only new one is the users ConfigMap.
    missing = sorted(set(original) - set(out))
    assert not missing, f"documents lost: {missing}\n{why}"
    added = sorted(set(out) - set(original))
    assert added == [("ConfigMap", "weave", USERS_CM)], f"documents added: {added}\n{why}"
    touched = {("ConfigMap", "weave", config_cm)} | {key(sts) for sts, _ in clickhouse_statefulsets(docs)}
    changed = sorted(k for k in original if k not in touched and comparable(out[k]) != comparable(original[k]))
    assert not changed, f"documents the tool should not touch changed: {changed}\n{why}"

    # The chart's config ConfigMap: its own keys unchanged, plus parseable storage XML.
    cm_key = ("ConfigMap", "weave", config_cm)
    before, after = original[cm_key]["data"], out[cm_key]["data"]
    assert STORAGE_KEY in after, f"{STORAGE_KEY} not in ConfigMap {config_cm}: {sorted(after)}\n{why}"
    assert {k: v for k, v in after.items() if k != STORAGE_KEY} == before, why
    root = etree.fromstring(after[STORAGE_KEY].encode())
    assert root.tag == "clickhouse", after[STORAGE_KEY]
    disks = [el.tag for el in root.iterfind("storage_configuration/disks/*")]
    assert "s3_disk" in disks and "s3_disk_cache" in disks, after[STORAGE_KEY]
    assert disks.index("s3_disk") < disks.index("s3_disk_cache"), f"disk order {disks}\n{after[STORAGE_KEY]}"
    assert root.findtext("storage_configuration/disks/s3_disk_cache/disk") == "s3_disk", after[STORAGE_KEY]
    assert root.find("storage_configuration/disks/s3_disk/endpoint").get("from_env") == "S3_ENDPOINT"

    # The new ConfigMap with the users.d profile.
    users = out[("ConfigMap", "weave", USERS_CM)]
    assert list(users["data"]) == [USERS_KEY], users
    assert etree.fromstring(users["data"][USERS_KEY].encode()).tag == "clickhouse", users

    # The ClickHouse StatefulSet: env, mounts, checksum.
    found = list(clickhouse_statefulsets(docs))
    assert found, f"no StatefulSet with a clickhouse container\n{why}"
    for sts, container in found:
        name = sts["metadata"]["name"]
        env = [e["name"] for e in container["env"]]
        at = env.index("CLICKHOUSE_REPLICA_ID")
        assert env[at + 1] == "S3_ENDPOINT", f"{name}: env order {env}"
        assert env.count("S3_ENDPOINT") == 1, f"{name}: env {env}"
        assert container["env"][at + 1] == {"name": "S3_ENDPOINT", "value": S3_ENDPOINT}, container["env"][at + 1]

        config_source = mounted_configmap(sts, container, config_mount)
        assert config_source["name"] == config_cm, config_source
        assert_projects(config_source, STORAGE_KEY)
        users_source = mounted_configmap(sts, container, USERS_MOUNT)
        assert users_source["name"] == USERS_CM, users_source
        assert_projects(users_source, USERS_KEY)

        annotations = sts["spec"]["template"]["metadata"].get("annotations") or {}
        assert CHECKSUM in annotations and len(str(annotations[CHECKSUM])) == 64, f"{name}: {annotations}"
    return docs


def source_of(stdout: str, name: str) -> list[str]:
    """The leading ``# Source:`` lines of the output document whose metadata.name is ``name``."""
    for chunk in stdout.split("\n---\n"):
        if f"\n  name: {name}\n" in chunk:
            return [line for line in chunk.lstrip("-\n").splitlines() if line.startswith("# Source:")]
    raise AssertionError(f"no document named {name} in the output:\n{stdout}")


# ---------------------------------------------------------------- 1 and 2: it works


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_helm3_post_renderer(tmp_path: Path, helm3: Path, tool: Path, chart: str) -> None:
    config = write_config(tmp_path)
    run = run_helm3(helm3, tool, chart, tmp_path / "homes3", [f"--config={config}"])
    check_injected(run, chart)


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_helm4_plugin(tmp_path: Path, helm4: Path, helm4_homes: Path, chart: str) -> None:
    config = write_config(tmp_path)
    run = run_helm4(helm4, chart, helm4_homes, [f"--config={config}"])
    check_injected(run, chart)
    # Helm 4 took the new ConfigMap's postrender-filename annotation back off and made it a
    # `# Source:` line, as for every other document; none of the annotations leaks out.
    assert FILENAME_ANNOTATION not in run.stdout, run.explain()
    assert source_of(run.stdout, USERS_CM)[:1] == ["# Source: replay/templates/replay.yaml"], run.explain()


# ---------------------------------------------------------------- 3: failures reach the user


def failing_run(tmp_path: Path, helm: str, chart: str, config_text: str,
                helm3: Path, helm4: Path, tool: Path, plugin_dir: Path) -> helmrun.HelmRun:
    config = write_config(tmp_path, config_text)
    if helm == "helm3":
        run = run_helm3(helm3, tool, chart, tmp_path / "homes3", [f"--config={config}"])
    else:
        homes = tmp_path / "homes4"
        helmrun.install_plugin(helm4, plugin_dir, homes)
        run = run_helm4(helm4, chart, homes, [f"--config={config}"])
        assert HELM4_FAILED in run.stderr, run.explain()  # it was Helm 4's plugin path that failed
    assert run.returncode != 0 and run.stdout == "", run.explain()
    return run


@pytest.mark.parametrize("chart", sorted(CHARTS))
@pytest.mark.parametrize("helm", ["helm3", "helm4"])
def test_cluster_name_mismatch_fails(tmp_path: Path, helm3: Path, helm4: Path, tool: Path,
                                     plugin_dir: Path, helm: str, chart: str) -> None:
    text = CONFIG.replace("clusterName: weave_cluster", "clusterName: other_name")
    run = failing_run(tmp_path, helm, chart, text, helm3, helm4, tool, plugin_dir)
    lines = [line for line in run.stderr.splitlines() if "error[cluster-name-mismatch]" in line]
    assert len(lines) == 1, run.explain()  # exactly once: no duplicate through Helm 4's stderr
    assert "other_name" in lines[0] and "'weave_cluster'" in lines[0], run.explain()
    assert run.stderr.count("cluster-name-mismatch") == 1, run.explain()


@pytest.mark.parametrize("helm", ["helm3", "helm4"])
def test_bad_config_fails(tmp_path: Path, helm3: Path, helm4: Path, tool: Path,
                          plugin_dir: Path, helm: str) -> None:
    text = CONFIG.replace("cache: {size: 20Gi}", "cache: {size: 20GB}")
    run = failing_run(tmp_path, helm, "9.4.7", text, helm3, helm4, tool, plugin_dir)
    lines = [line for line in run.stderr.splitlines() if "spec.cache.size" in line]
    assert len(lines) == 1, run.explain()
    assert "error[config-invalid]" in lines[0] and "20GB" in lines[0], run.explain()
    assert run.stderr.count("spec.cache.size") == 1, run.explain()


# ---------------------------------------------------------------- 4: other ways to pass the config


def test_helm3_config_as_two_args(tmp_path: Path, helm3: Path, tool: Path) -> None:
    config = write_config(tmp_path)
    run = run_helm3(helm3, tool, "9.4.7", tmp_path / "homes3", ["--config", str(config)])
    check_injected(run, "9.4.7")


@pytest.mark.parametrize("helm", ["helm3", "helm4"])
def test_config_from_env(tmp_path: Path, helm3: Path, helm4: Path, tool: Path, plugin_dir: Path,
                         helm: str) -> None:
    env = {"WEAVE_POSTRENDER_CONFIG": str(write_config(tmp_path))}
    if helm == "helm3":
        run = run_helm3(helm3, tool, "8.0.10", tmp_path / "homes3", [], env=env)
    else:
        homes = tmp_path / "homes4"
        helmrun.install_plugin(helm4, plugin_dir, homes)
        run = run_helm4(helm4, "8.0.10", homes, [], env=env)
    check_injected(run, "8.0.10")


@pytest.mark.parametrize("helm", ["helm3", "helm4"])
def test_warnings_reach_the_user_on_success(tmp_path: Path, helm3: Path, helm4: Path, tool: Path,
                                            helm4_homes: Path, helm: str) -> None:
    """Helm 3 hides a successful post-renderer's stderr and Helm 4 drops it; the warning must show once."""
    config = write_config(tmp_path)
    if helm == "helm3":
        run = run_helm3(helm3, tool, "9.4.7", tmp_path / "homes3", [f"--config={config}"])
    else:
        run = run_helm4(helm4, "9.4.7", helm4_homes, [f"--config={config}"])
    assert run.returncode == 0, run.explain()
    assert run.stderr.count("warning[system-logs-removed]") == 1, run.explain()


def test_helm3_render_plus_wandb_cr(tmp_path: Path, helm3: Path, tool: Path) -> None:
    """One Helm 3 release holding ClickHouse and the W&B CR: the CR points at that release."""
    stream = tmp_path / "both.yaml"
    stream.write_text(render("8.0.10").read_text() + "---\n" + fixture_path("wandb/wandb-cr.yaml").read_text())
    run = helmrun.replay(helm3, stream, tmp_path / "homes3", str(tool), [f"--config={write_config(tmp_path)}"])
    assert run.returncode == 0, run.explain()
    cr = next(d for d in load_all(run.stdout) if d.get("kind") == "WeightsAndBiases")
    ch = cr["spec"]["values"]["global"]["clickhouse"]
    assert ch["host"] == "clickhouse-headless.weave.svc.cluster.local" and ch["replicated"] is True, ch
    assert ch["user"] == "weave_admin" and ch["passwordSecret"] == {"name": "clickhouse", "passwordKey": "admin-password"}
    assert cr["spec"]["values"]["weave-trace"]["extraEnv"]["WF_CLICKHOUSE_REPLICATED"] == "true"
    assert run.stderr.count("warning[wandb-namespace-differs]") == 1, run.explain()
