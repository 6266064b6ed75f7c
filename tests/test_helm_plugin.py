"""The shipped Helm 4 plugin (postrender/helm/weave-postrender) under real Helm 4.1.4.

Helm 4 parses plugin.yaml strictly and throws away a plugin's stderr, so both the file and the
way bin/run finds Python and reports errors are proven here with the real binary. The tool
itself is stood in for by small scripts: these tests concern only the plugin's own parts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import realtools
from e2e import helmrun

PLUGIN = Path(__file__).resolve().parent.parent / "postrender" / "helm" / "weave-postrender"
HELM_FAILED = 'plugin "weave-postrender" exited with error'
STREAM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
# Stands in for an interpreter: shows how it was called, then passes the stream through.
STUB_PYTHON = '#!/bin/sh\necho "stub $0: $* plugin=$WEAVE_POSTRENDER_HELM_PLUGIN" >&2\nexec cat\n'


def _stream(tmp_path: Path) -> Path:
    path = tmp_path / "stream.yaml"
    path.write_text(STREAM)
    return path


def _stub(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STUB_PYTHON)
    path.chmod(0o755)
    return path


def _installed_copy(tmp_path: Path, site_packages: Path) -> Path:
    """Install a copy of the plugin as it lies in an installed package, return Helm's homes."""
    shutil.copytree(PLUGIN, site_packages / "postrender" / "helm" / "weave-postrender")
    homes = tmp_path / "homes"
    helmrun.install_plugin(realtools.helm4(), site_packages / "postrender" / "helm" / "weave-postrender", homes)
    return homes


def test_plugin_yaml_passes_helm4_strict_parser(tmp_path: Path) -> None:
    homes = tmp_path / "homes"
    helmrun.install_plugin(realtools.helm4(), PLUGIN, homes)
    listed = helmrun.run_helm(realtools.helm4(), ["plugin", "list"], homes)
    assert listed.stdout.splitlines()[1].split()[:4] == [
        "weave-postrender", "0.1.0", "postrenderer/v1", "v1"], listed.explain()


@pytest.mark.parametrize("interpreter", ["python3.11", "python3"])
def test_run_finds_python_of_its_prefix(tmp_path: Path, interpreter: str) -> None:
    prefix = tmp_path / "venv"
    stub = _stub(prefix / "bin" / interpreter)
    homes = _installed_copy(tmp_path, prefix / "lib" / "python3.11" / "site-packages")
    run = helmrun.replay(realtools.helm4(), _stream(tmp_path), homes, "weave-postrender",
                         post_renderer_args=["--config=w.yaml"])
    assert run.returncode == 0, run.explain()
    assert run.stderr == f"stub {stub}: -m postrender --config=w.yaml plugin=1\n", run.explain()
    assert "name: cfg" in run.stdout, run.explain()


def test_override_wins(tmp_path: Path) -> None:
    stub = _stub(tmp_path / "elsewhere" / "python")
    _stub(tmp_path / "venv" / "bin" / "python3.11")
    homes = _installed_copy(tmp_path, tmp_path / "venv" / "lib" / "python3.11" / "site-packages")
    run = helmrun.replay(realtools.helm4(), _stream(tmp_path), homes, "weave-postrender",
                         env={"WEAVE_POSTRENDER_PYTHON": str(stub)})
    assert run.returncode == 0 and run.stderr == f"stub {stub}: -m postrender plugin=1\n", run.explain()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PATH": "/usr/bin:/bin"}, "weave-postrender: the Helm plugin in "),
        ({"WEAVE_POSTRENDER_PYTHON": "/nonexistent/python"},
         "weave-postrender: WEAVE_POSTRENDER_PYTHON=/nonexistent/python is not an executable\n"),
    ],
    ids=["no-python-found", "bad-override"],
)
def test_failure_reaches_helm_stderr(tmp_path: Path, env: dict[str, str], message: str) -> None:
    homes = _installed_copy(tmp_path, tmp_path / "not-site-packages")
    run = helmrun.replay(realtools.helm4(), _stream(tmp_path), homes, "weave-postrender", env=env)
    assert run.returncode == 1 and run.stderr.startswith(message), run.explain()
    assert HELM_FAILED in run.stderr, run.explain()


def test_helm4_drops_plugin_stderr_but_not_its_own(tmp_path: Path) -> None:
    """Why bin/run sends everything to /proc/$PPID/fd/2: plain stderr never reaches the user."""
    script = 'echo "lost: reason" >&2\necho "boom: reason" >>"/proc/$PPID/fd/2"\nexit 1\n'
    homes = tmp_path / "homes"
    helmrun.install_plugin(realtools.helm4(), helmrun.make_plugin(tmp_path / "p", "boom", script), homes)
    run = helmrun.replay(realtools.helm4(), _stream(tmp_path), homes, "boom")
    assert run.returncode == 1, run.explain()
    assert run.stderr.startswith("boom: reason\nError: ") and "lost" not in run.stderr, run.explain()
