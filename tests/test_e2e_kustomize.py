"""Real kustomize (inside kubectl 1.31 and 1.35, from PyPI wheels) running the shipped examples.

The legacy exec plugin runs as it would for a user; the container function runs through a
``docker`` stand-in on PATH that receives kustomize's ``docker run ... IMAGE`` and starts the
installed ``weave-postrender-krm`` instead of a container.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

import realtools
from conftest import FIXTURES, REPO

EXAMPLES = REPO / "kustomize"
BIN = Path(sys.executable).parent
KUBECTLS = {"kubectl-1.31": realtools.kubectl131, "kubectl-1.35": realtools.kubectl135}


def _example(tmp_path: Path, name: str, endpoint: str | None = None) -> Path:
    """A copy of an example with a real render and the W&B CR in it."""
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder)
    shutil.copy(FIXTURES / "rendered" / "clickhouse-9.4.7" / "b-wandb-shape.yaml", folder / "app" / "render.yaml")
    shutil.copy(FIXTURES / "wandb" / "wandb-cr.yaml", folder / "app" / "wandb-cr.yaml")
    if endpoint is not None:
        weave = folder / "app" / "weave.yaml"
        weave.write_text(weave.read_text().replace("https://s3.us-east-1.amazonaws.com/my-bucket", endpoint))
    return folder


def _docker_stand_in(tmp_path: Path) -> Path:
    stand_in = tmp_path / "fake-bin"
    stand_in.mkdir()
    docker = stand_in / "docker"
    docker.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/docker-calls"\nexec "{BIN}/weave-postrender-krm"\n')
    docker.chmod(0o755)
    return stand_in


def _kustomize(kubectl: Path, app: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([str(kubectl), "kustomize", "--enable-alpha-plugins", str(app)], capture_output=True,
                          text=True, env=full, timeout=120)


def _check_built(p: subprocess.CompletedProcess[str]) -> None:
    assert p.returncode == 0, p.stderr
    docs: list[dict[str, Any]] = [d for d in YAML(typ="safe").load_all(p.stdout) if d]
    sts = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "clickhouse-shard0")
    env = [e["name"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert env[env.index("CLICKHOUSE_REPLICA_ID") + 1] == "S3_ENDPOINT"
    configd = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "clickhouse-configd")
    assert "<s3_disk replace=\"replace\">" in configd["data"]["90-weave-storage.xml"]
    assert any(d["metadata"]["name"] == "clickhouse-weave-postrender" for d in docs)
    cr = next(d for d in docs if d["kind"] == "WeightsAndBiases")
    assert cr["spec"]["values"]["global"]["clickhouse"]["replicated"] is True
    assert cr["spec"]["values"]["global"]["clickhouse"]["host"] == "clickhouse-headless.weave.svc.cluster.local"


@pytest.mark.parametrize("kubectl", sorted(KUBECTLS))
def test_legacy_exec_plugin(tmp_path: Path, kubectl: str) -> None:
    folder = _example(tmp_path, "legacy-plugin")
    env = {"KUSTOMIZE_PLUGIN_HOME": str(folder / "plugins"), "PATH": f"{BIN}:{os.environ['PATH']}"}
    _check_built(_kustomize(KUBECTLS[kubectl](), folder / "app", env))


@pytest.mark.parametrize("kubectl", sorted(KUBECTLS))
def test_container_function(tmp_path: Path, kubectl: str) -> None:
    folder = _example(tmp_path, "container-function")
    env = {"PATH": f"{_docker_stand_in(tmp_path)}:{os.environ['PATH']}"}
    _check_built(_kustomize(KUBECTLS[kubectl](), folder / "app", env))
    assert "weave-postrender:0.1.0" in (tmp_path / "docker-calls").read_text()


@pytest.mark.parametrize("example", ["legacy-plugin", "container-function"])
def test_refusal_reaches_the_kustomize_user(tmp_path: Path, example: str) -> None:
    folder = _example(tmp_path, example, endpoint="https://s3.us-east-1.amazonaws.com/b&x")
    env = {"KUSTOMIZE_PLUGIN_HOME": str(folder / "plugins"),
           "PATH": f"{_docker_stand_in(tmp_path)}:{BIN}:{os.environ['PATH']}"}
    p = _kustomize(realtools.kubectl135(), folder / "app", env)
    assert p.returncode != 0 and p.stdout == "", p.stderr
    assert p.stderr.count("error[config-invalid]") == 1 and "spec.s3.endpoint" in p.stderr, p.stderr


def test_exec_function_wrapper_runs_the_captured_resource_list() -> None:
    """Standalone kustomize's --enable-exec is not installable here; its wrapper is run as kustomize would."""
    wrapper = EXAMPLES / "exec-function" / "app" / "weave-postrender-krm"
    text = (FIXTURES / "kustomize" / "krm-resourcelist-input.yaml").read_text()
    p = subprocess.run([str(wrapper)], input=text, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert p.returncode == 0 and "S3_ENDPOINT" in p.stdout, p.stderr


def test_function_config_schema_is_the_packaged_one() -> None:
    assert (EXAMPLES / "weavepostrender.schema.json").read_text() == \
        (REPO / "postrender" / "schema" / "weavepostrender.schema.json").read_text()
