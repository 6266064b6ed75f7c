"""Golden cases as folders under ``fixtures/golden/<case>/``.

Each case has ``config.yaml``, an input (``input.yaml`` or ``case.yaml`` listing
fixture files, relative to ``fixtures/``, that are concatenated), and the reviewed
expectations: ``expected.yaml`` (the output; absent when the run must fail) and
``findings.txt`` (every finding, info included, one per line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from conftest import FIXTURES

GOLDEN = FIXTURES / "golden"


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path

    @property
    def input_text(self) -> str:
        local = self.folder / "input.yaml"
        if local.exists():
            return local.read_text(encoding="utf-8")
        spec = YAML(typ="safe").load((self.folder / "case.yaml").read_text(encoding="utf-8"))
        texts = [(FIXTURES / rel).read_text(encoding="utf-8") for rel in spec["inputs"]]
        # a file that does not open with '---' is still its own document in the stream
        return "".join(t if i == 0 or t.startswith("---") else "---\n" + t for i, t in enumerate(texts))

    @property
    def config_path(self) -> Path:
        return self.folder / "config.yaml"

    @property
    def expected_path(self) -> Path:
        return self.folder / "expected.yaml"

    @property
    def findings_path(self) -> Path:
        return self.folder / "findings.txt"


def cases() -> list[Case]:
    found = sorted(p for p in GOLDEN.iterdir() if (p / "config.yaml").exists())
    if not found:  # a glob that silently finds nothing must not pass
        raise RuntimeError(f"no golden cases under {GOLDEN}")
    return [Case(p.name, p) for p in found]
