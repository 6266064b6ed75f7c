"""What real Helm 3 and Helm 4 do around a post-renderer, measured through the replay harness.

These pin the facts the tool is built on (DESIGN section 5) and prove the harness replays a stream
faithfully: if one fails, either Helm changed or the harness did, and the end-to-end tests that
rely on it would be misleading.
"""

from __future__ import annotations

from pathlib import Path

import realtools
from e2e import helmrun

# Out of install order, an empty `annotations`, an XML line with trailing spaces, an indented list.
STREAM = """\
---
# Source: clickhouse/templates/statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  ports:
    - port: 1
---
# Source: clickhouse/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  annotations:
    {}
data:
  a.xml: |
    <clickhouse>\x20\x20\x20
    </clickhouse>
"""  # \x20: trailing spaces that survive editors

STS, CM = STREAM.split("---\n")[1:]
REPLAY_SOURCE = "# Source: replay/templates/replay.yaml\n"

# Helm 3 passes the text through, sorted by kind, each document headed by the replay chart's own
# `# Source:` line; what the post-renderer prints is Helm's output, untouched.
HELM3_OUT = f"---\n{REPLAY_SOURCE}{CM}---\n{REPLAY_SOURCE}{STS}"

# Helm 4 re-serialises (list indent, quoting of lines with trailing spaces), keeps comments and
# input order, and adds the file-name annotation; no leading `---`.
ANNOTATION = "  annotations:\n    postrenderer.helm.sh/postrender-filename: 'replay/templates/replay.yaml'\n"
HELM4_STS = STS.replace("    - port: 1\n", "  - port: 1\n")
HELM4_CM_DATA = 'data:\n  a.xml: "<clickhouse>   \\n</clickhouse>\\n"\n'
HELM4_IN = (
    HELM4_STS.replace("spec:\n", ANNOTATION + "spec:\n")
    + "---\n"
    + CM.split("  annotations:")[0] + ANNOTATION + HELM4_CM_DATA
)
# ...and on the way out it drops the annotation (and with it the emptied `annotations`), turns it
# back into a `# Source:` line and sorts by kind.
HELM4_OUT = (
    f"---\n{REPLAY_SOURCE}" + CM.split("  annotations:")[0] + HELM4_CM_DATA
    + f"---\n{REPLAY_SOURCE}" + HELM4_STS
)


def _stream(tmp_path: Path) -> Path:
    path = tmp_path / "stream.yaml"
    path.write_text(STREAM)
    return path


def test_helm3_passes_template_text_sorted_by_kind(tmp_path: Path) -> None:
    run = helmrun.replay(realtools.helm3(), _stream(tmp_path), tmp_path / "homes", "cat")
    assert (run.returncode, run.stdout, run.stderr) == (0, HELM3_OUT, ""), run.explain()


def test_helm4_reserialises_annotates_and_restores(tmp_path: Path) -> None:
    homes, seen = tmp_path / "homes", tmp_path / "seen.yaml"
    plugin = helmrun.make_plugin(tmp_path / "catplugin", "cat", 'exec tee "$SEEN"\n')
    helmrun.install_plugin(realtools.helm4(), plugin, homes)
    run = helmrun.replay(realtools.helm4(), _stream(tmp_path), homes, "cat", env={"SEEN": str(seen)})
    assert (run.returncode, run.stdout, run.stderr) == (0, HELM4_OUT, ""), run.explain()
    assert seen.read_text() == HELM4_IN


def test_post_renderer_args_and_env(tmp_path: Path) -> None:
    """Helm 4 gives the plugin its args but no release name or namespace (DESIGN section 5)."""
    homes = tmp_path / "homes"
    script = 'printf "%s|" "$@" "${HELM_NAMESPACE-unset}" >>"/proc/$PPID/fd/2"\nexec cat\n'
    helmrun.install_plugin(realtools.helm4(), helmrun.make_plugin(tmp_path / "p", "args", script), homes)
    run = helmrun.replay(realtools.helm4(), _stream(tmp_path), homes, "args",
                         post_renderer_args=["--config=w.yaml", "a b"], namespace="other")
    assert run.returncode == 0 and run.stderr == "--config=w.yaml|a b|unset|", run.explain()
