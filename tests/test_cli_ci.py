"""``diff``, ``check`` and ``explain`` as a CI job uses them: golden outputs and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from conftest import FIXTURES, REPO
from helpers.chmerge import merge as oracle_merge
from postrender.bitnami import find_releases
from postrender.cli import load_config
from postrender.core import process
from postrender.merge import merge_files, storage_problems
from postrender.stream import Stream

GOLDEN = FIXTURES / "golden-cli"
CONFIG = REPO / "examples" / "weave.yaml"
R8 = FIXTURES / "rendered" / "clickhouse-8.0.10" / "b-wandb-shape.yaml"
R9 = FIXTURES / "rendered" / "clickhouse-9.4.7" / "b-wandb-shape.yaml"
R9G = FIXTURES / "rendered" / "clickhouse-9.4.7" / "g-extra-config.yaml"
LEFTOVERS = FIXTURES / "golden" / "8.0.10-guide-leftovers" / "input.yaml"


def tool(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "postrender", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, cwd=REPO)


def explain(p: subprocess.CompletedProcess[str]) -> str:
    return f"exit {p.returncode}\nstdout: {p.stdout[:2000]}\nstderr: {p.stderr}"


COMMANDS = {
    "diff-8.0.10.diff": ["diff", "--config", str(CONFIG), str(R8)],
    "diff-wandb-cr.diff": ["diff", "--config", str(FIXTURES / "golden" / "wandb-cr-alone" / "config.yaml"),
                           str(FIXTURES / "golden" / "wandb-conflicting" / "cr.yaml")],
    "explain-8.0.10-pod.xml": ["explain", "--config", str(CONFIG), "--pod", "clickhouse-shard0-1", str(R8)],
    "explain-9.4.7-extra-config.xml": ["explain", "--config", str(CONFIG), str(R9G)],
    "explain-9.4.7.json": ["explain", "--config", str(CONFIG), "--json", str(R9)],
    "explain-8.0.10-guide-leftovers.xml": ["explain", "--config", str(CONFIG), str(LEFTOVERS)],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_output_is_golden(name: str, update_golden: bool) -> None:
    p = tool(*COMMANDS[name])
    assert p.returncode == 0, explain(p)
    text = p.stdout.replace(str(FIXTURES), "fixtures")
    if update_golden:
        (GOLDEN / name).write_text(text)
    assert text == (GOLDEN / name).read_text()


def test_diff_of_tool_output_is_empty() -> None:
    out = process(R8.read_text(), load_config(str(CONFIG))).output
    p = tool("diff", "--config", str(CONFIG), stdin=out or "")
    assert (p.returncode, p.stdout) == (0, ""), explain(p)


def test_diff_masks_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "inline.yaml"
    cfg.write_text(CONFIG.read_text().replace("    endpoint:", "    credentials: {source: inline, accessKeyId: "
                                               "AKIAEXAMPLEKEYID, secretAccessKey: sUp3rS3cr3tValue, "
                                               "allowInline: true}\n    endpoint:"))
    stream = R8.read_text().replace('admin-password: "d2VhdmVfMTIz"', 'admin-password: "c2VjcmV0dmFsdWU="')
    p = tool("diff", "--config", str(cfg), stdin=stream)
    assert p.returncode == 0 and "S3_SECRET_ACCESS_KEY" in p.stdout, explain(p)
    for secret in ("sUp3rS3cr3tValue", "AKIAEXAMPLEKEYID", "c2VjcmV0dmFsdWU="):
        assert secret not in p.stdout and secret not in p.stderr, explain(p)
    assert "value: ***" in p.stdout


def test_check_pass_fail_update(tmp_path: Path) -> None:
    golden = tmp_path / "golden.yaml"
    p = tool("check", "--config", str(CONFIG), "--golden", str(golden), str(R9))
    assert p.returncode == 1 and "does not exist" in p.stderr, explain(p)
    p = tool("check", "--config", str(CONFIG), "--golden", str(golden), "--update", str(R9))
    assert p.returncode == 0 and "updated" in p.stderr and golden.exists(), explain(p)
    p = tool("check", "--config", str(CONFIG), "--golden", str(golden), str(R9))
    assert (p.returncode, p.stdout) == (0, ""), explain(p)
    golden.write_text(golden.read_text().replace("size: 20Gi", "size: 10Gi").replace("20Gi</max_size>", "10Gi</max_size>"))
    p = tool("check", "--config", str(CONFIG), "--golden", str(golden), str(R9))
    assert p.returncode == 1 and "--- expected: ConfigMap weave/clickhouse-configd" in p.stdout, explain(p)
    lines = p.stdout.splitlines()
    assert any(x.startswith("-") and "<max_size>10Gi</max_size>" in x for x in lines), explain(p)
    assert any(x.startswith("+") and "<max_size>20Gi</max_size>" in x for x in lines), explain(p)


def test_check_with_a_golden_folder(tmp_path: Path) -> None:
    folder = tmp_path / "golden"
    folder.mkdir()
    p = tool("check", "--config", str(CONFIG), "--golden", str(folder), "--update", str(R8))
    assert p.returncode == 0 and (folder / R8.name).exists(), explain(p)
    p = tool("check", "--config", str(CONFIG), "--golden", str(folder), str(R8))
    assert p.returncode == 0, explain(p)


def test_check_reports_tool_errors() -> None:
    p = tool("check", "--config", str(CONFIG), "--golden", "x.yaml", str(FIXTURES / "rendered" / "clickhouse-9.4.7" /
                                                                       "a-defaults.yaml"))
    assert p.returncode == 1 and "cluster-name-mismatch" in p.stderr and p.stdout == "", explain(p)


def _canonical(root: etree._Element) -> str:
    for comment in root.xpath("//comment()"):
        comment.getparent().remove(comment)
    for el in root.iter():
        if isinstance(el.tag, str) and el.text is not None and not el.text.strip():
            el.text = None
        el.tail = None
    return etree.tostring(root, encoding="unicode")


@pytest.mark.parametrize("render", [R8, R9, R9G, LEFTOVERS], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_explain_merge_agrees_with_the_independent_oracle(render: Path) -> None:
    out = process(render.read_text(), load_config(str(CONFIG))).output
    release = find_releases(Stream.parse(out or ""))[0]
    files = {f.server_path: f.content for f in release.files(release.shards[0])[0] if "/users.d/" not in f.server_path}
    ours = merge_files(files)
    theirs = oracle_merge("<clickhouse></clickhouse>", list(files.items()))
    assert ours.problems == [] and storage_problems(ours.root) == []
    assert _canonical(ours.root) == _canonical(theirs)


@pytest.mark.parametrize("files,message", [
    ({"/e/conf.d/a.xml": "<clickhouse><storage_configuration><disks><c><type>cache</type><disk>s3</disk></c>"
                         "</disks></storage_configuration></clickhouse>",
      "/e/conf.d/b.xml": "<clickhouse><storage_configuration><disks><s3><type>s3</type></s3></disks>"
                         "</storage_configuration></clickhouse>"}, "Cannot wrap disk `s3` with cache layer `c`"),
    ({"/e/config.d/a.xml": "<clickhouse><storage_configuration><policies><p><volumes><v><disk>nope</disk></v>"
                           "</volumes></p></policies></storage_configuration></clickhouse>"}, "Unknown disk nope."),
    ({"/e/config.d/a.xml": "<clickhouse><merge_tree><storage_policy>s3_mian</storage_policy></merge_tree></clickhouse>"},
     "Unknown storage policy `s3_mian`."),
    ({"/e/config.d/a.xml": "<clickhouse><listen_host>::</listen_host><listen_host>0.0.0.0</listen_host></clickhouse>",
      "/e/config.d/b.xml": "<clickhouse><listen_host>127.0.0.1</listen_host></clickhouse>"},
     "repeated siblings do not accumulate across files"),
])
def test_merged_config_problems_in_clickhouse_words(files: dict[str, str], message: str) -> None:
    merged = merge_files(files)
    assert any(message in p for p in merged.problems + storage_problems(merged.root))


def test_explain_json_shows_the_storage_and_sources() -> None:
    p = tool("explain", "--config", str(CONFIG), "--json", "--pod", "clickhouse-shard0-2", str(R9))
    data = json.loads(p.stdout)[0]
    assert data["config"]["storage_configuration"]["disks"]["s3_disk"]["endpoint"]["#text"] == \
        "https://s3.us-east-1.amazonaws.com/my-bucket/clickhouse-shard0-2/"
    assert data["sources"]["storage_configuration"] == ["config.d/90-weave-storage.xml"]
    assert data["config"]["merge_tree"]["storage_policy"] == "s3_main"
