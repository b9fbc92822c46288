"""Weight sensitivity: Monte Carlo perturbation of indicator weights through the whole chain.

For every draw the indicator weights of each subsystem are drawn from a
Dirichlet distribution centred on the chosen weights ``w0``,

.. math::

    w^{(d)}_s \\sim \\mathrm{Dirichlet}(c\\, w_{0,s}),\\qquad
    E[w] = w_0,\\quad \\mathrm{Var}(w_j) = \\frac{w_{0j}(1 - w_{0j})}{c + 1},

(``concentration = c``; ``"uniform"`` or 0 draws uniformly on the simplex,
``Dirichlet(1, ..., 1)``), and pushed through the chain: subsystem indices
``U = R w`` (one matrix product for all draws), the Haken identification of
every ordering (batched OLS), the potential and stable point, the
co-evolution level h and its grades.  Indicators with weight 0 (zero range)
keep weight 0.

The draws run in fixed-size chunks through an execution backend
(:mod:`nqpspatial.backends`): the same seed gives the same numbers on every
backend and worker count.  See docs/robustness.md.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..backends import DEFAULT_CHUNK, InProcessBackend, plan_chunks, run_chunks, threadsafe
from ..errors import InputError
from ..results import Results, Summary
from . import _chain

__all__ = [
    "weight_sensitivity",
    "draw_weights",
    "SensitivityResults",
    "SUMMARY_COLUMNS",
    "REGION_COLUMNS",
    "PARAMETERS",
]

#: Parameters summarised per ordering.
PARAMETERS = ("gamma1", "a", "gamma2", "b", "ratio", "p_gamma2")
#: Leading columns of ``sensitivity_summary``.
SUMMARY_COLUMNS = [
    "kind",
    "source",
    "q1",
    "q2",
    "year",
    "statistic",
    "baseline",
    "mean",
    "sd",
    "q025",
    "q05",
    "q50",
    "q95",
    "q975",
    "share",
    "n",
]
#: Leading columns of ``sensitivity_regions``.
REGION_COLUMNS = [
    "region",
    "year",
    "h_baseline",
    "grade_baseline",
    "grade_change_share",
    "rank_baseline",
    "rank_mean",
    "rank_sd",
    "rank_min",
    "rank_max",
    "h_mean",
    "h_sd",
    "n_draws",
    "spearman_year_mean",
    "kendall_year_mean",
]
_QUANTILES = (0.025, 0.05, 0.5, 0.95, 0.975)


# --------------------------------------------------------------------------- inputs
def _concentration(value):
    if isinstance(value, str):
        if value.strip().lower() == "uniform":
            return 0.0
        raise InputError(
            f'concentration = {value!r}: give a positive number (e.g. 100) or "uniform"', source="config [sensitivity]"
        )
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or value < 0
        or not np.isfinite(value)
    ):
        raise InputError(
            f'concentration = {value!r}: give a number >= 0 (0 or "uniform": uniform on the simplex)',
            source="config [sensitivity]",
        )
    return float(value)


def _weight_blocks(weights: pd.DataFrame, subsystems, indicators):
    """Positions of each subsystem's indicators and the baseline weights in ``indicators`` order."""
    need = {"subsystem", "indicator", "weight"}
    if not isinstance(weights, pd.DataFrame) or not need <= set(weights.columns):
        raise InputError("the weights table needs columns subsystem, indicator, weight (the indicator_weights table)")
    w = weights.set_index(weights["indicator"].astype(str))
    missing = [c for c in indicators if c not in w.index]
    if missing:
        raise InputError(f"indicator(s) {missing[:10]} of the normalized table have no row in the weights table")
    w0 = w.loc[indicators, "weight"].to_numpy(float)
    sub = w.loc[indicators, "subsystem"].astype(str).to_numpy()
    blocks = []
    for s in subsystems:
        pos = np.flatnonzero(sub == s)
        if not len(pos):
            raise InputError(f"subsystem {s!r} has no indicator in the weights table")
        if not np.isclose(w0[pos].sum(), 1.0, atol=1e-6):
            raise InputError(f"the weights of subsystem {s!r} sum to {w0[pos].sum():.6g}, not 1")
        blocks.append(pos)
    return w0, blocks


def _draw(w0, blocks, conc, rng, size):
    """(size, K) weights: Dirichlet(c w0) (or flat) within each block over its positive-weight indicators."""
    W = np.zeros((size, len(w0)))
    for pos in blocks:
        live = pos[w0[pos] > 0]
        if len(live) == 1:
            W[:, live[0]] = 1.0
            continue
        alpha = np.ones(len(live)) if conc == 0 else conc * w0[live]
        W[:, live] = rng.dirichlet(alpha, size=size)
    return W


