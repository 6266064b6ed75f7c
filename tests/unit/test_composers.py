"""The pure-Python composer (used without ruamel.yaml.clib) gives the same bytes as the C one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from golden import Case, cases
from postrender import yamlio
from postrender.cli import load_config
from postrender.core import process
from postrender.findings import InputError


@pytest.fixture
def pure() -> Iterator[None]:
    assert yamlio._HAS_CLIB, "ruamel.yaml.clib is a dependency: the fast path must be tested too"
    yamlio.use_pure_composer(True)
    yield
    yamlio.use_pure_composer(False)


@pytest.mark.parametrize("case", [c for c in cases() if c.expected_path.exists()], ids=lambda c: c.name)
def test_pure_composer_matches_golden(case: Case, pure: None) -> None:
    try:
        cfg = load_config(str(case.config_path))
    except InputError:
        return
    assert process(case.input_text, cfg).output == case.expected_path.read_text()
