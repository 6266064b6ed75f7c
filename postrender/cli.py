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