def draw_weights(
    weights: pd.DataFrame,
    *,
    draws: int,
    concentration=100.0,
    seed=0,
    chunk_size: int = DEFAULT_CHUNK,
    subsystems=None,
    backend=None,
) -> pd.DataFrame:
    """The perturbed weight vectors used by :func:`weight_sensitivity` (same seed, same draws).

    Parameters
    ----------
    weights : pandas.DataFrame
        ``subsystem, indicator, weight`` (the ``indicator_weights`` table).
    draws : int
    concentration : float or "uniform"
    seed : int, SeedSequence or Generator
    chunk_size : int
        Must equal the one given to :func:`weight_sensitivity`.
    subsystems : list of str, optional
        Default: order of first appearance in ``weights``.
    backend : backend object, optional
        From :func:`nqpspatial.backends.open_backend` (default in-process);
        the draws do not depend on it.

    Returns
    -------
    pandas.DataFrame
        One row per draw, one column per indicator (``weights`` order).
    """
    conc = _concentration(concentration)
    indicators = weights["indicator"].astype(str).tolist()
    subs = list(dict.fromkeys(weights["subsystem"].astype(str))) if subsystems is None else list(subsystems)
    w0, blocks = _weight_blocks(weights, subs, indicators)
    parts = run_chunks(_draw_chunk, (w0, blocks, conc), int(draws), seed=seed, chunk_size=chunk_size, backend=backend)
    W = np.vstack(parts) if parts else np.zeros((0, len(w0)))
    return pd.DataFrame(W, columns=indicators)


@threadsafe
def _draw_chunk(payload, task):
    w0, blocks, conc = payload
    return _draw(w0, blocks, conc, task.rng(), task.size)


# --------------------------------------------------------------------------- the chain on a batch
def _evaluate(p: dict, R: np.ndarray, W: np.ndarray) -> dict:
    """Chain outputs for weight rows W (D, K) on normalized rows R (n, K) of the layout."""
    lay = p["layout"]
    U = [W[:, pos] @ R[:, pos].T for pos in p["blocks"]]  # (D, n) per subsystem
    fits = [_chain.fit_ordering(U[i], U[j], lay, p["opts"]) for i, j in p["pairs"]]
    D = W.shape[0]
    ratio = np.stack([f["ratio"] for f in fits], axis=1)
    passing = np.stack([f["adiabatic"] for f in fits], axis=1)
    if p["fixed"] is not None:
        chosen = np.full(D, p["fixed"])
    else:
        masked = np.where(passing, ratio, -np.inf)
        chosen = np.where(passing.any(axis=1), np.argmax(masked, axis=1), -1)
    out = {"fits": fits, "chosen": chosen}
    k = p["h_pair"]
    if k is not None:
        f = fits[k]
        if p["opts"]["effects"] == "region":
            k1, k2 = f["fe1"], f["fe2"]
            pidx = lay.codes
        else:
            k1, k2 = f["k1"][:, None], f["k2"][:, None]
            pidx = np.zeros(lay.n, np.int64)
        pot = _chain.BatchPotential(
            f["gamma1"][:, None], f["a"][:, None], f["gamma2"][:, None], f["b"][:, None], k1, k2
        )
        i = p["pairs"][k][0]
        co = _chain.coevolution_batch(U[i], pot, pidx, p["strategy"], p["domain"], p["edges"])
        out.update(co)
        out["has_stable"] = pot.has_stable.all(axis=1)
        out["q_star"] = pot.q_star[:, 0] if pot.shape[1] == 1 else np.full(D, np.nan)
        out["V_star"] = pot.V_star[:, 0] if pot.shape[1] == 1 else np.full(D, np.nan)
    return out


def _rank_block(p, h, ok):
    """Per-year Spearman, Kendall and ranks of the draws with defined h."""
    D = h.shape[0]
    T = len(p["year_rows"])
    sp = np.full((D, T), np.nan)
    kt = np.full((D, T), np.nan)
    ranks = np.full(h.shape, np.nan)
    sign = p["sign"]
    if p["base_h"] is None or not ok.any():
        return sp, kt, ranks
    idx = np.flatnonzero(ok)
    for t, rows in enumerate(p["year_rows"]):
        if len(rows) < 2:
            continue
        s, k, r = _chain.rank_correlations(sign * p["base_h"][rows], sign * h[np.ix_(idx, rows)])
        sp[idx, t] = s
        kt[idx, t] = k
        ranks[np.ix_(idx, rows)] = r
    return sp, kt, ranks


def _reduce(p, W, ev) -> dict:
    """Per-draw scalars and per-observation accumulators of one chunk."""
    fits = ev["fits"]
    res = {
        "W_sum": W.sum(axis=0),
        "W_sq": (W * W).sum(axis=0),
        "D": W.shape[0],
        "par": np.stack([np.stack([f[t] for t in PARAMETERS], axis=1) for f in fits], axis=1),
        "pass": np.stack([f["adiabatic"] for f in fits], axis=1),
        "chosen": ev["chosen"],
    }
    if "h" in ev:
        h, ok = ev["h"], ev["ok"]
        sp, kt, ranks = _rank_block(p, h, ok)
        res.update(
            ok=ok,
            strategy=ev["strategy"],
            has_stable=ev["has_stable"],
            q_star=ev["q_star"],
            V_star=ev["V_star"],
            spearman=sp,
            kendall=kt,
        )
        hk = h[ok]
        res["h_sum"] = hk.sum(axis=0)
        res["h_sq"] = (hk * hk).sum(axis=0)
        res["n_ok"] = int(ok.sum())
        if p["base_grade"] is not None:
            res["grade_change"] = (ev["grade"][ok] != p["base_grade"]).sum(axis=0)
        rk = ranks[ok]
        res["rank_sum"] = np.nansum(rk, axis=0)
        res["rank_sq"] = np.nansum(rk * rk, axis=0)
        with np.errstate(invalid="ignore"):
            res["rank_min"] = (
                np.min(np.where(np.isfinite(rk), rk, np.inf), axis=0) if len(rk) else np.full(h.shape[1], np.inf)
            )
            res["rank_max"] = (
                np.max(np.where(np.isfinite(rk), rk, -np.inf), axis=0) if len(rk) else np.full(h.shape[1], -np.inf)
            )
        res["rank_n"] = np.isfinite(rk).sum(axis=0)
    return res


