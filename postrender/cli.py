"""Command line: parse, build, execute; nothing here knows ClickHouse.

``weave-postrender [--config F]`` with no subcommand is the Helm post-renderer:
stdin to stdout, all or nothing, findings on stderr. Under Helm 4, which drops a
plugin's stderr, the plugin wrapper sets ``WEAVE_POSTRENDER_HELM_PLUGIN=1`` and
the messages are also written to Helm's own stderr (``/proc/<helm pid>/fd/2``),
or to a log file when that cannot be opened.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from . import __version__
from .config import Config, from_object
from .findings import EXIT_ERROR, EXIT_OK, EXIT_USAGE, Finding, InputError, Severity, error, has_errors
from .yamlio import YAMLError, safe_load

CONFIG_ENV = "WEAVE_POSTRENDER_CONFIG"
PLUGIN_ENV = "WEAVE_POSTRENDER_HELM_PLUGIN"


def load_config(path: str | None) -> Config:
    """The config from ``--config`` or the environment; InputError when unusable."""
    path = path or os.environ.get(CONFIG_ENV)
    if not path:
        raise InputError([error("config-missing", f"no config: pass --config FILE or set {CONFIG_ENV}")])
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([error("config-unreadable", f"cannot read config {path}: {exc}")]) from None
    try:
        obj = safe_load(text)
    except YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError([error("config-invalid", f"{path}: invalid YAML: {first}")]) from None
    return from_object(obj, origin=path)


def report(findings: list[Finding], verbose: bool) -> None:
    """Findings to stderr (info only with --verbose); under Helm 4 also to Helm's stderr."""
    shown = [f for f in findings if verbose or f.severity is not Severity.INFO]
    if not shown:
        return
    text = "".join(f"weave-postrender: {f.text()}\n" for f in shown)
    sys.stderr.write(text)
    failed = any(f.severity is Severity.ERROR for f in shown)
    parent = _parent_name()
    # Helm 4 drops a plugin's stderr; Helm 3 and kustomize's exec plugins show it only on
    # failure. Warnings of a successful run then go to the caller's own stderr.
    if os.environ.get(PLUGIN_ENV) == "1" or (not failed and parent in ("helm", "kubectl", "kustomize")):
        _to_helm(text)


def _parent_name() -> str:
    try:
        return Path(f"/proc/{os.getppid()}/comm").read_text().strip()
    except OSError:
        return ""


def _to_helm(text: str) -> None:
    """Make sure the calling tool (Helm, kustomize) shows ``text`` although it hides our stderr.

    The plugin wrapper normally points our stderr at Helm's already (then
    nothing more is needed); otherwise append to Helm's stderr ourselves
    (append, so a log file Helm writes to is not truncated), else to a log file.
    """
    helm_stderr = f"/proc/{os.getppid()}/fd/2"
    try:
        ours, helms = os.fstat(2), os.stat(helm_stderr)
        if (ours.st_dev, ours.st_ino) == (helms.st_dev, helms.st_ino):
            return
        with open(helm_stderr, "a", encoding="utf-8") as parent:
            parent.write(text)
        return
    except OSError:
        pass
    log = Path(tempfile.gettempdir()) / "weave-postrender-helm.log"
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(text)
    sys.stderr.write(f"weave-postrender: messages also written to {log}\n")


def _read_stdin() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([error("input-not-utf8", f"the input is not UTF-8 (byte {exc.start}); "
                                "a YAML stream must be UTF-8 text")]) from None


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="FILE", help=f"WeavePostRender config (or env {CONFIG_ENV}).")
@click.option("--strict", is_flag=True, help="Parse every document, not only those that may concern the tool.")
@click.option("-v", "--verbose", is_flag=True, help="Also print info findings (each change made).")
@click.version_option(__version__, prog_name="weave-postrender")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, strict: bool, verbose: bool) -> None:
    """Inject W&B Weave's ClickHouse settings into rendered Bitnami ClickHouse manifests.

    With no command: read a YAML stream on stdin, write the result on stdout
    (the Helm post-renderer). Exit 0 done, 1 error finding or unusable input, 2 usage.
    """
    if ctx.invoked_subcommand is not None:
        return
    from .core import process

    try:
        cfg = load_config(config_path)
        outcome = process(_read_stdin(), cfg, strict)
    except InputError as exc:
        report(exc.findings, verbose)
        ctx.exit(EXIT_ERROR)
    report(outcome.findings, verbose)
    if outcome.output is None:
        ctx.exit(EXIT_ERROR)
    sys.stdout.write(outcome.output)
    ctx.exit(EXIT_OK)


@cli.command("krm")
@click.pass_context
def krm(ctx: click.Context) -> None:
    """KRM function: a ResourceList on stdin (config in functionConfig), a ResourceList with results out.

    Exit 1 when a result has severity error (the list is still written, items unchanged).
    """
    from .core import process_resource_list

    try:
        output, findings = process_resource_list(_read_stdin())
    except InputError as exc:
        output, findings = None, exc.findings
    report(findings, verbose=False)  # also on stderr: not every KRM runner shows results
    if output is None:
        ctx.exit(EXIT_ERROR)
    sys.stdout.write(output)
    ctx.exit(EXIT_ERROR if has_errors(findings) else EXIT_OK)


