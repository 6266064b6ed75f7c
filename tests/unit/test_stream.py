"""Stream splitting is byte-exact, and the cheap test never misses a ClickHouse document."""

from __future__ import annotations

from pathlib import Path

import pytest

from postrender.stream import Stream, may_concern, split

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ALL = sorted(FIXTURES.glob("rendered/*/*.yaml")) + sorted(FIXTURES.glob("helm-stdin/*.yaml"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_split_join_is_identity(path: Path) -> None:
    text = path.read_text()
    assert "".join(split(text)) == text


@pytest.mark.parametrize("text", ["", "a: 1\n", "---\na: 1\n---\nb: 2", "# c\n---\n---\n", "a: |\n  ---x\n"])
def test_split_edge_cases(text: str) -> None:
    assert "".join(split(text)) == text


def test_separator_inside_block_scalar_is_not_a_split() -> None:
    assert len(split("a: |\n  --- not a separator\n")) == 1


def test_every_labelled_clickhouse_document_is_looked_at() -> None:
    escaped = 'kind: StatefulSet\nmetadata:\n  labels: {app.kubernetes.io/name: "click\\x68ouse"}\n'
    assert may_concern(escaped)
    assert not may_concern("kind: Deployment\nmetadata: {name: web}\n")


def test_unrelated_documents_are_never_composed() -> None:
    stream = Stream.parse("kind: Deployment\nmetadata: {name: web}\n---\n: : bad yaml [\n")
    assert stream.resources() == []
