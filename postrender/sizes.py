"""Size syntaxes: ClickHouse's (``max_size``) and Kubernetes quantities (PVCs).

They look alike and differ where it hurts: ClickHouse accepts ``20Gi`` and
``20G`` but refuses ``20GB``, ``20GiB``, ``20gi`` and ``0`` at start-up
(clickhouse-errors.md), while Kubernetes accepts ``20Gi`` and ``20G`` and many
more. The tool must refuse what ClickHouse refuses *before* the pod crash-loops.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# ClickHouse parseWithSizeSuffix: digits, then optional k/K/M/G/T, then an
# optional 'i' for powers of 1024; nothing else (no 'B', no space, no sign).
_CH_SIZE = re.compile(r"^([0-9]+)(?:([kKMGT])(i?))?$")
_CH_POWER = {"k": 1, "K": 1, "M": 2, "G": 3, "T": 4}

_K8S_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_K8S_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_K8S_DECIMAL = {"k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def clickhouse_size(text: str) -> int | None:
    """Bytes for a ClickHouse size, or None where ClickHouse would refuse it."""
    match = _CH_SIZE.match(text)
    if not match:
        return None
    number, suffix, binary = match.groups()
    value = int(number)
    if suffix:
        base = 1024 if binary else 1000
        value *= base ** _CH_POWER[suffix]
    return value or None


def k8s_quantity(text: str) -> int | None:
    """Bytes for a Kubernetes quantity such as ``30G`` or ``8Gi`` (None if invalid)."""
    match = _K8S_QUANTITY.match(text.strip())
    if not match:
        return None
    number, suffix = match.groups()
    try:
        value = Decimal(number)
    except InvalidOperation:
        return None
    if suffix in _K8S_BINARY:
        value *= Decimal(1024) ** _K8S_BINARY[suffix]
    elif suffix in _K8S_DECIMAL:
        value *= Decimal(10) ** _K8S_DECIMAL[suffix]
    elif suffix == "m":
        value /= 1000
    elif suffix:
        value *= Decimal(10) ** int(suffix[1:])
    return int(value)


def human(num: int) -> str:
    """Bytes as GiB with two decimals, for messages."""
    return f"{num / 1024**3:.2f} GiB"