@threadsafe
def _sensitivity_chunk(p, task):
    W = _draw(p["w0"], p["blocks"], p["conc"], task.rng(), task.size)
    return _reduce(p, W, _evaluate(p, p["R"], W))


# --------------------------------------------------------------------------- results
class SensitivityResults(Results):
    """Weight-sensitivity results (immutable).

    Attributes
    ----------
    table : pandas.DataFrame
        ``sensitivity_summary`` (columns :data:`SUMMARY_COLUMNS`): one row per
        (kind, source, ordering, year, statistic); see docs/robustness.md.
    regions : pandas.DataFrame
        ``sensitivity_regions`` (columns :data:`REGION_COLUMNS`, then
        ``h_<method>, grade_<method>, rank_<method>`` per alternative method).
    draws : pandas.DataFrame
        One row per draw and ordering: ``draw, q1, q2, gamma1, a, gamma2, b,
        ratio, p_gamma2, adiabatic, chosen``.
    rank_draws : pandas.DataFrame
        ``draw, year, spearman, kendall`` (draws with a defined h).
    weights : pandas.DataFrame
        ``subsystem, indicator, weight, draw_mean, draw_sd``.
    options : dict
    notes : tuple of str
    """

    def __init__(self, table, regions, draws, rank_draws, weights, options, notes):
        self._set("table", table)
        self._set("regions", regions)
        self._set("draws", draws)
        self._set("rank_draws", rank_draws)
        self._set("weights", weights)
        self._set("options", dict(options))
        self._set("notes", tuple(notes))
        self._freeze()

    def share(self, statistic: str, q1=None, q2=None, source: str = "dirichlet") -> float:
        """The ``share`` of one summary row (e.g. ``share("adiabatic", "NQP", "NTU")``)."""
        t = self.table
        m = (t["statistic"] == statistic) & (t["source"] == source)
        if q1 is not None:
            m &= (t["q1"] == q1) & (t["q2"] == q2)
        rows = t[m & t["year"].isna()] if "year" in t else t[m]
        if rows.empty:
            raise KeyError(f"no summary row {statistic!r} for {q1}->{q2} ({source})")
        return float(rows["share"].iloc[0])

    def summary(self) -> Summary:
        """Verdict shares, parameter intervals and rank stability."""
        t = self.table
        o = self.options
        facts = {
            "draws": o["draws"],
            "concentration": o["concentration_label"],
            "h ordering": " -> ".join(o["h_pair"]) if o["h_pair"] else "none",
        }
        v = t[(t["statistic"] == "adiabatic") & (t["source"] == "dirichlet")]
        for _, r in v.iterrows():
            facts[f"verdict share {r['q1']} -> {r['q2']}"] = r["share"]
        rk = t[(t["kind"] == "rank") & (t["source"] == "dirichlet") & t["year"].isna()]
        for _, r in rk.iterrows():
            facts[f"{r['statistic']} (all periods), mean"] = r["mean"]
        par = t[(t["kind"] == "parameter") & (t["source"] == "dirichlet")]
        tables = {"parameters": par[["q1", "q2", "statistic", "baseline", "mean", "sd", "q025", "q975"]]}
        meth = t[t["source"] != "dirichlet"]
        if len(meth):
            tables["alternative methods"] = meth[["source", "q1", "q2", "statistic", "mean", "share"]]
        return Summary("Weight sensitivity", facts, tables, self.notes)


def _stats_row(vals, baseline=np.nan, boolean=False):
    v = np.asarray(vals, float)
    v = v[np.isfinite(v)] if not boolean else v
    n = int(v.size)
    row = {"baseline": baseline, "n": n}
    if n == 0:
        row.update(mean=np.nan, sd=np.nan, share=np.nan, **{f"q{int(round(q * 1000)):03d}": np.nan for q in _QUANTILES})
    else:
        row["mean"] = float(v.mean())
        row["sd"] = float(v.std(ddof=1)) if n > 1 else np.nan
        qs = np.quantile(v, _QUANTILES)
        for q, val in zip(_QUANTILES, qs):
            row[f"q{int(round(q * 1000)):03d}"] = float(val)
        row["share"] = float(v.mean()) if boolean else np.nan
    return row


