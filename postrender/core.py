"""The core: one function from a stream and a config to edits plus findings.

It never prints, reads stdin or exits; the Helm and KRM entry points only adapt
I/O around ``process``. Steps run in a fixed order (an explicit registry, no
discovery): read-only checks first, so that an error stops the run before any
edit is computed, then the edits.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from .bitnami import Release, find_releases
from .checks import check
from .config import Config
from .findings import Finding, InputError, error, has_errors, warning
from .inject import inject
from .stream import Doc, Resources, Stream

Step = Callable[[Resources, list[Release], Config], list[Finding]]


def _check_step(stream: Resources, releases: list[Release], cfg: Config) -> list[Finding]:
    return [f for r in releases for f in check(r, cfg)]


def _inject_step(stream: Resources, releases: list[Release], cfg: Config) -> list[Finding]:
    return [f for r in releases for f in inject(stream, r, cfg)]


def _wandb_check_step(stream: Resources, releases: list[Release], cfg: Config) -> list[Finding]:
    from . import wandb_cr

    return [f for cr in _crs(stream, cfg) for f in wandb_cr.plan(cr, releases, cfg)[1]]


def _wandb_edit_step(stream: Resources, releases: list[Release], cfg: Config) -> list[Finding]:
    from . import wandb_cr

    findings: list[Finding] = []
    for cr in _crs(stream, cfg):
        target, _ = wandb_cr.plan(cr, releases, cfg)  # its findings were reported by the check step
        if target is not None:
            findings += wandb_cr.edit(cr, target, cfg)
    return findings


def _duplicates(stream: Resources) -> list[Finding]:
    """The same resource twice: Helm refuses it at install, and the tool would edit only one meaning."""
    seen: set[tuple[str, str, str, str]] = set()
    out: list[Finding] = []
    for doc in stream.resources():
        key = (doc.api_version, doc.kind, doc.namespace, doc.name)
        if key in seen and doc.name:
            out.append(error("duplicate-resource", "this resource appears twice in the input; remove one",
                             resource=doc.ref))
        seen.add(key)
    return out


def _crs(stream: Resources, cfg: Config) -> list[Doc]:
    """W&B CRs in the stream (the module that edits them is imported only when there are some)."""
    if not cfg.wandb.enabled:
        return []
    return [d for d in stream.resources() if d.kind == "WeightsAndBiases" and d.api_version.startswith("apps.wandb.com/")]


CHECKS: tuple[Step, ...] = (_check_step, _wandb_check_step)
EDITS: tuple[Step, ...] = (_inject_step, _wandb_edit_step)


class Outcome(NamedTuple):
    """What a run produced: the output text (None on error) and every finding."""

    output: str | None
    findings: list[Finding]

    @property
    def failed(self) -> bool:
        return self.output is None


def run(stream: Resources, cfg: Config) -> list[Finding]:
    """Check, then edit, every ClickHouse release in ``stream`` (edits stay queued in its buffers)."""
    findings: list[Finding] = list(cfg.warnings)
    releases = find_releases(stream)
    if not releases and not _crs(stream, cfg):
        findings.append(warning("no-clickhouse", "no Bitnami ClickHouse StatefulSet (labels "
                                "app.kubernetes.io/name=clickhouse, component=clickhouse) in the input; "
                                "nothing to do"))
    findings += stream.notes + _duplicates(stream)
    for step in CHECKS:
        findings += step(stream, releases, cfg)
    if has_errors(findings):
        return findings
    for step in EDITS:
        findings += step(stream, releases, cfg)
    return findings


def process(text: str, cfg: Config, strict: bool = False) -> Outcome:
    """A whole post-render: text in, text out; all or nothing."""
    if not text.strip():
        return Outcome(text, [])
    if "\x00" in text:
        return Outcome(None, [error("input-binary", "the input holds NUL bytes; a YAML stream is text")])
    try:
        stream = Stream.parse(text, strict)
        findings = run(stream, cfg)
    except InputError as exc:
        return Outcome(None, exc.findings)
    if has_errors(findings):
        return Outcome(None, findings)
    return Outcome(stream.output() if stream.changed else text, findings)


def process_resource_list(text: str) -> tuple[str | None, list[Finding]]:
    """A KRM function run: the ResourceList out (with results, also on error) and the findings.

    The output is None only when the input is no ResourceList at all.
    """
    from .config import from_object
    from .resourcelist import ResourceListStream

    try:
        rl = ResourceListStream.parse(text)
    except InputError as exc:
        return None, exc.findings
    try:
        cfg = from_object(rl.function_config(), origin="functionConfig")
        findings = run(rl, cfg)
    except InputError as exc:
        findings = exc.findings
    return rl.output(findings, keep_items=not has_errors(findings)), findings
