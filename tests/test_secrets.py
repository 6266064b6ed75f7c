"""No credential value from a Secret or the config reaches stderr, findings, diff, explain or results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, REPO

KEY_ID, SECRET_KEY, PASSWORD = "AKIAWEAVEKEYID12345", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY", "Sup3rS3cretPassw0rd"
SECRETS = (KEY_ID, SECRET_KEY, PASSWORD, "U3VwM3JTM2NyZXRQYXNzdzByZA==")
CONFIG = f"""apiVersion: weave-postrender.dev/v1alpha1
kind: WeavePostRender
metadata: {{name: weave}}
spec:
  s3:
    endpoint: https://s3.us-east-1.amazonaws.com/my-bucket
    credentials: {{source: inline, accessKeyId: {KEY_ID}, secretAccessKey: "{SECRET_KEY}", allowInline: true}}
"""


def _stream() -> str:
    text = (FIXTURES / "golden" / "8.0.10-guide-leftovers" / "input.yaml").read_text()
    text = text.replace("<access_key_id>xxx</access_key_id>", f"<access_key_id>{KEY_ID}</access_key_id>")
    text = text.replace("<secret_access_key>xxx</secret_access_key>", f"<secret_access_key>{SECRET_KEY}</secret_access_key>")
    text = text.replace('admin-password: "d2VhdmVfMTIz"', 'admin-password: "U3VwM3JTM2NyZXRQYXNzdzByZA=="')
    cr = (FIXTURES / "wandb" / "wandb-cr.yaml").read_text().replace(
        "      mysql:", f"      clickhouse:\n        password: {PASSWORD}\n      mysql:")
    return text + "---\n" + cr


def tool(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "postrender", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def _clean(*texts: str) -> None:
    for text in texts:
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"leaked {leaked} in:\n{text[:3000]}"


def test_no_secret_in_any_report(tmp_path: Path) -> None:
    cfg = tmp_path / "weave.yaml"
    cfg.write_text(CONFIG)
    stream = _stream()
    run = tool(f"--config={cfg}", "-v", stdin=stream)
    assert run.returncode == 0, run.stderr
    assert "warning[inline-credentials]" in run.stderr and "warning[wandb-plaintext-password]" in run.stderr
    assert SECRET_KEY in run.stdout  # the opted-in inline credential is the output's job, nowhere else
    _clean(run.stderr)
    for args in (["diff"], ["explain"], ["explain", "--json", "--pod", "clickhouse-shard0-0"]):
        p = tool(*args, f"--config={cfg}", stdin=stream)
        assert p.returncode == 0 and p.stdout, p.stderr
        _clean(p.stdout, p.stderr)
    golden = tmp_path / "golden.yaml"
    golden.write_text(stream)
    p = tool("check", f"--config={cfg}", f"--golden={golden}", stdin=stream)
    assert p.returncode == 1 and "+++ actual" in p.stdout, p.stderr
    _clean(p.stdout, p.stderr)


def test_no_secret_in_krm_results() -> None:
    rl = (FIXTURES / "kustomize" / "krm-resourcelist-input.yaml").read_text().replace(
        "      endpoint: https://s3.us-east-1.amazonaws.com/my-weave-bucket",
        "      endpoint: https://s3.us-east-1.amazonaws.com/my-weave-bucket\n      credentials: {source: inline, "
        f"accessKeyId: {KEY_ID}, secretAccessKey: \"{SECRET_KEY}\", allowInline: true}}")
    p = tool("krm", stdin=rl)
    assert p.returncode == 0 and "inline-credentials" in p.stdout, p.stderr
    results = p.stdout[p.stdout.index("\nresults:"):]
    _clean(results, p.stderr)


def test_config_errors_never_echo_credentials(tmp_path: Path) -> None:
    cfg = tmp_path / "weave.yaml"
    cfg.write_text(CONFIG.replace(f'secretAccessKey: "{SECRET_KEY}"', f"secretAccessKey: [{SECRET_KEY}]")
                   .replace("https://s3.", f"https://{KEY_ID}:{PASSWORD}@s3."))
    p = tool(f"--config={cfg}", stdin="")
    p = tool(f"--config={cfg}", stdin=(FIXTURES / "rendered" / "clickhouse-9.4.7" / "b-wandb-shape.yaml").read_text())
    assert p.returncode == 1 and "spec.s3.credentials.secretAccessKey" in p.stderr and "user:password@" in p.stderr
    _clean(p.stdout, p.stderr)