def _read_input(path: str) -> str:
    if path == "-":
        return _read_stdin()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError([error("input-unreadable", f"cannot read {path}: {exc.strerror}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([error("input-not-utf8", f"{path} is not UTF-8 (byte {exc.start})")]) from None


def _transform(text: str, config_path: str | None, strict: bool) -> tuple[str | None, list[Finding]]:
    """The tool's output for ``text`` (a Helm stream or a ResourceList)."""
    from .core import process, process_resource_list
    from .resourcelist import is_resource_list

    if is_resource_list(text):
        output, findings = process_resource_list(text)
        return (None if has_errors(findings) else output), findings
    outcome = process(text, load_config(config_path), strict)
    return outcome.output, outcome.findings


_INPUT = click.argument("source", default="-", metavar="[FILE|-]")
_CONFIG = click.option("--config", "config_path", metavar="FILE", help=f"WeavePostRender config (or env {CONFIG_ENV}).")


@cli.command("diff")
@_CONFIG
@_INPUT
@click.option("--color/--no-color", default=None, help="Colour the diff (default: when stdout is a terminal).")
@click.pass_context
def diff_cmd(ctx: click.Context, config_path: str | None, source: str, color: bool | None) -> None:
    """Show what the tool changes: a unified diff per document, secret values masked."""
    from .diffing import unified

    try:
        text = _read_input(source)
        output, findings = _transform(text, config_path, strict=False)
    except InputError as exc:
        output, findings = None, exc.findings
    report(findings, verbose=False)
    if output is None:
        ctx.exit(EXIT_ERROR)
    sys.stdout.write(unified(text, output, color=sys.stdout.isatty() if color is None else color))
    ctx.exit(EXIT_OK)


@cli.command("check")
@_CONFIG
@_INPUT
@click.option("--golden", required=True, metavar="PATH", help="Expected output; a folder holds one file per input.")
@click.option("--update", is_flag=True, help="Rewrite the golden file from the actual output.")
@click.pass_context
def check_cmd(ctx: click.Context, config_path: str | None, source: str, golden: str, update: bool) -> None:
    """Exit 0 when the output equals the golden file; else 1 with the diff (expected vs actual)."""
    from .diffing import unified

    target = Path(golden)
    if target.is_dir():
        target = target / (Path(source).name if source != "-" else "stdin.yaml")
    try:
        output, findings = _transform(_read_input(source), config_path, strict=False)
    except InputError as exc:
        output, findings = None, exc.findings
    report(findings, verbose=False)
    if output is None:
        ctx.exit(EXIT_ERROR)
    if update:
        target.write_text(output, encoding="utf-8")
        click.echo(f"weave-postrender: updated {target}", err=True)
        ctx.exit(EXIT_OK)
    expected = target.read_text(encoding="utf-8") if target.exists() else ""
    if expected == output:
        ctx.exit(EXIT_OK)
    missing = "" if target.exists() else f" ({target} does not exist; --update writes it)"
    click.echo(f"weave-postrender: output differs from {target}{missing}", err=True)
    sys.stdout.write(unified(expected, output, "expected", "actual", color=sys.stdout.isatty()))
    ctx.exit(EXIT_ERROR)


@cli.command("explain")
@_CONFIG
@_INPUT
@click.option("--pod", metavar="NAME", help="Expand env values for this pod (e.g. clickhouse-shard0-1).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of XML.")
@click.pass_context
def explain_cmd(ctx: click.Context, config_path: str | None, source: str, pod: str | None, as_json: bool) -> None:
    """The merged server config of every ClickHouse StatefulSet, as ClickHouse will build it."""
    import json

    from .bitnami import find_releases
    from .explain import explain, to_json, to_xml
    from .stream import Stream

    findings: list[Finding] = []
    try:
        text: str | None = _read_input(source)
        if config_path or os.environ.get(CONFIG_ENV):
            text, findings = _transform(text or "", config_path, strict=False)
        items = [e for r in find_releases(Stream.parse(text or "")) for e in explain(r, pod)] if text else []
    except InputError as exc:
        report(exc.findings, verbose=False)
        ctx.exit(EXIT_ERROR)
    findings += [f for e in items for f in e.findings]
    report(findings, verbose=False)
    if as_json:
        sys.stdout.write(json.dumps([to_json(e) for e in items], indent=2) + "\n")
    else:
        sys.stdout.write("".join(to_xml(e) for e in items))
    ctx.exit(EXIT_ERROR if has_errors(findings) or text is None else EXIT_OK)


@cli.group("helm-plugin")
def helm_plugin() -> None:
    """The Helm 4 post-renderer plugin shipped in this package."""


@helm_plugin.command("path")
def helm_plugin_path() -> None:
    """Print the plugin folder, for: helm plugin install "$(weave-postrender helm-plugin path)"."""
    click.echo(Path(__file__).resolve().parent / "helm" / "weave-postrender")


def krm_main() -> None:
    """``weave-postrender-krm``: the KRM function with no arguments (container and exec functions)."""
    main(["krm"])


def main(args: list[str] | None = None) -> None:
    try:
        code = cli.main(args=args, standalone_mode=False)
        sys.exit(code if isinstance(code, int) else EXIT_OK)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.Abort:
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # pragma: no cover - the last line of defence: never a traceback
        sys.stderr.write(f"weave-postrender: error[internal] {type(exc).__name__}: {exc} "
                         "(please report this with the input that caused it)\n")
        sys.exit(EXIT_ERROR)
