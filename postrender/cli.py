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
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
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
        with open(f"/proc/{os.getppid()}/comm", encoding="utf-8") as fh:
            return fh.read().strip()
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
    import tempfile

    log = os.path.join(tempfile.gettempdir(), "weave-postrender-helm.log")
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


def _read_input(path: str) -> str:
    if path == "-":
        return _read_stdin()
    try:
        with open(path, "rb") as fh:
            data = fh.read()
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


def _fast_args(args: list[str]) -> tuple[str | None, bool, bool] | None:
    """``[--config F] [--strict] [-v]`` parsed by hand, or None to let click handle ``args``."""
    config: str | None = None
    strict = verbose = False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--config" and rest:
            config = rest.pop(0)
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
        elif arg == "--strict":
            strict = True
        elif arg in ("-v", "--verbose"):
            verbose = True
        else:
            return None
    return config, strict, verbose


def post_render(config_path: str | None, strict: bool, verbose: bool) -> int:
    """The Helm post-renderer: stdin to stdout, all or nothing; returns the exit code."""
    from .core import process

    try:
        cfg = load_config(config_path)
        outcome = process(_read_stdin(), cfg, strict)
    except InputError as exc:
        report(exc.findings, verbose)
        return EXIT_ERROR
    report(outcome.findings, verbose)
    if outcome.output is None:
        return EXIT_ERROR
    sys.stdout.write(outcome.output)
    return EXIT_OK


def krm_main() -> None:
    """``weave-postrender-krm``: the KRM function with no arguments (container and exec functions)."""
    main(["krm"])


def main(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else args
    fast = _fast_args(argv)
    try:
        if fast is not None:
            sys.exit(post_render(*fast))
        from .commands import cli

        code = cli.main(args=argv, standalone_mode=False)
        sys.exit(code if isinstance(code, int) else EXIT_OK)
    except SystemExit:
        raise
    except Exception as exc:
        _click_exit(exc)


def _click_exit(exc: Exception) -> None:
    """click's own exits and usage errors become exit codes; anything else is an internal error."""
    import click

    if isinstance(exc, click.exceptions.Exit):
        sys.exit(exc.exit_code)
    if isinstance(exc, click.UsageError):
        exc.show()
        sys.exit(EXIT_USAGE)
    if not isinstance(exc, click.Abort):  # the last line of defence: never a traceback
        sys.stderr.write(f"weave-postrender: error[internal] {type(exc).__name__}: {exc} "
                         "(please report this with the input that caused it)\n")
    sys.exit(EXIT_ERROR)
