"""The fast path cannot silently regress (no timing here: see tests/benchmarks/bench.py).

Untouched documents are returned byte-identical without ever reaching the YAML
composer, and a post-render imports neither click nor lxml nor dataclasses.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import FIXTURES, REPO
from postrender import stream as stream_module
from postrender.cli import load_config
from postrender.core import process
from postrender.stream import split

RENDER = (FIXTURES / "rendered" / "clickhouse-9.4.7" / "b-wandb-shape.yaml").read_text()
UNRELATED = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\ndata:\n  k: v{i}\n"
                    "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n" for i in range(50))


def test_unrelated_documents_are_never_composed(monkeypatch: pytest.MonkeyPatch) -> None:
    composed: list[str] = []
    real = stream_module.compose

    def spy(text: str):  # type: ignore[no-untyped-def]
        composed.append(text)
        return real(text)

    monkeypatch.setattr(stream_module, "compose", spy)
    text = UNRELATED + RENDER
    out = process(text, load_config(str(REPO / "examples" / "weave.yaml"))).output
    assert out is not None
    unrelated = split(UNRELATED)
    assert not any(piece in composed for piece in unrelated)
    assert out.startswith(UNRELATED), "untouched documents must come out byte for byte"
    assert 0 < len(composed) <= 6, f"{len(composed)} documents composed"


def test_post_render_imports_stay_lean() -> None:
    code = ("import sys, runpy\n"
            "sys.argv = ['weave-postrender', '--config=" + str(REPO / "examples" / "weave.yaml") + "']\n"
            "try:\n    runpy.run_module('postrender', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "heavy = [m for m in ('click', 'lxml', 'lxml.etree', 'dataclasses', 'difflib', 'pathlib') "
            "if m in sys.modules]\n"
            "sys.stderr.write('HEAVY ' + ','.join(heavy) + '\\n')\n")
    p = subprocess.run([sys.executable, "-c", code], input=RENDER, capture_output=True, text=True, timeout=60)
    assert "S3_ENDPOINT" in p.stdout, p.stderr
    heavy = p.stderr.rsplit("HEAVY ", 1)[-1].strip()
    # pathlib may come from the interpreter's own site setup (an editable install's finder)
    assert heavy in ("", "pathlib"), heavy
