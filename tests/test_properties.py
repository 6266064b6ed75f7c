"""Property-based: over generated streams and configs the tool succeeds or fails with a finding.

It never crashes, never returns partial output, and what it returns is a fixed point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from postrender.config import from_object
from postrender.core import process
from postrender.findings import InputError, has_errors
from postrender.stream import split

RENDERS = sorted(FIXTURES.glob("rendered/*/*.yaml")) + [FIXTURES / "wandb" / "wandb-cr.yaml"]
POOL = [p for path in RENDERS for p in split(path.read_text())]
NOISE = [":", "[", "]", "{", "}", "&", "<", ">", "\"", "'", "\\", "\n", "\t", "- ", "---\n", "*a", "&a ", "#", "\x85", "é"]


@st.composite
def documents(draw: st.DrawFn) -> str:
    piece = draw(st.sampled_from(POOL))
    for _ in range(draw(st.integers(0, 3))):
        lines = piece.split("\n")
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        action = draw(st.sampled_from(["drop", "dup", "noise", "truncate", "indent"]))
        if action == "drop":
            del lines[at]
        elif action == "dup":
            lines.insert(at, lines[at])
        elif action == "noise":
            col = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:col] + draw(st.sampled_from(NOISE)) + lines[at][col:]
        elif action == "indent":
            lines[at] = " " + lines[at]
        else:
            lines = lines[:at]
        piece = "\n".join(lines)
    return piece if piece.startswith("---") else "---\n" + piece


streams = st.lists(documents(), min_size=0, max_size=8).map(lambda docs: "\n".join(docs))

configs = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["weave-postrender.dev/v1alpha1"] * 9 + ["v1"]),
    "kind": st.just("WeavePostRender"),
    "spec": st.fixed_dictionaries({
        "clusterName": st.sampled_from(["weave_cluster"] * 6 + ["default"] * 3 + ["bad-name"]),
        "s3": st.fixed_dictionaries({"endpoint": st.sampled_from([
            "https://s3.us-east-1.amazonaws.com/b"] * 5 + ["http://127.0.0.1:9000/b/p"] * 4 + ["https://h/b&"])},
            optional={"credentials": st.sampled_from([
                {"source": "secret", "secretName": "s3"}, {"source": "secret"}, "environment",
                {"source": "inline", "accessKeyId": 1, "secretAccessKey": ["x"], "allowInline": True},
                {"source": "inline", "accessKeyId": "AKIA", "secretAccessKey": "s", "allowInline": True}])}),
        "cache": st.fixed_dictionaries({"size": st.sampled_from(["1Gi"] * 4 + ["4G"] * 4 + ["20GB", "100Ti"])})
        | st.sampled_from([None, "20Gi", 20, ["1Gi"]]),
    }, optional={
        "storage": st.fixed_dictionaries({}, optional={"defaultPolicy": st.sampled_from([True, False, "yes"]),
                                                        "minFreeVolumeFraction": st.sampled_from([0.1, 0, "x"])}),"wandb": st.fixed_dictionaries({}, optional={
        "release": st.sampled_from(["clickhouse", "other"]), "replicated": st.booleans()})}),
})

RUNS = {"cases": 0, "succeeded": 0}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=streams, obj=configs)
def test_succeeds_or_fails_with_a_finding_and_is_idempotent(text: str, obj: dict[str, Any]) -> None:
    RUNS["cases"] += 1
    try:
        cfg = from_object(obj)
    except InputError as exc:
        assert exc.findings and has_errors(exc.findings)
        return
    outcome = process(text, cfg)
    if outcome.output is None:
        assert has_errors(outcome.findings), "a failed run must say why"
        return
    assert not has_errors(outcome.findings)
    RUNS["succeeded"] += 1
    again = process(outcome.output, cfg)
    assert again.output == outcome.output, "a second run changed the output"


def test_generation_really_ran(tmp_path: Path) -> None:
    """Guards against a property that silently ran zero cases (e.g. under a narrowed selection)."""
    if RUNS["cases"]:
        assert RUNS["cases"] >= 100 and RUNS["succeeded"] >= 20, RUNS
