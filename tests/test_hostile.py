"""Bad and hostile input: each a clear finding, never a traceback, nothing partial on stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO

CONFIG = REPO / "examples" / "weave.yaml"
R8 = (FIXTURES / "rendered" / "clickhouse-8.0.10" / "b-wandb-shape.yaml").read_text()
R9 = (FIXTURES / "rendered" / "clickhouse-9.4.7" / "b-wandb-shape.yaml").read_text()


def run(stdin: bytes | str, *args: str, config: Path = CONFIG) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVE_POSTRENDER")}
    return subprocess.run([sys.executable, "-m", "postrender", f"--config={config}", *args], input=data,
                          capture_output=True, env=env, timeout=120)


# VmHWM, not ru_maxrss: ru_maxrss survives exec and so may count the forking parent's pages.
_MEASURED = ("import atexit, runpy, sys\n"
             "atexit.register(lambda: sys.stderr.write('\\nMAXRSS_KIB ' + [l.split()[1] for l in "
             "open('/proc/self/status') if l.startswith('VmHWM')][0] + '\\n'))\n"
             "sys.argv = ['weave-postrender'] + sys.argv[1:]\n"
             "runpy.run_module('postrender', run_name='__main__')\n")


def peak_rss(stdin: str) -> tuple[subprocess.CompletedProcess[bytes], int]:
    """Run the tool and return its own peak RSS in bytes (not that of other test processes)."""
    p = subprocess.run([sys.executable, "-c", _MEASURED, f"--config={CONFIG}"], input=stdin.encode(),
                       capture_output=True, timeout=120)
    line = p.stderr.decode().rsplit("MAXRSS_KIB ", 1)[-1]
    return p, int(line.split()[0]) * 1024


def refused(p: subprocess.CompletedProcess[bytes], rule: str, *words: str) -> None:
    err = p.stderr.decode(errors="replace")
    detail = f"exit {p.returncode}\nstdout: {p.stdout[:300]!r}\nstderr: {err}"
    assert p.returncode == 1 and p.stdout == b"", detail
    assert f"error[{rule}]" in err and all(w in err for w in words), detail
    assert "Traceback" not in err and "internal" not in err, detail


def config_with(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "weave.yaml"
    path.write_text(CONFIG.read_text().replace(old, new))
    return path


def test_invalid_yaml_in_a_clickhouse_document_names_document_and_line() -> None:
    broken = R9.replace("  serviceName: clickhouse-headless\n", "  serviceName: [clickhouse-headless\n", 1)
    refused(run(broken), "yaml-invalid", "document 14 (StatefulSet weave/clickhouse-shard0)", "line 28")


def test_invalid_yaml_in_an_unrelated_document_passes_through() -> None:
    p = run("kind: Deployment\nspec: {a: [\n---\n" + R9)
    assert p.returncode == 0 and p.stdout.startswith(b"kind: Deployment\nspec: {a: [\n"), p.stderr


@pytest.mark.parametrize("data,rule", [(bytes(range(256)) * 4, "input-not-utf8"), (b"\x00\x01\x02binary", "input-binary"),
                                       ("clickhouse: caf\u00e9".encode("latin-1"), "input-not-utf8")])
def test_binary_and_non_utf8(data: bytes, rule: str) -> None:
    refused(run(data), rule)


def test_malformed_xml_names_configmap_key_and_line() -> None:
    broken = R8.replace("<listen_try>1</listen_try>", "<listen_try>1</listen_try", 1)
    refused(run(broken), "xml-invalid", "ConfigMap weave/clickhouse", "00_default_overrides.xml", "line")


def test_xml_entities_are_refused_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = f'<?xml version="1.0"?>\\n    <!DOCTYPE c [<!ENTITY x SYSTEM "file://{secret}">]>\\n    <clickhouse>'
    broken = R8.replace("    <clickhouse>\n      <!-- Macros -->", f"    {xxe}\n      <!-- Macros -->".replace("\\n", "\n"), 1)
    p = run(broken)
    refused(p, "xml-invalid", "DOCTYPE")
    assert b"TOPSECRET" not in p.stderr


def test_yaml_alias_bomb_is_bounded() -> None:
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]"
             for i in range(1, 12)]
    doc = "kind: StatefulSet\nmetadata:\n  name: clickhouse-shard0\n  labels: {app.kubernetes.io/name: clickhouse}\n" \
          "spec:\n  template:\n    spec:\n      containers:\n        - name: clickhouse\n          env: *a11\n" \
          "bombs:\n" + "\n".join("  " + b for b in bomb) + "\n"
    p, peak = peak_rss(doc.replace("env: *a11", "env:\n            - {name: CLICKHOUSE_REPLICA_ID, value: x}\n"
                                               "            - *a11"))
    assert p.returncode in (0, 1) and b"Traceback" not in p.stderr and b"internal" not in p.stderr, p.stderr
    assert peak < 200 * 2**20, f"peak RSS {peak / 2**20:.0f} MiB"  # 10**11 list items, had they been expanded


@pytest.mark.parametrize("doc,shape", [("- StatefulSet clickhouse\n- a list\n", "a list"), ("StatefulSet clickhouse scalar\n", "a scalar")])
def test_a_list_or_scalar_document_is_reported_and_kept(doc: str, shape: str) -> None:
    p = run("---\n" + doc + R9)
    assert p.returncode == 0 and p.stdout.startswith(("---\n" + doc).encode()), p.stderr
    assert f"is {shape}, not a Kubernetes resource".encode() in p.stderr


@pytest.mark.parametrize("old,new,words", [
    ("spec:\n", "spec:\n  clusterNmae: x\n", ["did you mean 'clusterName'"]),
    ("size: 20Gi", "size: 20GB", ["spec.cache.size"]), ("size: 20Gi", "size: \"0\"", ["spec.cache.size"]),
    ("size: 20Gi", "size: \"-1\"", ["spec.cache.size"]),
    ("clusterName: weave_cluster", "clusterName: weave-cluster", ["spec.clusterName", "hyphens"]),
    ("my-bucket", "my-bucket&x=1", ["'&' or '<'"]), ("my-bucket", "my-bucket<x", ["'&' or '<'"]),
    ("https://s3.us-east-1.amazonaws.com/my-bucket", "s3://my-bucket", ["http(s) URL"]),
    ("https://s3.us-east-1.amazonaws.com/my-bucket", "http://127.0.0.1:9000/", ["names no bucket"]),
    ("my-bucket", "my-bucket/$(CLICKHOUSE_REPLICA_ID)", ["must not contain '$'"]),
])
def test_config_refusals(tmp_path: Path, old: str, new: str, words: list[str]) -> None:
    refused(run(R9, config=config_with(tmp_path, old, new)), "config-invalid", *words)


def test_config_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("- just\n- a list\n")
    refused(run(R9, config=path), "config-invalid", "must be a mapping")


def test_cache_larger_than_the_volume(tmp_path: Path) -> None:
    refused(run(R9, config=config_with(tmp_path, "size: 20Gi", "size: 40Gi")), "cache-exceeds-volume", "30G")


def test_no_clickhouse_is_unchanged_with_a_warning() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    p = run(text)
    assert (p.returncode, p.stdout) == (0, text.encode()) and b"warning[no-clickhouse]" in p.stderr


def test_duplicate_documents_are_refused() -> None:
    sts = R9[R9.index("# Source: clickhouse/templates/statefulset.yaml"):]
    refused(run(R9 + "---\n" + sts), "duplicate-resource", "StatefulSet weave/clickhouse-shard0")


def test_huge_stream_has_bounded_memory() -> None:
    filler = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: filler-{i}\ndata:\n  k: {'v' * 3000}\n"
                     for i in range(4000))  # about 12 MB of documents that cannot concern the tool
    p, peak = peak_rss(R9 + filler)
    assert p.returncode == 0 and len(p.stdout) > len(filler), p.stderr[-500:]
    assert peak < 2 * len(filler) + 120 * 2**20, f"peak RSS {peak / 2**20:.0f} MiB for {len(filler) / 2**20:.0f} MiB"
