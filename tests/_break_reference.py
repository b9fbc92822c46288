"""Frozen reference: the sup-F wild bootstrap of nqpspatial 0.1.0 (row-level resamples).

Kept as the test reference of :func:`nqpspatial.haken.stages._sup_f_draws`, which forms the same
statistics from per-region sums (``tests/test_haken_stages.py`` compares both to 1e-10).  Not used by the
package.
"""

from __future__ import annotations

import numpy as np

from nqpspatial.haken.model import as_rng
from nqpspatial.haken.stages import _BREAK_CHUNK_ELEMENTS, _break_stat


def sup_f_draws_rows(d, eqs, cands, B: int, seed) -> np.ndarray:
    """The B bootstrap sup-F statistics, each resample's residuals formed row by row."""
    rng = as_rng(seed)
    n = len(d.regions)
    chunk = max(1, min(B, _BREAK_CHUNK_ELEMENTS // max(1, d.nobs)))
    out = []
    for start in range(0, B, chunk):
        size = min(chunk, B - start)
        v = rng.choice(np.array([-1.0, 1.0]), size=(size, n))
        Vr = v[:, d.codes].T  # (N, size)
        Es = [eq[4][:, None] * Vr for eq in eqs]
        sup_star = np.full(size, -np.inf)
        for tau in cands:
            (F1, F2), q, _ = _break_stat(d, eqs, tau, Es)
            sup_star = np.maximum(sup_star, q * F1 + q * F2)
        out.append(sup_star)
    return np.concatenate(out) if out else np.zeros(0)
