"""Findings: the one way every problem, change and note leaves the core.

Modelled on kustomize's ``framework.Result``: a severity, the resource it is
about, the field (YAML path or XML path) and a message that says what to do,
plus a stable rule id so users can grep, document and suppress by id. The core
never prints; entry points turn findings into stderr lines or KRM ``results``.
"""

from __future__ import annotations

import enum
from typing import Iterable, NamedTuple

# Exit codes are part of the contract (README "Exit codes").
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class ResourceRef(NamedTuple):
    """Which resource a finding is about (the KRM ``resourceRef`` fields)."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""

    def label(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"


class Finding(NamedTuple):
    rule: str
    severity: Severity
    message: str
    resource: ResourceRef | None = None
    field: str | None = None
    file: str | None = None

    def text(self) -> str:
        """One line for stderr: ``error[rule] Kind ns/name field: message``."""
        where = [self.resource.label()] if self.resource else []
        if self.file:
            where.append(self.file)
        if self.field:
            where.append(self.field)
        prefix = f"{self.severity.value}[{self.rule}]"
        loc = f" {' '.join(where)}:" if where else ""
        return f"{prefix}{loc} {self.message}"


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


class InputError(Exception):
    """Input the core cannot work on at all (not YAML, not UTF-8, bad config).

    Carries findings so the entry points report it like any other problem.
    """

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.text() for f in findings))
        self.findings = findings


def error(rule: str, message: str, **where: object) -> Finding:
    return Finding(rule, Severity.ERROR, message, **where)  # type: ignore[arg-type]


def warning(rule: str, message: str, **where: object) -> Finding:
    return Finding(rule, Severity.WARNING, message, **where)  # type: ignore[arg-type]


def info(rule: str, message: str, **where: object) -> Finding:
    return Finding(rule, Severity.INFO, message, **where)  # type: ignore[arg-type]
