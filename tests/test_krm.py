"""The KRM entry point: the same golden cases as the Helm stream, so the two cannot drift."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from conftest import FIXTURES
from golden import Case, cases
from postrender.core import process_resource_list
from postrender.findings import Finding, ResourceRef, Severity

KRM_GOLDEN = FIXTURES / "golden-krm"


def _resource_list(case: Case) -> str:
    """The case's input as kustomize would hand it over: items plus the config as functionConfig."""
    rt = YAML()
    docs = [d for d in rt.load_all(case.input_text) if d is not None]
    rl = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": docs,
          "functionConfig": rt.load(case.config_path.read_text())}
    out = io.StringIO()
    rt.dump(rl, out)
    return out.getvalue()


def _key(doc: dict[str, Any]) -> tuple[str, str, str]:
    meta = doc.get("metadata") or {}
    return (doc.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))



def _finding(result: dict[str, Any]) -> str:
    ref = result.get("resourceRef")
    return Finding(result["tags"]["rule"], Severity(result["severity"]), result["message"],
                   ResourceRef(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace", ""))
                   if ref else None, (result.get("field") or {}).get("path")).text()


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_golden_case_through_the_resource_list(case: Case) -> None:
    output, _ = process_resource_list(_resource_list(case))
    assert output is not None
    rl = YAML(typ="safe").load(output)
    got = [_finding(r) + "\n" for r in rl.get("results") or []]
    want = case.findings_path.read_text().replace("config.yaml:", "functionConfig:").splitlines(keepends=True)
    assert got == want
    if not case.expected_path.exists():
        original = YAML(typ="safe").load(_resource_list(case))["items"]
        assert rl["items"] == original, "on error the items must come back unchanged"
        return
    expected = {_key(d): d for d in YAML(typ="safe").load_all(case.expected_path.read_text()) if d}
    assert {_key(d): d for d in rl["items"]} == expected


@pytest.mark.parametrize("folder", sorted(p for p in KRM_GOLDEN.iterdir() if p.is_dir()), ids=lambda p: p.name)
def test_captured_resource_list(folder: Path, update_golden: bool) -> None:
    """kustomize's own ResourceList (annotations, sorted keys): byte-exact golden, and idempotent."""
    output, _ = process_resource_list((folder / "input.yaml").read_text())
    assert output is not None
    if update_golden:
        (folder / "expected.yaml").write_text(output)
    assert output == (folder / "expected.yaml").read_text()
    for annotation in ("config.kubernetes.io/index", "internal.config.kubernetes.io/id", "kustomize.config.k8s.io/id"):
        assert output.count(annotation) == (folder / "input.yaml").read_text().count(annotation)
    again, findings = process_resource_list(output)
    assert again == output and not [f for f in findings if f.severity is not Severity.INFO]


def _krm(stdin: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "weave-postrender-krm"
    return subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, timeout=60)


def test_console_script_errors_are_results_and_exit_1() -> None:
    text = (FIXTURES / "kustomize" / "krm-resourcelist-input.yaml").read_text().replace("size: 20Gi", "size: 20GB")
    p = _krm(text)
    assert p.returncode == 1, p.stderr
    rl = YAML(typ="safe").load(p.stdout)
    assert [r["severity"] for r in rl["results"]] == ["error"]
    assert "spec.cache.size" in rl["results"][0]["message"] and rl["results"][0]["tags"] == {"rule": "config-invalid"}
    assert "S3_ENDPOINT" not in p.stdout


def test_v1beta1_is_accepted_and_garbage_refused() -> None:
    text = (FIXTURES / "kustomize" / "krm-resourcelist-input.yaml").read_text()
    ok = _krm(text.replace("config.kubernetes.io/v1\nkind: ResourceList", "config.kubernetes.io/v1beta1\nkind: ResourceList"))
    assert ok.returncode == 0 and "S3_ENDPOINT" in ok.stdout, ok.stderr
    bad = _krm("apiVersion: v1\nkind: ConfigMap\n")
    assert bad.returncode == 1 and bad.stdout == "" and "not-a-resource-list" in bad.stderr