def _qname(row):
    # q025, q050 -> q05, q500 -> q50, q950 -> q95, q975
    ren = {"q025": "q025", "q050": "q05", "q500": "q50", "q950": "q95", "q975": "q975"}
    return {ren.get(k, k): v for k, v in row.items()}


# --------------------------------------------------------------------------- public function
def weight_sensitivity(
    normalized: pd.DataFrame,
    weights: pd.DataFrame,
    *,
    subsystems=None,
    region: str = "region",
    year: str = "year",
    draws: int = 1000,
    concentration=100.0,
    seed=0,
    order="auto",
    h_order=None,
    alpha: float = 0.05,
    min_ratio: float = 1.0,
    intercept: bool = False,
    effects: str = "none",
    se: str = "classical",
    window=None,
    jackknife: bool = False,
    coevolution: str = "auto",
    h_domain="unit",
    grades=None,
    alternatives=None,
    backend=None,
    chunk_size=None,
    progress=None,
    correction: str = "none",
    bandwidth=None,
) -> SensitivityResults:
    """Monte Carlo weight sensitivity of indices, Haken identification, h and grades.

    Parameters
    ----------
    normalized : pandas.DataFrame
        ``region, year`` and one normalized column per indicator (the
        ``normalized`` object the weighting step publishes).  Not modified.
    weights : pandas.DataFrame
        ``subsystem, indicator, weight`` (``indicator_weights``): the
        baseline weights ``w0`` (summing to 1 within each subsystem).
    subsystems : list of str, optional
        Subsystems (order of first appearance in ``weights`` by default).
    region, year : str
        Key columns of ``normalized``.
    draws : int, default 1000
        Number of Dirichlet draws (0: only the alternatives).
    concentration : float or "uniform", default 100
        Dirichlet concentration ``c`` (``alpha = c w0``); 0 or "uniform"
        draws uniformly on each subsystem's simplex.
    seed : int, SeedSequence or Generator
        Same seed, same numbers (on every backend).
    order : "auto" or (str, str)
        Ordering rule of the identification (as ``[haken] order``).
    h_order : (str, str), optional
        Ordering whose potential gives h, grades and ranks; default the
        ordering the baseline weights identify (or ``order`` when fixed).
    alpha, min_ratio, intercept, effects, se, window, jackknife, correction, bandwidth
        As in :class:`~nqpspatial.haken.HakenModel` (pooled fits; effects "none" or "region",
        correction "none" or "jackknife": other choices raise InputError).  The verdict of each
        draw uses the t-test p-value of ``se`` (no bootstrap per draw).
    coevolution : str, default "auto"
        Strategy of h (resolved per draw for "auto").
    h_domain : "unit", "panel" or (float, float)
    grades : sequence of float, optional
        Grade edges (default ten classes of 0.1).
    alternatives : dict, optional
        Method name -> ``(normalized, weights)`` of another weighting method
        (e.g. from :func:`~nqpspatial.weighting.compute_weights`), evaluated
        side by side.
    backend : backend object, optional
        From :func:`nqpspatial.backends.open_backend` (default in-process).
    chunk_size : int, optional
        Draws per chunk (default: 250, fewer for large panels so that a
        chunk's index matrices stay near 2 million numbers).
    progress : callable, optional

    Returns
    -------
    SensitivityResults
    """
    from ..haken.grades import DEFAULT_EDGES, validate_edges

    conc = _concentration(concentration)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 0:
        raise InputError(f"draws = {draws!r}: give a whole number >= 0", source="config [sensitivity]")
    for col in (region, year):
        if col not in normalized.columns:
            raise InputError(f"the normalized table has no column {col!r}")
    subs = list(dict.fromkeys(weights["subsystem"].astype(str))) if subsystems is None else [str(s) for s in subsystems]
    if len(subs) < 2:
        raise InputError(f"weight sensitivity of the Haken chain needs two or more subsystems, got {subs}")
    indicators = [c for c in weights["indicator"].astype(str) if c in normalized.columns]
    w0, blocks = _weight_blocks(weights, subs, indicators)
    edges, _, _ = validate_edges(grades if grades is not None else DEFAULT_EDGES)
    lay = _chain.PanelLayout(
        normalized[region].to_numpy(), normalized[year].to_numpy(), tuple(window) if window else None
    )
    R = normalized[indicators].to_numpy(float)[lay.rows]
    if not np.all(np.isfinite(R)):
        raise InputError("the normalized table has missing or infinite values")
    pairs_named = _chain.orderings(subs)
    pairs = [(subs.index(a), subs.index(b)) for a, b in pairs_named]
    fixed = None
    if not (isinstance(order, str) and order == "auto"):
        order = tuple(map(str, order))
        if order not in pairs_named:
            raise InputError(f"order = {list(order)}: name two of the subsystems {subs}")
        fixed = pairs_named.index(order)
    if coevolution != "auto" and coevolution not in _chain.STRATEGY_CODES:
        raise InputError(
            f"unknown co-evolution strategy {coevolution!r}; use 'auto' or one of {list(_chain.STRATEGY_CODES)}"
        )
    opts = {
        "alpha": float(alpha),
        "min_ratio": float(min_ratio),
        "intercept": bool(intercept),
        "effects": effects,
        "se": se,
        "jackknife": bool(jackknife) or correction == "jackknife",
        "correction": correction,
        "bandwidth": bandwidth,
    }
    p = {
        "layout": lay,
        "blocks": blocks,
        "pairs": pairs,
        "fixed": fixed,
        "opts": opts,
        "w0": w0,
        "conc": conc,
        "R": R,
        "h_pair": None,
        "strategy": coevolution,
        "domain": h_domain,
        "edges": edges,
        "sign": 1.0 if coevolution == "auto" or coevolution in _chain.NORMALIZED else -1.0,
        "base_h": None,
        "base_grade": None,
        "year_rows": [np.flatnonzero(lay.years == y) for y in lay.year_values],
    }
    notes = []
    base = _evaluate(p, R, w0[None, :])
    if h_order is not None:
        h_order = tuple(map(str, h_order))
        if h_order not in pairs_named:
            raise InputError(f"h_order = {list(h_order)}: name two of the subsystems {subs}")
        p["h_pair"] = pairs_named.index(h_order)
    elif int(base["chosen"][0]) >= 0:
        p["h_pair"] = int(base["chosen"][0])
    else:
        notes.append(
            "no ordering passes the adiabatic verdict with the baseline weights: h, grades and "
            "ranks are not computed (parameters and verdict shares are)"
        )
    if p["h_pair"] is not None:
        base = _evaluate(p, R, w0[None, :])
        if bool(base["ok"][0]):
            p["base_h"] = base["h"][0]
            if coevolution == "auto" or coevolution in _chain.NORMALIZED:
                p["base_grade"] = base["grade"][0]
        else:
            notes.append(
                "h is undefined with the baseline weights (no valid potential): ranks and grade "
                "changes are not computed"
            )
    if chunk_size is None:
        chunk_size = int(max(1, min(DEFAULT_CHUNK, 2_000_000 // max(1, lay.n * len(subs)))))
    run = _run_folded(p, int(draws), seed, int(chunk_size), backend, progress)
    alt = {}
    for name, (norm_m, w_m) in (alternatives or {}).items():
        alt[name] = _alternative(p, normalized, region, year, indicators, subs, norm_m, w_m, lay)
    table, regions, draws_tab, rank_tab, wtab = _assemble(
        p, run, base, alt, subs, pairs_named, indicators, weights, lay
    )
    options = {
        "draws": int(draws),
        "concentration": conc,
        "concentration_label": "uniform on the simplex" if conc == 0 else f"{conc:g}",
        "chunk_size": int(chunk_size),
        "h_pair": list(pairs_named[p["h_pair"]]) if p["h_pair"] is not None else None,
        "order": "auto" if fixed is None else list(pairs_named[fixed]),
        "strategy": coevolution,
        "h_domain": h_domain if isinstance(h_domain, str) else list(h_domain),
        **opts,
        "window": list(window) if window else None,
        "methods": list(alt),
    }
    return SensitivityResults(table, regions, draws_tab, rank_tab, wtab, options, notes)


#: The per-observation (and per-indicator) accumulators of a chunk, folded as the chunks finish.
_FOLD_SUM = ("W_sum", "W_sq", "n_ok", "grade_change", "rank_n", "rank_sum", "rank_sq", "h_sum", "h_sq")
_FOLD_MIN, _FOLD_MAX = ("rank_min",), ("rank_max",)
#: Cells (draws x region-years) of the chunks run between two folds.
FOLD_CELLS = 8_000_000


def _run_folded(p, draws: int, seed, chunk_size: int, backend, progress) -> dict:
    """The sensitivity chunks, their per-observation accumulators folded a group of chunks at a time.

    Collecting every chunk's accumulators (ten arrays of one value per region-year) before adding them
    up held ``chunks x region-years`` values: 8 GB at 30,000 regions x 10 periods, where the chunks are 3
    draws each, and more than the machine at 100,000.  The chunks (the same tasks and generators) now run
    in groups of about :data:`FOLD_CELLS` draw-cells, and after each group the accumulators are added to
    running totals in chunk order, ``((0 + a_0) + a_1) + ...``, as ``sum`` over the collected list did,
    and minima and maxima taken elementwise: the same bits.

    Returns
    -------
    dict
        ``"parts"``: the chunks' per-draw results in chunk order (without the folded keys) and
        ``"folded"``: the folded totals.
    """
    tasks = plan_chunks(draws, seed, chunk_size)
    be = backend if backend is not None else InProcessBackend()
    per_group = max(2 * max(1, getattr(be, "workers", 1)), FOLD_CELLS // max(1, chunk_size * p["layout"].n))
    pending = iter(tasks if progress is None else progress(tasks, total=len(tasks), desc="chunks"))
    parts, folded = [], {}
    while group := list(itertools.islice(pending, per_group)):
        for part in be.map(_sensitivity_chunk, p, group):
            for key in _FOLD_SUM:
                if key in part:
                    folded[key] = folded.get(key, 0) + part.pop(key)
            for key in _FOLD_MIN + _FOLD_MAX:
                if key in part:
                    v = part.pop(key)
                    if key not in folded:
                        folded[key] = v
                    else:
                        folded[key] = (np.minimum if key in _FOLD_MIN else np.maximum)(folded[key], v)
            parts.append(part)
    return {"parts": parts, "folded": folded}


def _alternative(p, normalized, region, year, indicators, subs, norm_m, w_m, lay):
    # region-year keys compared as text (as the tables were written), column-wise, not row by row
    keys = pd.MultiIndex.from_frame(normalized[[region, year]].astype(str))
    mk = pd.MultiIndex.from_frame(norm_m[[region, year]].astype(str))
    pos = mk.get_indexer(keys)
    if (pos < 0).any():
        raise InputError("an alternative method's normalized table lacks region-years of the baseline")
    Rm = norm_m[indicators].to_numpy(float)[pos][lay.rows]
    wm, _ = _weight_blocks(w_m, subs, indicators)
    ev = _evaluate(p, Rm, wm[None, :])
    return {"ev": ev, "red": _reduce(p, wm[None, :], ev), "w": wm}


def _nanmean(arr, axis: int) -> np.ndarray:
    """``numpy.nanmean`` that gives NaN for an all-NaN slice without a RuntimeWarning."""
    arr = np.asarray(arr, dtype=float)
    n = np.isfinite(arr).sum(axis=axis)
    total = np.where(np.isfinite(arr), arr, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _assemble(p, run, base, alt, subs, pairs_named, indicators, weights, lay):
    parts, folded = run["parts"], run["folded"]
    D = sum(x["D"] for x in parts)
    rows = []
    K = len(indicators)
    cat = (lambda key: np.concatenate([x[key] for x in parts])) if parts else None
    par = cat("par") if parts else np.zeros((0, len(pairs_named), len(PARAMETERS)))
    passing = cat("pass") if parts else np.zeros((0, len(pairs_named)), bool)
    chosen = cat("chosen") if parts else np.zeros(0, int)
    bfits = base["fits"]
    # parameters and verdicts per ordering
    for k, (a, b) in enumerate(pairs_named):
        for j, name in enumerate(PARAMETERS):
            rows.append(
                {
                    "kind": "parameter",
                    "source": "dirichlet",
                    "q1": a,
                    "q2": b,
                    "statistic": name,
                    **_qname(_stats_row(par[:, k, j], float(bfits[k][name][0]))),
                }
            )
        rows.append(
            {
                "kind": "verdict",
                "source": "dirichlet",
                "q1": a,
                "q2": b,
                "statistic": "adiabatic",
                **_qname(_stats_row(passing[:, k].astype(float), float(bfits[k]["adiabatic"][0]), True)),
            }
        )
        rows.append(
            {
                "kind": "verdict",
                "source": "dirichlet",
                "q1": a,
                "q2": b,
                "statistic": "chosen",
                **_qname(_stats_row((chosen == k).astype(float), float(base["chosen"][0] == k), True)),
            }
        )
        for name, m in alt.items():
            f = m["ev"]["fits"][k]
            for stat in PARAMETERS:
                v = float(f[stat][0])
                rows.append(
                    {
                        "kind": "parameter",
                        "source": name,
                        "q1": a,
                        "q2": b,
                        "statistic": stat,
                        "baseline": float(bfits[k][stat][0]),
                        "mean": v,
                        "n": 1,
                    }
                )
            rows.append(
                {
                    "kind": "verdict",
                    "source": name,
                    "q1": a,
                    "q2": b,
                    "statistic": "adiabatic",
                    "baseline": float(bfits[k]["adiabatic"][0]),
                    "mean": float(f["adiabatic"][0]),
                    "share": float(f["adiabatic"][0]),
                    "n": 1,
                }
            )
            rows.append(
                {
                    "kind": "verdict",
                    "source": name,
                    "q1": a,
                    "q2": b,
                    "statistic": "chosen",
                    "baseline": float(base["chosen"][0] == k),
                    "mean": float(m["ev"]["chosen"][0] == k),
                    "share": float(m["ev"]["chosen"][0] == k),
                    "n": 1,
                }
            )
    rows.append(
        {
            "kind": "verdict",
            "source": "dirichlet",
            "q1": None,
            "q2": None,
            "statistic": "no_order_parameter",
            **_qname(_stats_row((chosen < 0).astype(float), float(base["chosen"][0] < 0), True)),
        }
    )
    # weights
    wsum = folded["W_sum"] if parts else np.zeros(K)
    wsq = folded["W_sq"] if parts else np.zeros(K)
    with np.errstate(invalid="ignore", divide="ignore"):
        wmean = wsum / D if D else np.full(K, np.nan)
        wsd = np.sqrt(np.maximum(wsq - D * wmean**2, 0) / (D - 1)) if D > 1 else np.full(K, np.nan)
    sub_of = weights.set_index(weights["indicator"].astype(str))["subsystem"].astype(str)
    wtab = pd.DataFrame(
        {
            "subsystem": sub_of.loc[indicators].to_numpy(),
            "indicator": indicators,
            "weight": p["w0"],
            "draw_mean": wmean,
            "draw_sd": wsd,
        }
    )
    for name, m in alt.items():
        wtab[f"weight_{name}"] = m["w"]
    # per-draw table
    dt = []
    for k, (a, b) in enumerate(pairs_named):
        d = pd.DataFrame(par[:, k, :], columns=list(PARAMETERS))
        d.insert(0, "q2", b)
        d.insert(0, "q1", a)
        d.insert(0, "draw", np.arange(D))
        d["adiabatic"] = passing[:, k]
        d["chosen"] = chosen == k
        dt.append(d)
    draws_tab = pd.concat(dt, ignore_index=True).sort_values(["draw", "q1", "q2"], kind="stable").reset_index(drop=True)
    years = lay.year_values
    rank_tab = pd.DataFrame(columns=["draw", "year", "spearman", "kendall"])
    reg = pd.DataFrame({"region": lay.region_of_row, "year": lay.years})
    if p["h_pair"] is not None:
        a, b = pairs_named[p["h_pair"]]
        ok = cat("ok") if parts else np.zeros(0, bool)
        strat = cat("strategy") if parts else np.zeros(0, int)
        rows.append(
            {
                "kind": "potential",
                "source": "dirichlet",
                "q1": a,
                "q2": b,
                "statistic": "h_defined",
                **_qname(_stats_row(ok.astype(float), float(base["ok"][0]), True)),
            }
        )
        rows.append(
            {
                "kind": "potential",
                "source": "dirichlet",
                "q1": a,
                "q2": b,
                "statistic": "stable_point_exists",
                **_qname(
                    _stats_row(cat("has_stable").astype(float) if parts else [], float(base["has_stable"][0]), True)
                ),
            }
        )
        for name in ("q_star", "V_star"):
            rows.append(
                {
                    "kind": "potential",
                    "source": "dirichlet",
                    "q1": a,
                    "q2": b,
                    "statistic": name,
                    **_qname(_stats_row(cat(name) if parts else [], float(base[name][0]))),
                }
            )
        for code, sname in _chain.STRATEGY_NAMES.items():
            if (strat == code).any() or int(base["strategy"][0]) == code:
                rows.append(
                    {
                        "kind": "potential",
                        "source": "dirichlet",
                        "q1": a,
                        "q2": b,
                        "statistic": f"strategy_{sname}",
                        **_qname(_stats_row((strat == code).astype(float), float(base["strategy"][0] == code), True)),
                    }
                )
        sp = cat("spearman") if parts else np.zeros((0, len(years)))
        kt = cat("kendall") if parts else np.zeros((0, len(years)))
        for t, y in enumerate(years):
            for name, arr in (("spearman", sp), ("kendall", kt)):
                rows.append(
                    {
                        "kind": "rank",
                        "source": "dirichlet",
                        "q1": a,
                        "q2": b,
                        "year": int(y),
                        "statistic": name,
                        **_qname(_stats_row(arr[:, t], 1.0)),
                    }
                )
        for name, arr in (("spearman", sp), ("kendall", kt)):
            rows.append(
                {
                    "kind": "rank",
                    "source": "dirichlet",
                    "q1": a,
                    "q2": b,
                    "statistic": name,
                    **_qname(_stats_row(_nanmean(arr, axis=1) if arr.size and len(arr) else [], 1.0)),
                }
            )
        if len(sp):
            rank_tab = pd.DataFrame(
                {
                    "draw": np.repeat(np.arange(D), len(years)),
                    "year": np.tile(years, D),
                    "spearman": sp.ravel(),
                    "kendall": kt.ravel(),
                }
            )
            rank_tab = rank_tab[np.repeat(ok, len(years))].reset_index(drop=True)
        # per region-year
        n_ok = folded["n_ok"] if parts else 0
        reg["h_baseline"] = p["base_h"] if p["base_h"] is not None else np.nan
        reg["grade_baseline"] = (
            pd.array(p["base_grade"], dtype="Int64")
            if p["base_grade"] is not None
            else pd.array([pd.NA] * lay.n, dtype="Int64")
        )
        if p["base_grade"] is not None:
            reg["grade_baseline"] = reg["grade_baseline"].where(reg["grade_baseline"] > 0, pd.NA)
        with np.errstate(invalid="ignore", divide="ignore"):
            if p["base_grade"] is not None and n_ok:
                reg["grade_change_share"] = folded["grade_change"] / n_ok
            else:
                reg["grade_change_share"] = np.nan
            base_rank = np.full(lay.n, np.nan)
            if p["base_h"] is not None:
                for rws in p["year_rows"]:
                    base_rank[rws] = _chain.rank_desc(p["sign"] * p["base_h"][rws])
            reg["rank_baseline"] = base_rank
            rn = folded["rank_n"] if parts else np.zeros(lay.n)
            rs = folded["rank_sum"] if parts else np.zeros(lay.n)
            rq = folded["rank_sq"] if parts else np.zeros(lay.n)
            rmean = np.where(rn > 0, rs / np.maximum(rn, 1), np.nan)
            reg["rank_mean"] = rmean
            reg["rank_sd"] = np.where(
                rn > 1, np.sqrt(np.maximum(rq - rn * rmean**2, 0) / np.maximum(rn - 1, 1)), np.nan
            )
            rmin = folded["rank_min"] if parts else np.full(lay.n, np.inf)
            rmax = folded["rank_max"] if parts else np.full(lay.n, -np.inf)
            reg["rank_min"] = np.where(np.isfinite(rmin), rmin, np.nan)
            reg["rank_max"] = np.where(np.isfinite(rmax), rmax, np.nan)
            hs = folded["h_sum"] if parts else np.zeros(lay.n)
            hq = folded["h_sq"] if parts else np.zeros(lay.n)
            hmean = hs / n_ok if n_ok else np.full(lay.n, np.nan)
            reg["h_mean"] = hmean
            reg["h_sd"] = np.sqrt(np.maximum(hq - n_ok * hmean**2, 0) / (n_ok - 1)) if n_ok > 1 else np.nan
        reg["n_draws"] = n_ok
        ymean_sp = pd.Series(_nanmean(sp, axis=0) if len(sp) else np.full(len(years), np.nan), index=years)
        ymean_kt = pd.Series(_nanmean(kt, axis=0) if len(kt) else np.full(len(years), np.nan), index=years)
        reg["spearman_year_mean"] = ymean_sp.reindex(lay.years).to_numpy()
        reg["kendall_year_mean"] = ymean_kt.reindex(lay.years).to_numpy()
        if p["base_grade"] is not None and n_ok:
            rows.append(
                {
                    "kind": "grade",
                    "source": "dirichlet",
                    "q1": a,
                    "q2": b,
                    "statistic": "grade_change",
                    **_qname(_stats_row(reg["grade_change_share"].to_numpy(), 0.0)),
                    "share": float(reg["grade_change_share"].mean()),
                }
            )
        # alternatives side by side
        for name, m in alt.items():
            ev = m["ev"]
            okm = bool(ev["ok"][0])
            hm = ev["h"][0] if okm else np.full(lay.n, np.nan)
            reg[f"h_{name}"] = hm
            gm = ev["grade"][0] if okm else np.zeros(lay.n, int)
            reg[f"grade_{name}"] = pd.array(np.where(gm > 0, gm, 0), dtype="Int64")
            reg[f"grade_{name}"] = reg[f"grade_{name}"].where(reg[f"grade_{name}"] > 0, pd.NA)
            rk = np.full(lay.n, np.nan)
            if okm:
                for rws in p["year_rows"]:
                    rk[rws] = _chain.rank_desc(p["sign"] * hm[rws])
            reg[f"rank_{name}"] = rk
            spm, ktm = m["red"].get("spearman"), m["red"].get("kendall")
            for t, y in enumerate(years):
                for stat, arr in (("spearman", spm), ("kendall", ktm)):
                    val = float(arr[0, t]) if arr is not None else np.nan
                    rows.append(
                        {
                            "kind": "rank",
                            "source": name,
                            "q1": a,
                            "q2": b,
                            "year": int(y),
                            "statistic": stat,
                            "baseline": 1.0,
                            "mean": val,
                            "n": int(np.isfinite(val)),
                        }
                    )
            for stat, arr in (("spearman", spm), ("kendall", ktm)):
                val = float(np.nanmean(arr[0])) if arr is not None and np.isfinite(arr[0]).any() else np.nan
                rows.append(
                    {
                        "kind": "rank",
                        "source": name,
                        "q1": a,
                        "q2": b,
                        "statistic": stat,
                        "baseline": 1.0,
                        "mean": val,
                        "n": int(np.isfinite(val)),
                    }
                )
            if p["base_grade"] is not None:
                ch = float(np.mean(gm != p["base_grade"])) if okm else np.nan
                rows.append(
                    {
                        "kind": "grade",
                        "source": name,
                        "q1": a,
                        "q2": b,
                        "statistic": "grade_change",
                        "baseline": 0.0,
                        "mean": ch,
                        "share": ch,
                        "n": int(okm),
                    }
                )
            rows.append(
                {
                    "kind": "potential",
                    "source": name,
                    "q1": a,
                    "q2": b,
                    "statistic": "h_defined",
                    "baseline": float(base["ok"][0]),
                    "mean": float(okm),
                    "share": float(okm),
                    "n": 1,
                }
            )
    table = pd.DataFrame(rows)
    for c in SUMMARY_COLUMNS:
        if c not in table.columns:
            table[c] = np.nan
    table["year"] = pd.array(table["year"], dtype="Int64")
    table["n"] = pd.array(table["n"].fillna(0).astype(int), dtype="Int64")
    table = table[SUMMARY_COLUMNS + [c for c in table.columns if c not in SUMMARY_COLUMNS]]
    for c in REGION_COLUMNS:
        if c not in reg.columns:
            reg[c] = np.nan
    regions = reg[REGION_COLUMNS + [c for c in reg.columns if c not in REGION_COLUMNS]].reset_index(drop=True)
    return table, regions, draws_tab, rank_tab, wtab
