"""Vectorised Haken chain: indices -> identification -> potential -> h -> grades, for many weight draws.

Everything here works on arrays with the draws on the first axis.  For one
batch of ``D`` weight vectors the subsystem indices are one matrix product
``W_s R_s'`` per subsystem; each Haken equation of each ordering is a
batched ``k x k`` normal-equation solve (``k`` = 2, or 3 with an intercept);
standard errors (classical, HC1, clustered by region), the split-panel
jackknife and region effects follow :mod:`nqpspatial.haken.model` exactly;
the potential's stationary points, stable point, extremes and maximum
distance come from batched companion-matrix eigenvalues
(:mod:`nqpspatial.haken.potential` does the same per fit).  The slow
reference (one :class:`~nqpspatial.haken.HakenModel` per draw) lives in the
tests.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import sparse, stats

from ..errors import InputError

NORMALIZED = {"potential-normalized", "distance-normalized"}
STRATEGY_CODES = {"potential": 0, "distance": 1, "potential-normalized": 2, "distance-normalized": 3}
STRATEGY_NAMES = {v: k for k, v in STRATEGY_CODES.items()}


# --------------------------------------------------------------------------- panel structure
class PanelLayout:
    """Rows, transitions and region codes of a (windowed) panel, in HakenModel's order.

    Parameters
    ----------
    region, year : array_like
        Keys of the rows of the normalized matrix (any order).
    window : (int, int) or None
        Inclusive year window.
    """

    def __init__(self, region, year, window=None):
        region = np.asarray(region, dtype=object)
        year = np.asarray(year).astype(np.int64)
        keep = np.ones(len(year), bool)
        if window is not None:
            keep = (year >= window[0]) & (year <= window[1])
            if not keep.any():
                raise InputError(f"window {list(window)} contains no year of the data")
        first = {}
        for r in region:
            first.setdefault(r, len(first))
        code_all = np.array([first[r] for r in region], dtype=np.int64)
        rows = np.flatnonzero(keep)
        order = np.lexsort((year[rows], code_all[rows]))
        self.rows = rows[order]  # rows of R used, sorted by region then year
        codes_w = code_all[self.rows]
        used = list(dict.fromkeys(codes_w.tolist()))
        remap = {c: i for i, c in enumerate(used)}
        inv_first = {v: k for k, v in first.items()}
        self.regions = [inv_first[c] for c in used]
        self.codes = np.array([remap[c] for c in codes_w], dtype=np.int64)  # per windowed row
        self.years = year[self.rows]
        self.region_of_row = region[self.rows]
        self.n = len(self.rows)
        self.n_regions = len(self.regions)
        same = self.codes[1:] == self.codes[:-1]
        self.cur = np.flatnonzero(same)  # transition t -> t+1 within a region
        self.nxt = self.cur + 1
        if len(np.unique(self.years)) < 3:
            raise InputError(
                f"the Haken model needs at least 3 periods; the data (window) has {len(np.unique(self.years))}"
            )
        self.tcodes = self.codes[self.cur]
        self.tyears = self.years[self.cur]
        self.n_tr = len(self.cur)
        self.G = self._group_matrix(self.tcodes, self.n_regions)
        self.tcount = np.bincount(self.tcodes, minlength=self.n_regions).astype(float)
        ty = np.unique(self.tyears)
        m = len(ty)
        h = math.ceil(m / 2)
        self.halves = (np.isin(self.tyears, ty[:h]), np.isin(self.tyears, ty[m - h :]))
        self.n_transition_years = m
        self.year_values = np.unique(self.years)

    @staticmethod
    def _group_matrix(codes, n_groups):
        n = len(codes)
        return sparse.csr_array((np.ones(n), (codes, np.arange(n))), shape=(n_groups, n))


# --------------------------------------------------------------------------- batched OLS
def _demean(X, G, count, codes):
    """Within transformation by region of (D, n) arrays (rows of G select the sample)."""
    means = (G @ X.T).T / np.where(count > 0, count, 1.0)
    return X - means[:, codes]


def _solve(XtX, Xty):
    try:
        return np.linalg.solve(XtX, Xty[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.einsum("dij,dj->di", np.linalg.pinv(XtX), Xty)


def _cross(cols):
    k = len(cols)
    D = cols[0].shape[0]
    XtX = np.empty((D, k, k))
    for i in range(k):
        for j in range(i, k):
            XtX[:, i, j] = XtX[:, j, i] = np.einsum("dn,dn->d", cols[i], cols[j])
    return XtX


def _fit_sample(y, cols, lay: PanelLayout, mask, fe):
    """OLS of y on cols (lists of (D, n_tr) arrays) on the transitions in mask; returns beta (D, k)."""
    if mask is not None:
        y = y[:, mask]
        cols = [c[:, mask] for c in cols]
        codes = lay.tcodes[mask]
    else:
        codes = lay.tcodes
    if fe:
        G = PanelLayout._group_matrix(codes, lay.n_regions)
        count = np.bincount(codes, minlength=lay.n_regions).astype(float)
        y = _demean(y, G, count, codes)
        cols = [_demean(c, G, count, codes) for c in cols]
    XtX = _cross(cols)
    Xty = np.stack([np.einsum("dn,dn->d", c, y) for c in cols], axis=1)
    return _solve(XtX, Xty), y, cols, XtX


def _year_scores(cw, resid, lay):
    """Per-transition-year sums of the scores, (D, T', k), years in order."""
    ty, inv = np.unique(lay.tyears, return_inverse=True)
    GY = PanelLayout._group_matrix(inv, len(ty))
    return np.stack([(GY @ (c * resid).T).T for c in cw], axis=2)


def fit_equation(y, cols, lay: PanelLayout, *, fe: bool, se: str, jackknife: bool, bandwidth=None):
    """Batched Haken equation: coefficients, their standard errors and the t degrees of freedom.

    Parameters
    ----------
    y : ndarray (D, n_tr)
    cols : list of ndarray (D, n_tr)
        Regressors (lag, interaction, optionally a constant column).
    lay : PanelLayout
    fe : bool
        Region fixed effects (within transformation; LSDV degrees of freedom).
    se : {"classical", "hc1", "cluster", "driscoll-kraay", "twoway"}
    jackknife : bool
        Split-panel jackknife coefficients (standard errors of the full fit).
    bandwidth : int, optional
        Driscoll-Kraay bandwidth (default the rule of
        :func:`nqpspatial.haken.inference.bartlett_bandwidth`).

    Returns
    -------
    dict
        ``beta`` (D, k), ``se`` (D, k), ``df`` (float), ``fe`` (D, n_regions)
        region intercepts (with ``fe``) else None.
    """
    beta, yw, cw, XtX = _fit_sample(y, cols, lay, None, fe)
    n, k = lay.n_tr, len(cols)
    ktot = k + (lay.n_regions if fe else 0)
    resid = yw - np.einsum("dk,kdn->dn", beta, np.stack(cw))
    inv = _safe_inv(XtX)
    if se == "classical":
        s2 = np.einsum("dn,dn->d", resid, resid) / (n - ktot)
        V = inv * s2[:, None, None]
        df = float(n - ktot)
    elif se == "hc1":
        e2 = resid * resid
        meat = _weighted_cross(cw, e2)
        V = inv @ meat @ inv * (n / (n - ktot))
        df = float(n - ktot)
    elif se in ("cluster", "twoway"):
        S = [(lay.G @ (c * resid).T).T for c in cw]  # (D, n_regions) per regressor
        meat = _cross(S)
        g = lay.n_regions
        V = inv @ meat @ inv * (g / (g - 1.0)) * ((n - 1.0) / (n - ktot))
        df = float(g - 1)
        if se == "twoway":  # Cameron, Gelbach & Miller: region + year - intersection (statsmodels)
            St = _year_scores(cw, resid, lay)
            gt = St.shape[1]
            Vt = inv @ np.einsum("dtk,dtl->dkl", St, St) @ inv * (gt / (gt - 1.0)) * ((n - 1.0) / (n - ktot))
            Vh = inv @ _weighted_cross(cw, resid * resid) @ inv * (n / (n - ktot))
            V = V + Vt - Vh
            w, U = np.linalg.eigh((V + V.transpose(0, 2, 1)) / 2.0)  # negative eigenvalues -> 0 (CGM 2011)
            neg = (w < 0).any(axis=1)
            if neg.any():
                V = np.where(neg[:, None, None], (U * np.maximum(w, 0.0)[:, None, :]) @ U.transpose(0, 2, 1), V)
            df = float(min(g, gt) - 1)
    elif se == "driscoll-kraay":
        from ..haken.inference import bartlett_bandwidth

        St = _year_scores(cw, resid, lay)
        T = St.shape[1]
        L = bartlett_bandwidth(T) if bandwidth is None else int(bandwidth)
        meat = np.einsum("dtk,dtl->dkl", St, St)
        for j in range(1, L + 1):
            G = np.einsum("dtk,dtl->dkl", St[:, j:], St[:, :-j])
            meat = meat + (1.0 - j / (L + 1.0)) * (G + G.transpose(0, 2, 1))
        V = inv @ meat @ inv * (n / (n - ktot))
        df = float(T - 1)
    else:
        raise InputError(f"se={se!r} is not valid; use classical, hc1, cluster, driscoll-kraay or twoway")
    sd = np.sqrt(np.maximum(np.einsum("dkk->dk", V), 0.0))
    if jackknife:
        halves = [_fit_sample(y, cols, lay, m, fe)[0] for m in lay.halves]
        beta = 2.0 * beta - 0.5 * (halves[0] + halves[1])
    fe_vals = None
    if fe:
        r = y - np.einsum("dk,kdn->dn", beta, np.stack(cols))
        fe_vals = (lay.G @ r.T).T / lay.tcount
    return {"beta": beta, "se": sd, "df": df, "fe": fe_vals}


def _safe_inv(A):
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(A)


def _weighted_cross(cols, w):
    k = len(cols)
    D = cols[0].shape[0]
    out = np.empty((D, k, k))
    for i in range(k):
        wi = cols[i] * w
        for j in range(i, k):
            out[:, i, j] = out[:, j, i] = np.einsum("dn,dn->d", wi, cols[j])
    return out


def fit_ordering(U1, U2, lay: PanelLayout, opts) -> dict:
    """Batched Haken fit of one ordering (q1 = U1, q2 = U2; arrays (D, n) over the layout's rows).

    Returns
    -------
    dict
        ``gamma1, a, gamma2, b, k1, k2`` (D,) (k's zero without intercept),
        ``p_gamma2`` (D,), ``ratio`` (D,), ``adiabatic`` (D,) bool,
        ``fe1, fe2`` (D, n_regions) or None.
    """
    c, x = lay.cur, lay.nxt
    q1, q2 = U1[:, c], U2[:, c]
    if opts["effects"] not in ("none", "region") or opts.get("correction", "none") == "analytic":
        raise InputError(
            f'the batched Haken chain (weight sensitivity) supports [haken] effects = "none" or '
            f'"region" without the analytic correction; got effects = {opts["effects"]!r}, '
            f"correction = {opts.get('correction', 'none')!r}. Run the sensitivity with one of those "
            "or leave out the [sensitivity] table"
        )
    fe = opts["effects"] == "region"
    eqs = []
    for y, cols in ((U1[:, x], [q1, q1 * q2]), (U2[:, x], [q2, q1 * q1])):
        if opts["intercept"]:
            cols = cols + [np.ones_like(q1)]
        eqs.append(
            fit_equation(
                y, cols, lay, fe=fe, se=opts["se"], jackknife=opts["jackknife"], bandwidth=opts.get("bandwidth")
            )
        )
    e1, e2 = eqs
    g1 = 1.0 - e1["beta"][:, 0]
    a = -e1["beta"][:, 1]
    g2 = 1.0 - e2["beta"][:, 0]
    b = e2["beta"][:, 1]
    zero = np.zeros_like(g1)
    k1 = e1["beta"][:, 2] if opts["intercept"] else zero
    k2 = e2["beta"][:, 2] if opts["intercept"] else zero
    s = e2["se"][:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(s > 0, g2 / s, np.nan)
        p = np.where(s > 0, 2.0 * stats.t.sf(np.abs(t), e2["df"]), np.nan)
        ratio = np.where(g1 != 0, np.abs(g2) / np.abs(g1), np.inf)
    ok = (g2 > 0) & (ratio > opts["min_ratio"]) & (p < opts["alpha"])
    return {
        "gamma1": g1,
        "a": a,
        "gamma2": g2,
        "b": b,
        "k1": k1,
        "k2": k2,
        "p_gamma2": p,
        "ratio": ratio,
        "adiabatic": ok,
        "fe1": e1["fe"],
        "fe2": e2["fe"],
    }


# --------------------------------------------------------------------------- polynomials
def real_roots(coefs: np.ndarray) -> np.ndarray:
    """Real roots of many polynomials (coefficients low to high, shape (M, n+1)).

    Rows are grouped by their actual degree (trailing exact zeros trimmed, as
    :meth:`numpy.polynomial.Polynomial.trim` does) and each group is solved
    with one batched companion-matrix eigenvalue call.  A root is real when
    ``|imag| <= 1e-9 max(1, |real|)`` (the rule of
    :mod:`nqpspatial.haken.potential`).

    Returns
    -------
    ndarray (M, n)
        Real roots, NaN-padded.
    """
    coefs = np.asarray(coefs, float)
    M, n1 = coefs.shape
    out = np.full((M, n1 - 1), np.nan)
    nz = coefs != 0
    deg = np.where(nz.any(axis=1), n1 - 1 - np.argmax(nz[:, ::-1], axis=1), 0)
    for d in np.unique(deg):
        if d < 1:
            continue
        rows = np.flatnonzero(deg == d)
        c = coefs[rows, : d + 1]
        comp = np.zeros((len(rows), d, d))
        if d > 1:
            comp[:, np.arange(1, d), np.arange(d - 1)] = 1.0
        comp[:, :, -1] = -c[:, :d] / c[:, d : d + 1]
        r = np.linalg.eigvals(comp)
        keep = np.abs(r.imag) <= 1e-9 * np.maximum(1.0, np.abs(r.real))
        vals = np.where(keep, r.real, np.nan)
        out[rows, :d] = np.sort(vals, axis=1)
    return out


class BatchPotential:
    """Potentials ``V(q) = lin q + A q^2/2 + B q^4/4`` of many fits at once (arrays of any shape S).

    Mirrors :class:`nqpspatial.haken.potential.Potential` (no legacy point).
    """

    def __init__(self, g1, a, g2, b, k1, k2):
        g1, a, g2, b, k1, k2 = np.broadcast_arrays(*(np.asarray(v, float) for v in (g1, a, g2, b, k1, k2)))
        self.shape = g1.shape
        self.valid = g2 > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.A = np.where(self.valid, g1 + a * k2 / g2, np.nan)
            self.B = np.where(self.valid, a * b / g2, np.nan)
        self.lin = -k1
        A, B = self.A.ravel(), self.B.ravel()
        lin = self.lin.ravel()
        M = A.size
        pts = np.full((M, 3), np.nan)
        closed = (lin == 0) & self.valid.ravel()
        # k1 = 0: q = 0 and +-sqrt(-A/B)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(B != 0, -A / B, np.nan)
        two = closed & (B != 0) & (r2 > 0)
        pts[closed, 1] = 0.0
        r = np.sqrt(np.where(two, r2, 0.0))
        pts[two, 0] = -r[two]
        pts[two, 2] = r[two]
        gen = ~closed & self.valid.ravel()
        if gen.any():
            pts[gen] = real_roots(np.column_stack([lin[gen], A[gen], np.zeros(gen.sum()), B[gen]]))
        self.stationary = pts.reshape(*self.shape, 3)
        V = self.value(pts, A[:, None], B[:, None], lin[:, None])
        curv = A[:, None] + 3 * B[:, None] * pts * pts
        cand = np.isfinite(pts) & (curv > 0) & (pts >= -1e-12)
        Vm = np.where(cand, V, np.inf)
        vmin = Vm.min(axis=1)
        tie = cand & (Vm == vmin[:, None])
        qs = np.where(tie, pts, -np.inf).max(axis=1)
        has = np.isfinite(vmin)
        qs = np.where(has, np.where(np.abs(qs) <= 1e-12, np.maximum(qs, 0.0), qs), np.nan)
        self.has_stable = has.reshape(self.shape)
        self.q_star = qs.reshape(self.shape)
        self.V_star = np.where(has, vmin, np.nan).reshape(self.shape)

    @staticmethod
    def value(q, A, B, lin):
        return lin * q + 0.5 * A * q * q + 0.25 * B * q**4

    def V(self, q):
        """V at q (broadcast against the potentials' shape)."""
        return self.value(q, self.A, self.B, self.lin)

    def extremes(self, lo, hi):
        """(V_min, V_max) over [lo, hi] (broadcastable to the shape)."""
        lo = np.broadcast_to(lo, self.shape)
        hi = np.broadcast_to(hi, self.shape)
        st = self.stationary
        inside = np.isfinite(st) & (st > lo[..., None]) & (st < hi[..., None])
        Vst = self.value(st, self.A[..., None], self.B[..., None], self.lin[..., None])
        Vlo, Vhi = self.V(lo), self.V(hi)
        vmin = np.minimum(np.minimum(Vlo, Vhi), np.where(inside, Vst, np.inf).min(axis=-1))
        vmax = np.maximum(np.maximum(Vlo, Vhi), np.where(inside, Vst, -np.inf).max(axis=-1))
        return vmin, vmax

    def distance(self, q):
        """Distance of (q, V(q)) from the stable point (NaN without one)."""
        return np.sqrt((q - self.q_star) ** 2 + (self.V(q) - self.V_star) ** 2)

    def max_distance(self, lo, hi):
        """Maximum distance over [lo, hi] (endpoints and real critical points of d^2)."""
        lo = np.broadcast_to(lo, self.shape).ravel()
        hi = np.broadcast_to(hi, self.shape).ravel()
        A, B, lin = self.A.ravel(), self.B.ravel(), self.lin.ravel()
        qs, vs = self.q_star.ravel(), self.V_star.ravel()
        ok = self.has_stable.ravel() & self.valid.ravel()
        out = np.full(A.size, np.nan)
        if ok.any():
            i = np.flatnonzero(ok)
            P = np.column_stack([-vs[i], lin[i], 0.5 * A[i], np.zeros(len(i)), 0.25 * B[i]])  # V - V*
            dP = np.column_stack([lin[i], A[i], np.zeros(len(i)), B[i]])  # V'
            crit = np.zeros((len(i), 8))
            for u in range(5):
                crit[:, u : u + 4] += P[:, u : u + 1] * dP
            crit[:, 0] += -qs[i]
            crit[:, 1] += 1.0
            roots = real_roots(crit)
            L, H = lo[i], hi[i]
            cand = np.column_stack([L, H, roots])
            inside = np.ones_like(cand, bool)
            inside[:, 2:] = np.isfinite(roots) & (roots > L[:, None]) & (roots < H[:, None])
            Vc = self.value(cand, A[i, None], B[i, None], lin[i, None])
            d = np.sqrt((cand - qs[i, None]) ** 2 + (Vc - vs[i, None]) ** 2)
            out[i] = np.where(inside, d, -np.inf).max(axis=1)
        return out.reshape(self.shape)


# --------------------------------------------------------------------------- h and grades
def coevolution_batch(q1, pot: BatchPotential, pidx, strategy: str, domain, edges):
    """h, strategy code and grade class for (D, n) q1 values.

    Parameters
    ----------
    q1 : ndarray (D, n)
    pot : BatchPotential of shape (D, P)
    pidx : ndarray (n,)
        Potential column of every observation (region code, or zeros).
    strategy : str
        A strategy name or "auto" (resolved per draw as in
        :func:`nqpspatial.haken.coevolution.resolve_strategy`).
    domain : "unit", "panel" or (lo, hi)
    edges : sequence of float

    Returns
    -------
    dict
        ``h`` (D, n) (NaN where undefined), ``ok`` (D,) whether h is defined,
        ``strategy`` (D,) int codes, ``grade`` (D, n) int (0 = no grade),
        ``lo``, ``hi`` (D,).
    """
    D, n = q1.shape
    if domain == "unit":
        lo = np.zeros(D)
        hi = np.ones(D)
    elif domain == "panel":
        lo, hi = q1.min(axis=1), q1.max(axis=1)
    else:
        lo = np.full(D, float(domain[0]))
        hi = np.full(D, float(domain[1]))
    valid = pot.valid.all(axis=1)
    all_stable = pot.has_stable.all(axis=1)
    if strategy == "auto":
        code = np.where(all_stable, STRATEGY_CODES["distance-normalized"], STRATEGY_CODES["potential-normalized"])
    else:
        code = np.full(D, STRATEGY_CODES[strategy])
    needs_star = np.isin(code, (1, 3))
    ok = valid & (~needs_star | all_stable)
    A = pot.A[:, pidx]
    B = pot.B[:, pidx]
    lin = pot.lin[:, pidx]
    V = BatchPotential.value(q1, A, B, lin)
    d = np.sqrt((q1 - pot.q_star[:, pidx]) ** 2 + (V - pot.V_star[:, pidx]) ** 2)
    h = np.full((D, n), np.nan)
    lo2, hi2 = lo[:, None], hi[:, None]
    for c in np.unique(code):
        rows = code == c
        if c == 0:
            h[rows] = V[rows]
        elif c == 1:
            h[rows] = d[rows]
        elif c == 2:
            vmin, vmax = pot.extremes(np.broadcast_to(lo2, pot.shape), np.broadcast_to(hi2, pot.shape))
            vmin, vmax = vmin[:, pidx], vmax[:, pidx]
            with np.errstate(divide="ignore", invalid="ignore"):
                hv = (vmax - V) / (vmax - vmin)
            bad = ~(vmax > vmin).all(axis=1)
            ok = ok & ~(rows & bad)
            h[rows] = hv[rows]
        else:
            dmax = pot.max_distance(np.broadcast_to(lo2, pot.shape), np.broadcast_to(hi2, pot.shape))[:, pidx]
            with np.errstate(divide="ignore", invalid="ignore"):
                hd = 1.0 - d / dmax
            bad = ~(dmax > 0).all(axis=1)
            ok = ok & ~(rows & bad)
            h[rows] = hd[rows]
    h[~ok] = np.nan
    grade = np.zeros((D, n), dtype=np.int64)
    if strategy in NORMALIZED or strategy == "auto":
        e = np.asarray(edges, float)
        inside = (q1 >= lo2) & (q1 <= hi2) & np.isfinite(h)
        tol = 1e-12
        out = (h < e[0] - tol) | (h > e[-1] + tol)
        cls = np.searchsorted(e, np.where(np.isfinite(h), h, 0.0) - tol, side="left")
        cls = np.where(cls == 0, 1, cls)
        grade = np.where(inside & ~out, cls, 0)
    return {"h": h, "ok": ok, "strategy": code, "grade": grade, "lo": lo, "hi": hi}


# --------------------------------------------------------------------------- rank statistics
def inversions(y: np.ndarray) -> np.ndarray:
    """Number of inversions of every row of an int array of distinct values (batched radix counting).

    Rows that are permutations of ``0..N-1`` are counted directly; other rows of distinct values are
    first replaced by their ranks.  The count runs over the bits of the values from the highest: at
    bit ``b`` the values sharing their bits above ``b`` form contiguous segments (the values
    ``g 2^(b+1) .. (g+1) 2^(b+1) - 1``, every one present), each an ordered list; every element whose bit
    ``b`` is 0 is inverted with the elements of its segment that precede it with bit 1 (they are larger).
    The segments are then split stably by bit ``b`` for the next bit.  Each bit costs a few passes over
    the array, so a row costs ``O(N log N)`` (the merge counting it replaces cost ``O(N log^2 N)``).

    Parameters
    ----------
    y : ndarray (D, N) of int
        Each row holds distinct values (e.g. ranks 0..N-1).

    Returns
    -------
    ndarray (D,) of int64
    """
    y = np.asarray(y)
    D, N = y.shape
    inv = np.zeros(D, np.int64)
    if N < 2 or D == 0:
        return inv
    if not (y.min() == 0 and y.max() == N - 1):  # distinct values in 0..N-1 form a permutation
        y = np.argsort(np.argsort(y, axis=1, kind="stable"), axis=1, kind="stable")
    itype = np.int32 if N < 2**31 - 1 else np.int64
    cur = np.ascontiguousarray(y, dtype=itype)
    pos = np.arange(N, dtype=itype)
    offset = (np.arange(D, dtype=np.int64) * N)[:, None]
    for b in range((N - 1).bit_length() - 1, -1, -1):
        bit = (cur >> b) & 1
        start = (cur >> (b + 1)) << (b + 1)  # first value, and first position, of the element's segment
        ones = np.cumsum(bit, axis=1, dtype=itype)
        ones -= bit  # bits 1 before each position
        ones -= np.take_along_axis(ones, start, axis=1)  # ... within its segment
        zero = bit == 0
        inv += np.where(zero, ones, 0).sum(axis=1, dtype=np.int64)
        zeros_in_segment = np.minimum(itype(1 << b), N - start)
        new = start + np.where(zero, pos - start - ones, zeros_in_segment + ones)
        nxt = np.empty_like(cur)
        nxt.ravel()[(new + offset).ravel()] = cur.ravel()
        cur = nxt
    return inv


def rank_desc(score: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis, 1 = highest score."""
    return stats.rankdata(-score, axis=-1, method="average")


def rank_correlations(base_score: np.ndarray, score: np.ndarray):
    """Spearman and Kendall (tau-a; equal to tau-b without ties) of each row of ``score`` with ``base_score``.

    One stable sort of a row gives both its ranks and the permutation whose inversions Kendall's tau
    counts: without ties the average ranks are the ordinal ranks, and the order of the row's values
    arranged by the baseline is the row's order relabelled by the baseline's positions.  Rows with ties
    or non-finite values take the general path (average ranks, a second sort); both give the same bits
    (``tests/test_robustness_sensitivity.py`` against the two-sort code).

    Parameters
    ----------
    base_score : ndarray (N,)
    score : ndarray (D, N)

    Returns
    -------
    (spearman, kendall, ranks) : ndarrays (D,), (D,), (D, N)
    """
    D, N = score.shape
    rb = rank_desc(base_score)
    order = np.argsort(-base_score, kind="stable")
    neg = -score
    sigma = np.argsort(neg, axis=1, kind="stable")
    srt = np.take_along_axis(neg, sigma, axis=1)
    plain = np.isfinite(srt).all(axis=1) & ~(srt[:, 1:] == srt[:, :-1]).any(axis=1)
    r = np.empty((D, N))
    np.put_along_axis(r, sigma, np.arange(1.0, N + 1.0)[None, :], axis=1)
    at = np.empty(N, dtype=sigma.dtype)
    at[order] = np.arange(N, dtype=sigma.dtype)  # position of each region in the baseline's order
    perm = at[sigma]
    if not plain.all():
        odd = np.flatnonzero(~plain)
        r[odd] = rank_desc(score[odd])
        perm[odd] = np.argsort(-score[odd][:, order], axis=1, kind="stable")
    rbc = rb - rb.mean()
    rc = r - r.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        sp = (rc @ rbc) / np.sqrt((rc * rc).sum(axis=1) * (rbc @ rbc))
    # the ordinal ranks of a row are the inverse of its sorting permutation, which has as many inversions
    inv = inversions(perm)
    kt = 1.0 - 4.0 * inv / (N * (N - 1)) if N > 1 else np.full(D, np.nan)
    return sp, kt, r


def orderings(subsystems):
    """Every ordered pair of subsystems (the Haken identification's orderings)."""
    return list(itertools.permutations(list(subsystems), 2))
