"""Every golden case: output and findings as reviewed, and a second run changes nothing."""

from __future__ import annotations

import re

import pytest

from golden import Case, cases
from postrender.cli import load_config
from postrender.core import process
from postrender.findings import InputError
from postrender.stream import split


def _run(case: Case, text: str) -> tuple[str | None, str]:
    try:
        outcome = process(text, load_config(str(case.config_path)))
    except InputError as exc:
        return None, "".join(f.text() + "\n" for f in exc.findings)
    return outcome.output, "".join(f.text() + "\n" for f in outcome.findings)


def _relative(text: str, case: Case) -> str:
    return text.replace(str(case.config_path), "config.yaml")


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_golden(case: Case, update_golden: bool) -> None:
    output, findings = _run(case, case.input_text)
    findings = _relative(findings, case)
    if update_golden:
        case.findings_path.write_text(findings, encoding="utf-8")
        if output is None:
            case.expected_path.unlink(missing_ok=True)
        else:
            case.expected_path.write_text(output, encoding="utf-8")
    assert findings == case.findings_path.read_text(encoding="utf-8"), findings
    if not case.expected_path.exists():
        assert output is None, "the case has no expected.yaml, so the run must fail"
        return
    assert output == case.expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", [c for c in cases() if c.expected_path.exists()], ids=lambda c: c.name)
def test_golden_idempotent(case: Case) -> None:
    first = case.expected_path.read_text(encoding="utf-8")
    again, findings = _run(case, first)
    assert again == first, "a second run changed the output"
    changes = ("env-injected", "file-injected", "configmap-added", "rollout-annotation", "wandb-cr-updated")
    assert not any(f"info[{rule}]" in findings for rule in changes), findings


@pytest.mark.parametrize("case", [c for c in cases() if c.expected_path.exists()], ids=lambda c: c.name)
def test_untouched_documents_are_byte_identical(case: Case) -> None:
    """Only ClickHouse StatefulSets and ConfigMaps and the W&B CR may change; the rest keep their bytes."""
    before = split(case.input_text)
    after = split(case.expected_path.read_text(encoding="utf-8"))
    kept = [p for p in before if not re.search(r"^kind: (StatefulSet|ConfigMap|WeightsAndBiases)\s*$", p, re.M)]
    remaining = iter(after)
    assert all(any(p == q for q in remaining) for p in kept), "an unrelated document changed or moved"
    assert len(after) - len(before) <= 1 + case.input_text.count("kind: StatefulSet")
