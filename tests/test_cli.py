"""The command line as a user meets it: exit codes, streams, and never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "examples" / "weave.yaml"
RENDER = REPO / "fixtures" / "rendered" / "clickhouse-9.4.7" / "b-wandb-shape.yaml"


def run(args: list[str], stdin: bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVE_POSTRENDER")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "postrender", *args], input=stdin, capture_output=True,
                          env=full_env, timeout=60)


def explain(p: subprocess.CompletedProcess[bytes]) -> str:
    return f"exit {p.returncode}\nstdout: {p.stdout[:500]!r}\nstderr: {p.stderr.decode(errors='replace')}"


@pytest.mark.parametrize("flag", [[f"--config={CONFIG}"], ["--config", str(CONFIG)]])
def test_both_flag_spellings(flag: list[str]) -> None:
    p = run(flag, RENDER.read_bytes())
    assert p.returncode == 0 and b"S3_ENDPOINT" in p.stdout, explain(p)


def test_env_names_the_config_and_relative_paths_work(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(CONFIG.read_text())
    p = subprocess.run([sys.executable, "-m", "postrender"], input=RENDER.read_bytes(), capture_output=True,
                       cwd=tmp_path, env={**os.environ, "WEAVE_POSTRENDER_CONFIG": "w.yaml"}, timeout=60)
    assert p.returncode == 0 and b"S3_ENDPOINT" in p.stdout, explain(p)


def test_empty_input_gives_empty_output() -> None:
    p = run([f"--config={CONFIG}"], b"")
    assert (p.returncode, p.stdout) == (0, b""), explain(p)


@pytest.mark.parametrize("data,rule", [(b"\xff\xfe garbage", b"input-not-utf8"), (b"a: 1\x00\n", b"input-binary"),
                                       (b"kind: ConfigMap\nmetadata: {name: clickhouse\n", b"yaml-invalid")])
def test_bad_input_is_a_finding_not_a_traceback(data: bytes, rule: bytes) -> None:
    p = run([f"--config={CONFIG}"], data)
    assert p.returncode == 1 and p.stdout == b"" and rule in p.stderr, explain(p)
    assert b"Traceback" not in p.stderr


def test_missing_config_is_an_error() -> None:
    p = run([], RENDER.read_bytes())
    assert p.returncode == 1 and b"config-missing" in p.stderr, explain(p)


def test_config_errors_all_reported_nothing_on_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.read_text().replace("20Gi", "20GB").replace("weave_cluster", "weave-cluster"))
    p = run([f"--config={bad}"], RENDER.read_bytes())
    assert p.returncode == 1 and p.stdout == b"", explain(p)
    assert p.stderr.count(b"error[config-invalid]") == 2, explain(p)


def test_usage_error_exits_2() -> None:
    p = run(["--no-such-flag"], b"")
    assert p.returncode == 2, explain(p)


def test_unchanged_stream_is_the_same_bytes() -> None:
    text = b"# keep\napiVersion: v1\nkind: ConfigMap\nmetadata:   {name: x}\n"
    p = run([f"--config={CONFIG}"], text)
    assert p.returncode == 0 and p.stdout == text and b"no-clickhouse" in p.stderr, explain(p)


def test_helm_plugin_path_points_at_a_plugin() -> None:
    p = run(["helm-plugin", "path"], b"")
    assert p.returncode == 0 and (Path(p.stdout.decode().strip()) / "plugin.yaml").is_file(), explain(p)
