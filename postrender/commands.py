"""The click command group: the post-renderer's options and the subcommands.

Imported only when a subcommand (or --help, --version, an unknown option) is
asked for: the plain post-render path parses its three options by hand, so a
Helm run does not pay for click's import.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import __version__
from .cli import CONFIG_ENV, _read_input, _read_stdin, _transform, post_render, report
from .findings import EXIT_ERROR, EXIT_OK, Finding, InputError, has_errors


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
    if ctx.invoked_subcommand is None:
        ctx.exit(post_render(config_path, strict, verbose))


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


