"""Run real Helm over a recorded render, with a post-renderer, in an isolated Helm home.

The recorded streams under fixtures are what `helm template` of the Bitnami chart printed. To see
what a post-renderer receives from real Helm 3 and Helm 4 (and what Helm does with its output)
without the chart or a cluster, ``replay-chart`` beside this file is a chart whose only template
emits ``files/input.yaml`` verbatim; ``replay`` copies it, drops the stream in and runs Helm.

Helm reads plugins, repositories and caches from the user's home; every run here points all of
``HELM_*`` at folders under a given ``homes`` path and drops any other ``HELM_*`` variable (a stray
``HELM_PLUGINS`` would hide the installed plugin, ``HELM_NAMESPACE`` would change the render).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

REPLAY_CHART = Path(__file__).resolve().parent / "replay-chart"


class HelmRun(NamedTuple):
    """What one Helm process did; a plain tuple (returncode, stdout, stderr) too."""

    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        """All of it, for an assertion message."""
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def helm_env(homes: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment with Helm's data, config and cache homes under ``homes``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
    for kind in ("data", "config", "cache"):
        path = homes / kind
        path.mkdir(parents=True, exist_ok=True)
        env[f"HELM_{kind.upper()}_HOME"] = str(path)
    env.update(extra or {})
    return env


def run_helm(helm: Path, args: Sequence[str], homes: Path,
             env: Mapping[str, str] | None = None) -> HelmRun:
    """Run ``helm args`` with its homes under ``homes``."""
    return _run([str(helm), *args], helm_env(homes, env))


def install_plugin(helm: Path, plugin_dir: Path, homes: Path) -> None:
    """Install a Helm 4 plugin folder into ``homes`` (Helm links it, so edits show at once).

    A plugin.yaml Helm 4 cannot parse stays linked in ("installed but unusable") and is later
    merely "not found"; so the plugin must also be listed, by the name its plugin.yaml gives.
    """
    done = run_helm(helm, ["plugin", "install", str(plugin_dir)], homes)
    listed = run_helm(helm, ["plugin", "list"], homes)
    name = _plugin_name(plugin_dir / "plugin.yaml")
    names = [line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()]
    if done.returncode != 0 or listed.returncode != 0 or name not in names:
        raise RuntimeError(f"installing Helm plugin {plugin_dir} ({name!r}) failed:\n"
                           f"{done.explain()}\n{listed.explain()}")


def make_plugin(folder: Path, name: str, script: str) -> Path:
    """Write a throwaway Helm 4 post-renderer plugin whose command is ``script`` (a sh script).

    The same plugin.yaml shape as the shipped plugin, so a stand-in behaves like the real one.
    """
    (folder / "bin").mkdir(parents=True)
    (folder / "plugin.yaml").write_text(
        "apiVersion: v1\ntype: postrenderer/v1\n"
        f"name: {name}\nversion: 0.1.0\nruntime: subprocess\n"
        "runtimeConfig:\n  platformCommand:\n"
        '    - command: "${HELM_PLUGIN_DIR}/bin/run"\n      args: []\n')
    run = folder / "bin" / "run"
    run.write_text("#!/bin/sh\n" + script)
    run.chmod(0o755)
    return folder


def replay(
    helm: Path,
    stream: Path,
    homes: Path,
    post_renderer: str,
    post_renderer_args: Sequence[str] = (),
    release: str = "clickhouse",
    namespace: str = "weave",
    env: Mapping[str, str] | None = None,
) -> HelmRun:
    """`helm template` the replay chart with ``stream`` as its output, through ``post_renderer``.

    ``post_renderer`` is an executable for Helm 3 and an installed plugin's name for Helm 4.
    Defaults match the fixtures' release and namespace. ``env`` adds variables to Helm's (and so
    the post-renderer's) environment.
    """
    with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
        chart = Path(tmp) / "replay"
        shutil.copytree(REPLAY_CHART, chart)
        (chart / "files").mkdir(exist_ok=True)
        shutil.copyfile(stream, chart / "files" / "input.yaml")
        cmd = [str(helm), "template", release, str(chart), "--namespace", namespace,
               "--post-renderer", post_renderer]
        for arg in post_renderer_args:
            cmd += ["--post-renderer-args", arg]
        return _run(cmd, helm_env(homes, env))


def _run(cmd: list[str], env: Mapping[str, str]) -> HelmRun:
    # stdin closed: Helm must not wait on a terminal; pipes, as CI and the user's wrappers see it.
    proc = subprocess.run(cmd, env=dict(env), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)
    return HelmRun(proc.returncode, proc.stdout, proc.stderr)


def _plugin_name(plugin_yaml: Path) -> str:
    # The one line we need; no YAML library, so this module has no dependencies.
    for line in plugin_yaml.read_text().splitlines():
        if line.startswith("name:"):
            return line.split(":", 1)[1].strip().strip("\"'")
    raise RuntimeError(f"{plugin_yaml} has no top-level name")
