"""Small helpers shared by the whole suite: suggestions, JSON conversion, seed streams.

One implementation each, so that every "did you mean" reads the same, every
``run.json`` value is converted the same way and every random stream is
derived the same way.
"""

from __future__ import annotations

import difflib
import math
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["closest", "suggest", "jsonable", "as_generator", "stage_seed", "stream"]

#: Similarity cutoff of :func:`closest` (difflib ratio).
CUTOFF = 0.5


def closest(word: Any, choices: Iterable[Any], *, n: int = 1, cutoff: float = CUTOFF) -> list[str]:
    """The choices closest to ``word`` (as strings), best first.

    Parameters
    ----------
    word : object
        What the user wrote (converted to str).
    choices : iterable
        Valid values (converted to str).
    n : int
        At most this many matches.
    cutoff : float
        Minimum difflib similarity in [0, 1]; 0 always returns the nearest.

    Returns
    -------
    list of str
    """
    return difflib.get_close_matches(str(word), [str(c) for c in choices], n=n, cutoff=cutoff)


def suggest(word: Any, choices: Iterable[Any], *, n: int = 1, cutoff: float = CUTOFF) -> str:
    """A " Did you mean 'x'?" sentence (empty when nothing is close).

    Parameters
    ----------
    word, choices, n, cutoff
        As for :func:`closest`.

    Returns
    -------
    str
        Starts with a space when not empty, so it can follow a sentence.
    """
    found = closest(word, choices, n=n, cutoff=cutoff)
    if not found:
        return ""
    return " Did you mean " + " or ".join(f"'{f}'" for f in found) + "?"


def jsonable(obj: Any) -> Any:
    """``obj`` converted to JSON-safe values (for ``run.json``).

    numpy scalars become Python numbers (booleans stay booleans), NaN and
    infinities become None, paths become strings, tuples and sets become
    lists, DataFrames a short description; anything else its ``str``.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        return [jsonable(v) for v in items]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, (str, int)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return f"DataFrame ({len(obj)} rows, {obj.shape[1]} columns)"
    return str(obj)


def as_generator(seed: Any) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from None, an int, a SeedSequence or a Generator.

    A Generator is returned as is, so that callers share its stream.

    Raises
    ------
    TypeError
        For any other type (callers turn it into their own error).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer, np.random.SeedSequence)) and not isinstance(seed, bool):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be None, an int, a SeedSequence or a numpy.random.Generator, got {type(seed).__name__}")


def stage_seed(seed: int, name: str) -> np.random.SeedSequence:
    """The SeedSequence of one pipeline stage: the run seed and the stage name's code points.

    The same seed and name always give the same stream, whatever ran before.
    """
    return np.random.SeedSequence([int(seed), *[ord(c) for c in name]])


def stream(seed: int, *key: Any) -> np.random.Generator:
    """A Generator for one named piece of work inside a stage (e.g. statistic, weights, variable).

    Derived from ``seed`` and a CRC-32 of the key's parts, so that the
    stream of one piece does not depend on which other pieces run.
    """
    code = zlib.crc32("\x1f".join(map(str, key)).encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([int(seed), code]))
