"""Unified diffs of streams, per document, with secret values masked.

Used by ``diff`` (input against output) and ``check`` (golden against output).
Documents are aligned as text pieces (``stream.split``), so a document the tool
added shows as a whole new hunk, and every hunk is labelled with the resource it
belongs to. Values that may be secret -- Secret data, credential env values,
password and key elements in XML -- are replaced by ``***`` on both sides first, so
a diff can go into a CI log.
"""

from __future__ import annotations

import difflib
import re

from .stream import label, split

MASK = "***"
_SECRET_KEY = re.compile(r"^(\s*(?:- )?(?:password|secretAccessKey|accessKeyId|token)\s*:\s*)(\S.*)$", re.I)
_SECRET_ENV = re.compile(r"(PASSWORD|SECRET|TOKEN|ACCESS_KEY)", re.I)
_ENV_NAME = re.compile(r"^\s*- name:\s*[\"']?([A-Za-z0-9_.-]+)")
_ENV_VALUE = re.compile(r"^(\s*value:\s*)(\S.*)$")
_XML_SECRET = re.compile(r"(<(password|secret_access_key|access_key_id)(\s[^>]*)?>)([^<]+)(</\2>)")
_DATA = re.compile(r"^(\s*)(data|stringData):\s*$")
_ENTRY = re.compile(r"^(\s*[^\s:#][^:]*:\s*)(\S.*)$")


def mask(piece: str) -> str:
    """The document with every value that may be a secret replaced by ``***``."""
    lines = piece.split("\n")
    is_secret = bool(re.search(r"^kind:\s*[\"']?Secret\b", piece, re.M))
    data_indent: int | None = None
    secret_env = False
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if data_indent is not None and line.strip() and indent <= data_indent:
            data_indent = None
        if is_secret and (m := _DATA.match(line)):
            data_indent = len(m.group(1))
            continue
        if data_indent is not None and (m := _ENTRY.match(line)):
            lines[i] = m.group(1) + MASK
            continue
        if (m := _ENV_NAME.match(line)):
            secret_env = bool(_SECRET_ENV.search(m.group(1)))
        elif secret_env and (m := _ENV_VALUE.match(line)):
            lines[i] = m.group(1) + MASK
            secret_env = False
        lines[i] = _SECRET_KEY.sub(lambda m: m.group(1) + MASK, lines[i])
        lines[i] = _XML_SECRET.sub(lambda m: m.group(1) + MASK + m.group(5), lines[i])
    return "\n".join(lines)


def unified(before: str, after: str, before_name: str = "input", after_name: str = "output",
            color: bool = False) -> str:
    """Per-document unified diffs of two streams (empty when they are equal)."""
    a, b = split(before), split(after)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        olds, news = a[i1:i2], b[j1:j2]
        by_label = {label(p): p for p in olds}
        for new in news:
            old = by_label.pop(label(new), "")
            out += _one(old, new, label(new), before_name, after_name)
        for name, old in by_label.items():
            out += _one(old, "", name, before_name, after_name)
    text = "".join(out)
    return _colorize(text) if color else text


def _one(old: str, new: str, name: str, before_name: str, after_name: str) -> list[str]:
    lines = difflib.unified_diff(mask(old).splitlines(keepends=True), mask(new).splitlines(keepends=True),
                                 f"{before_name}: {name}", f"{after_name}: {name}")
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def _colorize(text: str) -> str:
    colors = {"+": "\033[32m", "-": "\033[31m", "@": "\033[36m"}
    out = []
    for line in text.splitlines(keepends=True):
        code = colors.get(line[:1]) if not line.startswith(("+++", "---")) else "\033[1m"
        out.append(f"{code}{line.rstrip(chr(10))}\033[0m\n" if code else line)
    return "".join(out)
