"""Memory needs computed before large allocations are made.

Monte Carlo work is chunked (:mod:`nqpspatial.backends`), so its working
memory does not grow with the number of draws; what does grow is the result
kept per draw, and a dense ``N x N`` matrix cannot be chunked at all.  For
both the size is computed first, and a need above the machine's total memory
is refused with a :class:`~nqpspatial.errors.ConfigError` that names the
config key, the size and the largest value that fits, instead of failing
after minutes with an out-of-memory error.
"""

from __future__ import annotations

import math
import os

from .errors import ConfigError

__all__ = ["total_memory", "check_memory", "check_dense", "format_bytes"]


def total_memory() -> int | None:
    """The machine's physical memory in bytes (None when the system does not say)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows
        return None
    return int(pages) * int(size) if pages > 0 and size > 0 else None


def format_bytes(n: float) -> str:
    """``n`` bytes as text with a binary unit (e.g. ``"20.8 GiB"``)."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_memory(count: int, bytes_per_unit: float, *, key: str, fix: str = "", limit: int | None = None) -> None:
    """Refuse ``count`` units of ``bytes_per_unit`` each when they exceed the machine's memory.

    Parameters
    ----------
    count : int
        The configured number (draws, resamples, permutations).
    bytes_per_unit : float
        Memory kept per unit.
    key : str
        The config key, e.g. ``"[haken] bootstrap"``.
    fix : str
        Extra advice appended to the message.
    limit : int, optional
        Memory available (default: :func:`total_memory`).

    Raises
    ------
    ConfigError
        Naming the key, the size needed and the largest value that fits.
    """
    total = total_memory() if limit is None else limit
    need = float(count) * float(bytes_per_unit)
    if total is None or need <= total:
        return
    largest = int(total // max(bytes_per_unit, 1))
    tail = f" {fix}" if fix else ""
    raise ConfigError(
        f"{key} = {count} would need about {format_bytes(need)} of memory, more than this machine has "
        f"({format_bytes(total)}); the largest value that fits is about {largest:,}.{tail}",
        source="config",
    )


def check_dense(n: int, *, key: str, copies: int = 3, fix: str = "", limit: int | None = None) -> None:
    """Refuse a dense ``n x n`` float matrix (``copies`` of it at once) that exceeds the machine's memory.

    Parameters
    ----------
    n : int
        Number of regions.
    key : str
        The config key that asks for the dense matrix (e.g.
        ``"[spatial] weights = 'inverse_distance'"``).
    copies : int
        How many ``n x n`` arrays exist at the peak.
    fix : str
        Advice appended to the message (e.g. a sparse alternative).
    limit : int, optional
        Memory available (default: :func:`total_memory`).

    Raises
    ------
    ConfigError
        Naming the key, the size needed and the largest number of regions that fits.
    """
    total = total_memory() if limit is None else limit
    need = float(n) * float(n) * 8.0 * copies
    if total is None or need <= total:
        return
    largest = int(math.isqrt(int(total // (8 * copies))))
    raise ConfigError(
        f"{key} builds a dense {n:,} x {n:,} matrix: about {format_bytes(need)} of memory, more than "
        f"this machine has ({format_bytes(total)}); the largest layer that fits has about {largest:,} "
        f"regions.{(' ' + fix) if fix else ''}",
        source="config",
    )
