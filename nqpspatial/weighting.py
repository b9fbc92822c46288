"""Objective indicator weights (CRITIC, entropy) and subsystem indices.

The public entry point is :func:`compute_weights`: it normalizes an
indicator panel (region x year), weights the indicators within each
subsystem and aggregates them into subsystem indices (and dimension
sub-indices).  :func:`critic_weights` and :func:`entropy_weights` are the
two objective weighting rules on an already normalized matrix;
:func:`~nqpspatial.weighting.normalize` is the min-max step.

Methods
-------
``critic``
    Diakoulaki, Mavrotas & Papayannakis (1995): ``C_j = sigma_j *
    sum_k (1 - r_jk)`` (or ``1 - |r_jk|``), ``w_j = C_j / sum C``.
``entropy``
    Shannon entropy weighting (Hwang & Yoon 1981; Zeleny 1982):
    ``p_ij = r_ij / sum_i r_ij``, ``e_j = -(1/ln m) sum_i p_ij ln p_ij``,
    ``w_j = (1 - e_j) / sum (1 - e)``.
``critic-entropy``
    Arithmetic mean of the two, renormalized.
``equal``
    ``1/k`` for the ``k`` indicators of a subsystem (or dimension).
``fixed``
    The user's weights from the indicator table, renormalized.

See ``docs/weighting.md`` for the conventions and defaults.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd

from ._normalize import (
    _as_float_matrix,
    _check_shift,
    _is_direction,
    _zero_range_message,
    normalize,
    zero_range_columns,
)
from .errors import InputError
from .results import Results, Summary

__all__ = [
    "critic_weights",
    "entropy_weights",
    "compute_weights",
    "WeightingResult",
    "normalize",
    "METHODS",
    "AGGREGATIONS",
    "DEFAULT_ENTROPY_SHIFT",
]

#: Weighting methods understood by :func:`compute_weights`.
METHODS = ("critic", "entropy", "equal", "fixed", "critic-entropy")
#: Shift used for the entropy method when the user gives none:
#: ``r' = 0.002 + 0.996 r``.
DEFAULT_ENTROPY_SHIFT = 0.002

#: ``source`` of the errors that concern the indicator table (the pipeline names the file instead).
INDICATOR_TABLE = "indicator table"

_NORMALIZATIONS = ("pooled", "by-year")
_CONFLICTS = ("signed", "absolute")
_CRITIC_COSTS = ("reverse-first", "benefit-all")
_ZERO_VARIANCE = ("error", "zero-weight")
#: Aggregations of normalized indicators into indices: weighted sum or TOPSIS closeness.
AGGREGATIONS = ("sum", "topsis")
_TOPSIS_IDEALS = ("pooled", "by-year")


# ---------------------------------------------------------------------------
# pure numerical kernels
# ---------------------------------------------------------------------------


def _critic_parts(R: np.ndarray, conflict: str, names=None) -> dict[str, np.ndarray]:
    """CRITIC on a float matrix (rows = observations, columns = criteria)."""
    n, k = R.shape
    if n < 2:
        raise InputError(f"CRITIC needs at least 2 rows (observations), got {n}")
    sigma = R.std(axis=0)  # ddof = 0; any ddof gives the same weights
    const = np.flatnonzero(~(sigma > 0))
    if const.size:
        cols = [names[j] if names is not None else j for j in const]
        raise InputError(
            "CRITIC is undefined for constant column(s) "
            f"{', '.join(map(repr, cols))} (zero standard deviation, so no "
            "correlation): remove them or give them weight 0 "
            '(zero_variance = "zero-weight")'
        )
    if k == 1:
        one = np.ones(1)
        return {"sigma": sigma, "conflict": np.zeros(1), "information": np.zeros(1), "weight": one}
    corr = np.clip(np.corrcoef(R, rowvar=False), -1.0, 1.0)
    if conflict == "absolute":
        corr = np.abs(corr)
    conf = (1.0 - corr).sum(axis=0)
    info = sigma * conf
    if not conf.max() > 1e-12:
        cols = list(names) if names is not None else list(range(k))
        raise InputError(
            "CRITIC is undefined: columns "
            f"{', '.join(map(repr, cols))} are perfectly correlated with each other "
            "(no conflict at all, 0/0 weights); keep one of them or use another "
            "weighting method"
        )
    return {"sigma": sigma, "conflict": conf, "information": info, "weight": info / info.sum()}


def _entropy_parts(R: np.ndarray, names=None) -> dict[str, np.ndarray]:
    """Entropy weighting on a strictly positive float matrix."""
    m, k = R.shape
    if m < 2:
        raise InputError(f"entropy weighting needs at least 2 rows (observations), got {m}")
    bad = np.flatnonzero((R <= 0).any(axis=0))
    if bad.size:
        cols = [names[j] if names is not None else j for j in bad]
        raise InputError(
            "entropy weighting needs strictly positive normalized values, but "
            f"column(s) {', '.join(map(repr, cols))} contain zeros or negative "
            "values: use a shift (e.g. shift = 0.002 maps min-max values into "
            "[0.002, 0.998])"
        )
    P = R / R.sum(axis=0)
    e = -(P * np.log(P)).sum(axis=0) / math.log(m)
    # e <= 1 in exact arithmetic; clear round-off on near-uniform columns
    div = np.maximum(1.0 - e, 0.0)
    if k == 1:
        return {"entropy": e, "divergence": div, "weight": np.ones(1)}
    if not div.sum() > 0:
        raise InputError(
            "entropy weighting is undefined: every column is spread perfectly "
            "evenly (entropy 1, 0/0 weights); use another weighting method"
        )
    return {"entropy": e, "divergence": div, "weight": div / div.sum()}


def _check_matrix_frame(normalized: pd.DataFrame, what: str) -> np.ndarray:
    if not isinstance(normalized, pd.DataFrame):
        raise InputError(f"{what} needs a pandas DataFrame with one normalized column per indicator")
    if normalized.shape[1] == 0:
        raise InputError(f"{what} needs at least one indicator column")
    return _as_float_matrix(normalized)


def critic_weights(normalized: pd.DataFrame, *, conflict: str = "signed") -> pd.Series:
    """CRITIC weights (Diakoulaki, Mavrotas & Papayannakis 1995).

    ``sigma_j`` is the standard deviation of column ``j``, ``r_jk`` the
    Pearson correlation of columns ``j`` and ``k``; the information of
    column ``j`` is ``C_j = sigma_j * sum_k (1 - r_jk)`` (``conflict =
    "signed"``) or ``sigma_j * sum_k (1 - |r_jk|)`` (``"absolute"``), and
    ``w_j = C_j / sum_k C_k``.  The choice of ``ddof`` cancels.

    Parameters
    ----------
    normalized : pandas.DataFrame
        Normalized values, one column per criterion (indicator), one row per
        observation; only indicator columns.  Cost columns should already be
        reversed if that is the convention wanted.
    conflict : {"signed", "absolute"}, default "signed"
        ``1 - r`` (the original definition) or ``1 - |r|``.

    Returns
    -------
    pandas.Series
        Weights indexed by column name, non-negative, summing to 1.  A single
        column gets weight 1.

    Raises
    ------
    InputError
        A constant column (correlation undefined), fewer than 2 rows, missing
        values, or all columns perfectly correlated (0/0).
    """
    if conflict not in _CONFLICTS:
        raise InputError(f"conflict must be one of {_CONFLICTS}, got {conflict!r}")
    R = _check_matrix_frame(normalized, "critic_weights")
    parts = _critic_parts(R, conflict, list(normalized.columns))
    return pd.Series(parts["weight"], index=normalized.columns, name="weight")


def entropy_weights(normalized: pd.DataFrame) -> pd.Series:
    """Entropy weights (Shannon entropy weighting; Hwang & Yoon 1981, Zeleny 1982).

    ``p_ij = r_ij / sum_i r_ij``, ``e_j = -(1/ln m) sum_i p_ij ln p_ij`` with
    ``m`` the number of rows, ``w_j = (1 - e_j) / sum_k (1 - e_k)``.

    Parameters
    ----------
    normalized : pandas.DataFrame
        Strictly positive normalized values, one column per indicator; only
        indicator columns.  Min-max values contain 0: shift them first (e.g.
        ``normalize(..., shift=0.002)``).

    Returns
    -------
    pandas.Series
        Weights indexed by column name, non-negative, summing to 1.  A single
        column gets weight 1.

    Raises
    ------
    InputError
        A value is zero or negative (the message suggests a shift), fewer
        than 2 rows, missing values, or every column has entropy 1.
    """
    R = _check_matrix_frame(normalized, "entropy_weights")
    parts = _entropy_parts(R, list(normalized.columns))
    return pd.Series(parts["weight"], index=normalized.columns, name="weight")


# ---------------------------------------------------------------------------
# results object
# ---------------------------------------------------------------------------


class WeightingResult(Results):
    """Indicator weights, normalized panel and subsystem indices.

    Attributes
    ----------
    weights : pandas.DataFrame
        One row per indicator: ``subsystem, dimension, indicator, direction,
        weight, method`` then ``weight_in_dimension`` (the weight
        renormalized within its dimension, NaN without dimension),
        ``dimension_weight`` (weight of its dimension in the subsystem),
        CRITIC diagnostics ``sigma, conflict, information``, entropy
        diagnostics ``entropy, divergence`` (NaN where not computed;
        with ``levels=2`` they refer to the computation within the
        dimension), ``weight_critic, weight_entropy`` (the two parts of
        ``critic-entropy``) and ``note``.  Weights sum to 1 within each
        subsystem.
    dimension_weights : pandas.DataFrame
        ``subsystem, dimension, weight, n_indicators`` (empty without
        dimensions); ``weight`` is the dimension's share of the subsystem.
        With ``levels=2`` also the diagnostics of the method applied to
        the dimension sub-indices (``sigma, conflict, information`` for
        CRITIC, ``entropy, divergence`` for entropy, all of these and
        ``weight_critic, weight_entropy`` for CRITIC-entropy).
    normalized : pandas.DataFrame
        ``region, year`` and one direction-aware normalized column per
        indicator: the values the indices are built from (by-year normalized
        when ``normalization="by-year"``, shifted by the effective shift).
    indices : pandas.DataFrame
        ``region, year``, one column per subsystem (indicator-list order),
        then the dimension sub-indices ``<subsystem>.<dimension>``.
    options : dict
        The resolved options, the effective shifts and notes (a copy).
    """

    def __init__(
        self,
        weights: pd.DataFrame,
        dimension_weights: pd.DataFrame,
        normalized: pd.DataFrame,
        indices: pd.DataFrame,
        options: dict,
    ):
        self._set("weights", weights)
        self._set("dimension_weights", dimension_weights)
        self._set("normalized", normalized)
        self._set("indices", indices)
        self._set("_options", copy.deepcopy(options))
        self._freeze()

    @property
    def options(self) -> dict:
        """The resolved options (a deep copy)."""
        return copy.deepcopy(self._options)

    @property
    def subsystems(self) -> list[str]:
        """Subsystem names in indicator-list order."""
        return list(self._options["subsystems"])

    def summary(self) -> Summary:
        """Summary: options, the weights table and the dimension weights."""
        o = self._options
        facts = {
            "method": o["method"],
            "normalization": o["normalization"],
            "levels": o["levels"],
            "aggregation": o.get("aggregation", "sum")
            + (f" (ideal {o['topsis_ideal']})" if o.get("aggregation") == "topsis" else ""),
            "shift (normalized values)": o["shift"],
            "observations (rows)": o["n_rows"],
            "indicators": o["n_indicators"],
            "subsystems": ", ".join(o["subsystems"]),
        }
        if o["method"] in ("critic", "critic-entropy"):
            facts["CRITIC conflict"] = o["critic_conflict"]
            facts["CRITIC cost handling"] = o["critic_cost"]
        if o["method"] in ("entropy", "critic-entropy"):
            facts["entropy shift"] = o["entropy_shift"]
        w = self._get_table("weights")
        cols = ["subsystem", "dimension", "indicator", "direction", "weight"]
        if w["dimension"].ne("").any():
            cols.append("weight_in_dimension")
        cols.append("note")
        tables = {"Indicator weights": w[cols]}
        dw = self._get_table("dimension_weights")
        if len(dw):
            tables["Dimension weights"] = dw
        return Summary(
            title="Indicator weights and subsystem indices", facts=facts, tables=tables, notes=tuple(o["notes"])
        )

    def _get_table(self, name):
        return object.__getattribute__(self, name).copy()

    def __repr__(self) -> str:
        o = self._options
        return (
            f"<WeightingResult method={o['method']!r} normalization={o['normalization']!r} "
            f"levels={o['levels']} subsystems={o['subsystems']!r}>"
        )


# ---------------------------------------------------------------------------
# compute_weights
# ---------------------------------------------------------------------------


def _choice(name: str, value, allowed) -> Any:
    if value not in allowed:
        raise InputError(
            f"weighting option {name} = {value!r} is not allowed: use one of " + ", ".join(repr(a) for a in allowed)
        )
    return value


def _prepare_indicators(indicators: pd.DataFrame, method: str) -> pd.DataFrame:
    if not isinstance(indicators, pd.DataFrame):
        raise InputError("the indicator table must be a pandas DataFrame")
    need = ["indicator", "subsystem", "direction"] + (["weight"] if method == "fixed" else [])
    missing = [c for c in need if c not in indicators.columns]
    if missing:
        raise InputError(
            f"the indicator table lacks column(s) {', '.join(missing)}"
            + (" (method \"fixed\" reads the weights from column 'weight')" if "weight" in missing else "")
        )
    if len(indicators) == 0:
        raise InputError("the indicator table is empty: list at least one indicator")
    ind = pd.DataFrame(
        {
            "indicator": indicators["indicator"].astype(str).to_numpy(dtype=object),
            "subsystem": indicators["subsystem"].astype(str).to_numpy(dtype=object),
        }
    )
    if "dimension" in indicators.columns:
        dim = indicators["dimension"]
        ind["dimension"] = [
            ("" if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA) else str(v).strip())
            for v in dim
        ]
    else:
        ind["dimension"] = ""
    dirs = []
    for name, d in zip(ind["indicator"], indicators["direction"]):
        if not _is_direction(d):
            raise InputError(f"indicator table, row of {name!r}: direction {d!r} must be +1 (benefit) or -1 (cost)")
        dirs.append(int(float(d)))
    ind["direction"] = np.asarray(dirs, dtype=np.int64)
    if "weight" in indicators.columns:
        ind["user_weight"] = pd.to_numeric(indicators["weight"], errors="coerce").to_numpy(float)
    else:
        ind["user_weight"] = np.nan
    dup = ind["indicator"][ind["indicator"].duplicated()].unique().tolist()
    if dup:
        raise InputError(
            f"indicator table lists {', '.join(map(repr, dup))} more than once: "
            "each indicator must appear in exactly one row"
        )
    return ind


def _subsystem_order(ind: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(ind["subsystem"]))


def _fixed_weights(sub: pd.DataFrame, subsystem: str) -> np.ndarray:
    uw = sub["user_weight"].to_numpy(float)
    inf = sub["indicator"][np.isinf(uw)].tolist()
    if inf:
        raise InputError(
            f'method "fixed": the weight of {", ".join(map(repr, inf))} (subsystem {subsystem!r}) '
            "is infinite: give a finite number >= 0 in the 'weight' column of the indicator table",
            source=INDICATOR_TABLE,
        )
    miss = sub["indicator"][np.isnan(uw)].tolist()
    if miss:
        raise InputError(
            f'method "fixed" needs a weight for every indicator, but subsystem '
            f"{subsystem!r} has none for {', '.join(map(repr, miss))}: fill the "
            "'weight' column of the indicator table",
            source=INDICATOR_TABLE,
        )
    neg = sub["indicator"][uw < 0].tolist()
    if neg:
        raise InputError(
            f'method "fixed": negative weight for {", ".join(map(repr, neg))} '
            f"(subsystem {subsystem!r}): weights must be >= 0",
            source=INDICATOR_TABLE,
        )
    if not uw.sum() > 0:
        raise InputError(
            f'method "fixed": all weights of subsystem {subsystem!r} are 0: give '
            "at least one indicator a positive weight",
            source=INDICATOR_TABLE,
        )
    return uw


class _Weigher:
    """Applies one weighting method to blocks of columns (pure, no I/O)."""

    def __init__(self, method, critic_conflict, critic_cost, critic_shift, entropy_shift):
        self.method = method
        self.critic_conflict = critic_conflict
        self.critic_cost = critic_cost
        self.critic_shift = critic_shift
        self.entropy_shift = entropy_shift

    def __call__(self, R0: np.ndarray, dirs: np.ndarray, names) -> dict[str, np.ndarray]:
        """Weights of the columns of ``R0`` (unshifted, direction-aware, in [0, 1])."""
        k = R0.shape[1]
        nan = np.full(k, np.nan)
        out = {
            key: nan.copy()
            for key in ("sigma", "conflict", "information", "entropy", "divergence", "weight_critic", "weight_entropy")
        }
        if k == 1:
            out["weight"] = np.ones(1)
            return out
        if self.method == "equal":
            out["weight"] = np.full(k, 1.0 / k)
            return out
        w_c = w_e = None
        if self.method in ("critic", "critic-entropy"):
            Rc = R0 if self.critic_cost == "reverse-first" else np.where(dirs > 0, R0, 1.0 - R0)
            s = self.critic_shift
            if s:
                Rc = s + (1.0 - 2.0 * s) * Rc
            p = _critic_parts(Rc, self.critic_conflict, names)
            out.update(sigma=p["sigma"], conflict=p["conflict"], information=p["information"])
            w_c = p["weight"]
        if self.method in ("entropy", "critic-entropy"):
            s = self.entropy_shift
            Re = s + (1.0 - 2.0 * s) * R0 if s else R0
            p = _entropy_parts(Re, names)
            out.update(entropy=p["entropy"], divergence=p["divergence"])
            w_e = p["weight"]
        if self.method == "critic":
            out["weight"] = w_c
        elif self.method == "entropy":
            out["weight"] = w_e
        else:
            out["weight_critic"] = w_c
            out["weight_entropy"] = w_e
            w = 0.5 * (w_c + w_e)
            out["weight"] = w / w.sum()
        return out


def _zero_note(groups) -> str:
    if groups is None:
        return "zero range over all rows: weight 0"
    shown = ", ".join(str(g.item() if isinstance(g, np.generic) else g) for g in groups)
    return f"zero range within year(s) {shown}: weight 0"


def _aggregator(aggregation: str, groups):
    """``f(R, w, label) -> index``: the weighted sum, or the TOPSIS closeness (ideal pooled or per group)."""
    if aggregation == "sum":
        return lambda R, w, label: R @ w

    from .topsis import topsis

    def closeness(R, w, label):
        try:
            return topsis(R, w, groups=groups)
        except InputError as exc:
            raise InputError(f"{label}: {exc.detail}") from None

    return closeness


def compute_weights(
    panel: pd.DataFrame,
    indicators: pd.DataFrame,
    *,
    region: str = "region",
    year: str = "year",
    method: str = "critic",
    normalization: str = "pooled",
    critic_conflict: str = "signed",
    critic_cost: str = "reverse-first",
    levels: int = 1,
    zero_variance: str = "error",
    shift: float | None = None,
    aggregation: str = "sum",
    topsis_ideal: str = "pooled",
) -> WeightingResult:
    """Normalize a panel, weight its indicators and build subsystem indices.

    Weights are computed within each subsystem (they sum to 1 there) on the
    *pooled* normalized panel, whatever ``normalization`` says; the indices
    ``U_it = sum_j w_j r_itj`` use the values normalized as ``normalization``
    says.

    Parameters
    ----------
    panel : pandas.DataFrame
        Region column, year column and one numeric column per indicator (no
        missing values).  Other columns are ignored.  Not modified.
    indicators : pandas.DataFrame
        Columns ``indicator``, ``subsystem``, ``direction`` (+1 benefit, -1
        cost), optionally ``dimension`` ("" or NaN for none) and ``weight``
        (required with ``method="fixed"``).  Subsystem order is the order of
        first appearance.
    region, year : str
        Names of the region and year columns of ``panel``.
    method : {"critic", "entropy", "equal", "fixed", "critic-entropy"}
        Weighting rule; ``critic-entropy`` is the renormalized arithmetic
        mean of the CRITIC and entropy weights.
    normalization : {"pooled", "by-year"}
        Min-max over all region-years, or within each year (indices only).
    critic_conflict : {"signed", "absolute"}
        CRITIC conflict ``1 - r`` or ``1 - |r|``.
    critic_cost : {"reverse-first", "benefit-all"}
        CRITIC on the direction-aware normalized columns (cost columns
        reversed), or with every column normalized as a benefit for the
        weight computation only (pyrepo-mcda, pymcdm convention).
    levels : {1, 2}
        1: indicator weights within the subsystem.  2: indicator weights
        within each dimension, then dimension weights within the subsystem
        by the same method applied to the dimension sub-index columns; the
        final weight is the product.  Requires a dimension for every
        indicator.
    zero_variance : {"error", "zero-weight"}
        A zero-range indicator (over all rows, or within a year under
        ``by-year``) is refused, or gets weight 0 (its normalized values are
        set to 0 and it is left out of the weight computation).
    aggregation : {"sum", "topsis"}, default "sum"
        How each subsystem (and dimension) index combines its normalized
        indicators: the weighted sum ``U = sum_j w_j r_j``, or the TOPSIS
        closeness to the ideal solution of the weighted values ``w_j r_j``
        (Hwang & Yoon 1981; :func:`nqpspatial.topsis.topsis`), with the
        same weights (entropy-TOPSIS, CRITIC-TOPSIS, ...).  Weights and
        their diagnostics do not change.
    topsis_ideal : {"pooled", "by-year"}, default "pooled"
        With ``aggregation="topsis"``: the ideal and anti-ideal solutions
        are the column maxima and minima over all region-years (scores
        comparable across years), or within each year.
    shift : float, optional
        Map normalized values into ``[shift, 1 - shift]`` everywhere.  When
        None: 0.002 for ``entropy`` (values and indices are shifted), 0 for
        the other methods; with ``critic-entropy`` the entropy part uses
        0.002-shifted values while CRITIC and the indices use unshifted ones.

    Returns
    -------
    WeightingResult
        ``weights``, ``dimension_weights``, ``normalized``, ``indices``,
        ``options``.

    Raises
    ------
    InputError
        Unknown option, missing columns, zero-range indicators (with
        ``zero_variance="error"``), missing fixed weights, dimensions missing
        for ``levels=2``, non-positive values for entropy with ``shift=0``.
    """
    _choice("method", method, METHODS)
    _choice("normalization", normalization, _NORMALIZATIONS)
    _choice("critic_conflict", critic_conflict, _CONFLICTS)
    _choice("critic_cost", critic_cost, _CRITIC_COSTS)
    _choice("zero_variance", zero_variance, _ZERO_VARIANCE)
    _choice("aggregation", aggregation, AGGREGATIONS)
    _choice("topsis_ideal", topsis_ideal, _TOPSIS_IDEALS)
    if isinstance(levels, bool) or levels not in (1, 2):
        raise InputError(f"weighting option levels = {levels!r} is not allowed: use 1 or 2")
    levels = int(levels)
    if shift is not None:
        shift = _check_shift(shift)
    if not isinstance(panel, pd.DataFrame):
        raise InputError("the panel must be a pandas DataFrame")
    for col in (region, year):
        if col not in panel.columns:
            raise InputError(f"the panel has no column {col!r}: name the region and year columns")

    ind = _prepare_indicators(indicators, method)
    names = ind["indicator"].tolist()
    absent = [c for c in names if c not in panel.columns]
    if absent:
        raise InputError(
            f"indicator(s) {', '.join(map(repr, absent))} of the indicator table are "
            "not columns of the panel: add the columns or remove the rows"
        )
    if len(panel) < 2:
        raise InputError(f"the panel has {len(panel)} row(s): weights need at least 2")
    subsystems = _subsystem_order(ind)
    # group the indicator rows by subsystem (first appearance), stable within
    order = {s: i for i, s in enumerate(subsystems)}
    ind = ind.iloc[np.argsort(ind["subsystem"].map(order).to_numpy(), kind="stable")]
    ind = ind.reset_index(drop=True)
    names = ind["indicator"].tolist()
    dir_map = dict(zip(names, ind["direction"].tolist()))

    if levels == 2:
        nodim = ind["indicator"][ind["dimension"] == ""].tolist()
        if nodim:
            raise InputError(
                "levels = 2 needs a dimension for every indicator, but "
                f"{', '.join(map(repr, nodim))} have none: fill the 'dimension' "
                "column of the indicator table, or use levels = 1",
                source=INDICATOR_TABLE,
            )

    values = panel[names]
    years = panel[year]
    problems = zero_range_columns(values, by=years if normalization == "by-year" else None)
    if problems and zero_variance == "error":
        raise InputError(_zero_range_message(problems, "year"))
    informative = [c for c in names if c not in problems]

    # shifts ---------------------------------------------------------------
    if shift is None:
        index_shift = DEFAULT_ENTROPY_SHIFT if method == "entropy" else 0.0
        entropy_shift = DEFAULT_ENTROPY_SHIFT
        critic_shift = 0.0
    else:
        index_shift = entropy_shift = critic_shift = shift

    notes: list[str] = []
    n = len(panel)
    # pooled, unshifted, direction-aware values used for the weights
    R0 = np.zeros((n, len(names)))
    col_pos = {c: j for j, c in enumerate(names)}
    if informative:
        inf_pos = [col_pos[c] for c in informative]
        R0[:, inf_pos] = normalize(values[informative], dir_map).to_numpy()
    # values used for the indices
    if normalization == "pooled":
        Rx = index_shift + (1.0 - 2.0 * index_shift) * R0 if index_shift else R0.copy()
    else:
        Rx = np.zeros((n, len(names)))
        if informative:
            Rx[:, inf_pos] = normalize(values[informative], dir_map, by=years, shift=index_shift).to_numpy()
    if problems:
        zero_pos = [col_pos[c] for c in problems]
        R0[:, zero_pos] = 0.0
        Rx[:, zero_pos] = 0.0
        notes.append("zero-range indicator(s) given weight 0 and normalized value 0: " + ", ".join(problems))

    weigh = _Weigher(method, critic_conflict, critic_cost, critic_shift, entropy_shift)
    diag_cols = ("sigma", "conflict", "information", "entropy", "divergence", "weight_critic", "weight_entropy")
    K = len(names)
    weight = np.zeros(K)
    w_in_dim = np.full(K, np.nan)
    diags = {c: np.full(K, np.nan) for c in diag_cols}
    note = [""] * K
    for c, groups in problems.items():
        note[col_pos[c]] = _zero_note(groups)
    dirs_all = ind["direction"].to_numpy()
    dim_rows = []

    def _weigh_block(pos: list[int], label: str) -> np.ndarray:
        """Weights (length len(pos)) of the indicator block; zero-range -> 0."""
        live = [p for p in pos if names[p] not in problems]
        if not live:
            raise InputError(
                f"{label} has no indicator with a non-zero range, so its index is "
                "undefined: remove it or add informative indicators"
            )
        res = weigh(R0[:, live], dirs_all[live], [names[p] for p in live])
        w = np.zeros(len(pos))
        where = [pos.index(p) for p in live]
        w[where] = res["weight"]
        for key in diag_cols:
            diags[key][live] = res[key]
        return w

    for s in subsystems:
        pos = ind.index[ind["subsystem"] == s].tolist()
        sub = ind.loc[pos]
        dims = list(dict.fromkeys(d for d in sub["dimension"] if d != ""))
        dpos = {d: [p for p in pos if ind.at[p, "dimension"] == d] for d in dims}
        if method == "fixed":
            uw = _fixed_weights(sub, s)
            total = uw.sum()
            if abs(total - 1.0) > 1e-9:
                notes.append(f"fixed weights of subsystem {s!r} summed to {total:.6g}; renormalized to sum to 1")
            uw = np.where([names[p] in problems for p in pos], 0.0, uw)
            if not uw.sum() > 0:
                raise InputError(
                    f'method "fixed": every indicator of subsystem {s!r} with a '
                    "positive weight has zero range: give informative indicators "
                    "a positive weight"
                )
            weight[pos] = uw / uw.sum()
            if len(pos) == 1:
                note[pos[0]] = note[pos[0]] or "single indicator: weight 1"
        elif levels == 1:
            if len(pos) == 1 and names[pos[0]] not in problems:
                note[pos[0]] = "single indicator: weight 1"
            weight[pos] = _weigh_block(pos, f"subsystem {s!r}")
        else:  # levels == 2, data-driven methods
            sub_cols = []
            for d in dims:
                p_d = dpos[d]
                w_d = _weigh_block(p_d, f"dimension {d!r} of subsystem {s!r}")
                w_in_dim[p_d] = w_d
                sub_cols.append(R0[:, p_d] @ w_d)
                if len(p_d) == 1:
                    note[p_d[0]] = note[p_d[0]] or "single indicator in its dimension"
            D = np.column_stack(sub_cols)
            res = weigh(D, np.ones(len(dims), dtype=int), [f"{s}.{d}" for d in dims])
            for d, wd in zip(dims, res["weight"]):
                weight[dpos[d]] = w_in_dim[dpos[d]] * wd
            for i, d in enumerate(dims):
                dim_rows.append(
                    {
                        "subsystem": s,
                        "dimension": d,
                        "weight": float(res["weight"][i]),
                        "n_indicators": len(dpos[d]),
                        **{k: float(res[k][i]) for k in diag_cols},
                    }
                )
        if levels == 1 or method == "fixed":
            for d in dims:
                p_d = dpos[d]
                tot = weight[p_d].sum()
                if not tot > 0:
                    raise InputError(
                        f"every indicator of dimension {d!r} (subsystem {s!r}) has "
                        "weight 0, so its sub-index is undefined: give one a "
                        "positive weight or remove the dimension label"
                    )
                w_in_dim[p_d] = weight[p_d] / tot
                dim_rows.append({"subsystem": s, "dimension": d, "weight": float(tot), "n_indicators": len(p_d)})

    dim_weight = np.full(K, np.nan)
    for row in dim_rows:
        p_d = ind.index[(ind["subsystem"] == row["subsystem"]) & (ind["dimension"] == row["dimension"])].tolist()
        dim_weight[p_d] = row["weight"]

    weights = pd.DataFrame(
        {
            "subsystem": ind["subsystem"].astype(str),
            "dimension": ind["dimension"].astype(str),
            "indicator": ind["indicator"].astype(str),
            "direction": ind["direction"].astype(np.int64),
            "weight": weight,
            "method": method,
            "weight_in_dimension": w_in_dim,
            "dimension_weight": dim_weight,
            **{c: diags[c] for c in diag_cols},
            "note": note,
        }
    )
    dw_cols = ["subsystem", "dimension", "weight", "n_indicators"]
    relevant = (
        {
            "critic": ("sigma", "conflict", "information"),
            "entropy": ("entropy", "divergence"),
            "critic-entropy": diag_cols,
        }.get(method, ())
        if levels == 2
        else ()
    )
    dimension_weights = pd.DataFrame(dim_rows).reindex(columns=dw_cols + list(relevant))
    if not len(dim_rows):
        dimension_weights = pd.DataFrame(
            {c: pd.Series(dtype=object if i < 2 else float) for i, c in enumerate(dw_cols)}
        )

    # tables -----------------------------------------------------------------
    keys = panel[[region, year]].reset_index(drop=True)
    normalized = pd.concat([keys, pd.DataFrame(Rx, columns=names)], axis=1)
    idx_cols: dict[str, np.ndarray] = {}
    aggregate = _aggregator(aggregation, years.to_numpy() if topsis_ideal == "by-year" else None)
    for s in subsystems:
        pos = ind.index[ind["subsystem"] == s].tolist()
        idx_cols[s] = aggregate(Rx[:, pos], weight[pos], f"subsystem {s!r}")
    for row in dim_rows:
        s, d = row["subsystem"], row["dimension"]
        p_d = ind.index[(ind["subsystem"] == s) & (ind["dimension"] == d)].tolist()
        idx_cols[f"{s}.{d}"] = aggregate(Rx[:, p_d], w_in_dim[p_d], f"dimension {d!r} of subsystem {s!r}")
    clash = [c for c in idx_cols if c in (region, year)]
    if clash or len(idx_cols) != len(subsystems) + len(dim_rows):
        raise InputError(
            "subsystem/dimension names give clashing index column names "
            f"({', '.join(map(repr, clash)) or 'a subsystem named like '}"
            "<subsystem>.<dimension>): rename the subsystem or dimension",
            source=INDICATOR_TABLE,
        )
    indices = pd.concat([keys, pd.DataFrame(idx_cols)], axis=1)

    if normalization == "by-year":
        notes.append(
            "weights computed on the pooled min-max normalized panel; indices use "
            "values min-max normalized within each year"
        )
    if method == "critic-entropy" and shift is None:
        notes.append(
            f"CRITIC part on unshifted values, entropy part on values shifted into "
            f"[{DEFAULT_ENTROPY_SHIFT}, {1 - DEFAULT_ENTROPY_SHIFT}]; indices use "
            "unshifted values"
        )
    if method == "entropy" and shift is None:
        notes.append(
            f"entropy default shift {DEFAULT_ENTROPY_SHIFT}: normalized values and "
            f"indices lie in [{DEFAULT_ENTROPY_SHIFT}, {1 - DEFAULT_ENTROPY_SHIFT}]"
        )

    options = {
        "method": method,
        "normalization": normalization,
        "critic_conflict": critic_conflict,
        "critic_cost": critic_cost,
        "levels": levels,
        "zero_variance": zero_variance,
        "aggregation": aggregation,
        "topsis_ideal": topsis_ideal if aggregation == "topsis" else None,
        "shift": float(index_shift),
        "shift_requested": shift,
        "critic_shift": float(critic_shift) if method in ("critic", "critic-entropy") else None,
        "entropy_shift": float(entropy_shift) if method in ("entropy", "critic-entropy") else None,
        "weights_normalization": "pooled",
        "zero_range_indicators": {
            c: ("all rows" if g is None else [g_.item() if isinstance(g_, np.generic) else g_ for g_ in g])
            for c, g in problems.items()
        },
        "subsystems": subsystems,
        "n_rows": int(n),
        "n_indicators": int(K),
        "notes": notes,
    }
    return WeightingResult(weights, dimension_weights, normalized, indices, options)
