"""Dagum Gini and Theil decompositions (plugins/zones/dagum.py, theil.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from _mexico import DECADES, mexico_csv
from nqpspatial.errors import InputError
from nqpspatial.plugins.zones import dagum_decomposition, dagum_gini, theil_decomposition


@pytest.fixture(scope="module")
def mexico():
    wide, long = mexico_csv()
    groups = wide.set_index("State")["hanson98"].astype(int)
    return wide, long, groups


def brute_dagum(y, g):
    """Literal double loops over the formulas of Dagum (1997) (methods note, section 7)."""
    y = list(map(float, y))
    g = list(g)
    n = len(y)
    mu = sum(y) / n
    names = sorted(set(g))
    members = {j: [y[i] for i in range(n) if g[i] == j] for j in names}
    nj = {j: len(members[j]) for j in names}
    muj = {j: sum(members[j]) / nj[j] for j in names}
    G = sum(abs(a - b) for a in y for b in y) / (2 * n * n * mu)
    p = {j: nj[j] / n for j in names}
    s = {j: nj[j] * muj[j] / (n * mu) for j in names}
    Gjj = {j: sum(abs(a - b) for a in members[j] for b in members[j]) / (2 * nj[j] ** 2 * muj[j]) for j in names}
    Gw = sum(Gjj[j] * p[j] * s[j] for j in names)
    Gnb = Gt = 0.0
    pairs = {}
    for j, h in itertools.combinations(names, 2):
        if muj[j] < muj[h]:
            j, h = h, j
        Gjh = sum(abs(a - b) for a in members[j] for b in members[h]) / (nj[j] * nj[h] * (muj[j] + muj[h]))
        d = sum(max(a - b, 0.0) for a in members[j] for b in members[h]) / (nj[j] * nj[h])
        pp = sum(max(b - a, 0.0) for a in members[j] for b in members[h]) / (nj[j] * nj[h])
        D = (d - pp) / (d + pp)
        Gnb += Gjh * (p[j] * s[h] + p[h] * s[j]) * D
        Gt += Gjh * (p[j] * s[h] + p[h] * s[j]) * (1 - D)
        pairs[(j, h)] = (Gjh, D)
    return G, Gw, Gnb, Gt, Gjj, pairs


def test_mexico_1940_matches_inequality_gini_and_reference(mexico):
    wide, _, groups = mexico
    r = dagum_gini(wide["pcgdp1940"], wide["hanson98"].astype(int))
    parts = r.parts
    # inequality's own test suite: Gini(pcgdp1940) = 0.35372371173452849 (methods note, section 7)
    assert parts["G"] == pytest.approx(0.35372371173452849, abs=1e-14)
    from inequality.gini import Gini

    assert parts["G"] == pytest.approx(Gini(wide["pcgdp1940"].to_numpy()).g, abs=1e-14)
    # independent brute-force reference in the methods note (section 7), rounded to 6 decimals
    assert parts["G_within"] == pytest.approx(0.059706, abs=5e-7)
    assert parts["G_between"] == pytest.approx(0.140661, abs=5e-7)
    assert parts["G_transvariation"] == pytest.approx(0.153357, abs=5e-7)
    total = parts["G_within"] + parts["G_between"] + parts["G_transvariation"]
    assert total == pytest.approx(parts["G"], abs=1e-13)
    shares = parts[["share_within", "share_between", "share_transvariation"]].sum()
    assert shares == pytest.approx(1.0, abs=1e-13)


def test_mexico_all_decades_identity_and_D_range(mexico):
    _, long, groups = mexico
    res = dagum_decomposition(long, "pcgdp", groups, scheme_name="hanson98")
    from inequality.gini import Gini

    gini = res.gini
    assert list(gini["year"]) == DECADES
    assert (gini["scheme"] == "hanson98").all()
    for row in gini.itertuples():
        y = long.loc[long["year"] == row.year, "pcgdp"].to_numpy()
        assert row.G == pytest.approx(Gini(y).g, abs=1e-12)
        assert row.G_within + row.G_between + row.G_transvariation == pytest.approx(row.G, abs=1e-12)
    between = res.pairs.query("kind == 'between'")
    assert len(between) == len(DECADES) * 10  # 5 groups -> 10 pairs per decade
    assert ((between["D_jh"] >= 0) & (between["D_jh"] <= 1)).all()
    assert (between["mean_j"] >= between["mean_h"]).all()
    # within rows + between contributions also add up to G
    tot = res.pairs.groupby("year")["contribution"].sum()
    np.testing.assert_allclose(tot.to_numpy(), gini["G"].to_numpy(), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dagum_equals_brute_force_unequal_groups(seed):
    rng = np.random.default_rng(seed)
    sizes = [1, 3, 7, 12, 2][: 3 + seed]
    g = np.repeat([f"g{i}" for i in range(len(sizes))], sizes)
    y = rng.lognormal(0.0, 0.8, g.size) * rng.choice([1, 2, 5], g.size)
    y[rng.integers(0, g.size)] = 0.0  # a zero is allowed for Gini
    perm = rng.permutation(g.size)
    y, g = y[perm], g[perm]
    G, Gw, Gnb, Gt, Gjj, pairs = brute_dagum(y, g)
    r = dagum_gini(y, g)
    assert r.parts["G"] == pytest.approx(G, rel=1e-12)
    assert r.parts["G_within"] == pytest.approx(Gw, rel=1e-11, abs=1e-14)
    assert r.parts["G_between"] == pytest.approx(Gnb, rel=1e-11, abs=1e-14)
    assert r.parts["G_transvariation"] == pytest.approx(Gt, rel=1e-11, abs=1e-14)
    within = r.pairs.query("kind == 'within'").set_index("group_j")["G_jh"]
    for j, v in Gjj.items():
        assert within[j] == pytest.approx(v, abs=1e-13)
    between = r.pairs.query("kind == 'between'")
    assert len(between) == len(pairs)
    for row in between.itertuples():
        Gjh, D = pairs[(row.group_j, row.group_h)]  # raises KeyError if oriented differently
        assert row.G_jh == pytest.approx(Gjh, rel=1e-12)
        assert row.D_jh == pytest.approx(D, rel=1e-10, abs=1e-13)


def test_dagum_ties_and_identical_groups():
    # two groups with identical values: D is undefined (NaN) but contributes nothing
    r = dagum_gini([2.0, 2.0, 2.0, 2.0, 5.0], ["a", "a", "b", "b", "c"])
    parts = r.parts
    from inequality.gini import Gini

    assert parts["G"] == pytest.approx(Gini(np.array([2.0, 2.0, 2.0, 2.0, 5.0])).g, abs=1e-14)
    assert parts["G_within"] + parts["G_between"] + parts["G_transvariation"] == pytest.approx(parts["G"])
    ab = r.pairs.query("kind == 'between' and group_j in ['a', 'b'] and group_h in ['a', 'b']")
    assert ab["D_jh"].isna().all() and (ab["G_jh"] == 0).all()


def test_dagum_refuses_negative_values_naming_the_cell(mexico):
    _, long, groups = mexico
    bad = long.copy()
    bad.loc[(bad["region"] == "Oaxaca") & (bad["year"] == 1970), "pcgdp"] = -1.0
    with pytest.raises(InputError, match=r"'pcgdp'.*'Oaxaca'.*1970"):
        dagum_decomposition(bad, "pcgdp", groups)


def test_dagum_refuses_region_without_group(mexico):
    _, long, groups = mexico
    with pytest.raises(InputError, match="Zacatecas"):
        dagum_decomposition(long, "pcgdp", groups.drop("Zacatecas"))


def test_inputs_not_mutated(mexico):
    _, long, groups = mexico
    before, gbefore = long.copy(), groups.copy()
    dagum_decomposition(long, "pcgdp", groups)
    pd.testing.assert_frame_equal(long, before)
    pd.testing.assert_series_equal(groups, gbefore)


def test_theil_reproduces_inequality_reference(mexico):
    _, long, groups = mexico
    res = theil_decomposition(long, "pcgdp", groups, scheme_name="hanson98")
    t = res.theil
    # inequality's tests (methods note, section 7): Theil by decade and TheilD between part (hanson98)
    ref_T = [0.20894344, 0.15222451, 0.10472941, 0.10194725, 0.09560113, 0.10511256, 0.10660832]
    ref_bg = [0.0345889, 0.02816853, 0.05260921, 0.05931219, 0.03205257, 0.02963731, 0.03635872]
    np.testing.assert_allclose(t["T"], ref_T, atol=5e-9)
    np.testing.assert_allclose(t["T_between"], ref_bg, atol=5e-9)
    np.testing.assert_allclose(t["T_between"] + t["T_within"], t["T"], atol=1e-12)
    contrib = res.groups.groupby("year")["contribution"].sum().to_numpy()
    np.testing.assert_allclose(contrib, t["T_within"], atol=1e-12)


def test_theil_takes_zeros_as_inequality_does(mexico):
    """0 ln 0 = 0: zeros (a min-max index's minimum, a whole group at 0) give inequality's TheilD."""
    from inequality.theil import Theil, TheilD

    _, long, groups = mexico
    data = long.copy()
    # a single zero, and in 1980 a whole group (hanson98 = 4, two states) at zero
    data.loc[(data["region"] == "Colima") & (data["year"] == 1950), "pcgdp"] = 0.0
    four = groups[groups == 4].index
    data.loc[data["region"].isin(four) & (data["year"] == 1980), "pcgdp"] = 0.0
    res = theil_decomposition(data, "pcgdp", groups)
    wide = data.pivot(index="region", columns="year", values="pcgdp").sort_index()
    part = groups.reindex(wide.index).to_numpy()
    ref = TheilD(wide.to_numpy(dtype=float), part)
    np.testing.assert_allclose(res.theil["T"], ref.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.theil["T_between"], ref.bg, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.theil["T_within"], ref.wg, rtol=0, atol=1e-12)
    g = res.groups
    for gname in (4, 3):
        mine = g[g["group"] == str(gname)].sort_values("year")["T_group"].to_numpy()
        theirs = Theil(wide.to_numpy(dtype=float)[part == gname]).T
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(g.groupby("year")["contribution"].sum().to_numpy(), res.theil["T_within"], atol=1e-12)
    zero_group = g[(g["group"] == "4") & (g["year"] == 1980)].iloc[0]
    assert zero_group["income_share"] == 0 and zero_group["T_group"] == 0 and zero_group["contribution"] == 0
    # and by the formula itself: the zero region adds nothing to sum s ln(n s)
    y50 = wide[1950].to_numpy(dtype=float)
    s50 = y50[y50 > 0] / y50.sum()
    assert res.theil.loc[res.theil["year"] == 1950, "T"].iloc[0] == pytest.approx(
        float(np.sum(s50 * np.log(len(y50) * s50))), abs=1e-14
    )


def test_theil_refuses_negative_values_and_all_zero_years(mexico):
    _, long, groups = mexico
    bad = long.copy()
    bad.loc[(bad["region"] == "Colima") & (bad["year"] == 1950), "pcgdp"] = -1.0
    with pytest.raises(InputError, match=r"non-negative.*'pcgdp'.*'Colima'.*1950"):
        theil_decomposition(bad, "pcgdp", groups)
    zero = long.copy()
    zero.loc[zero["year"] == 1960, "pcgdp"] = 0.0
    with pytest.raises(InputError, match=r"undefined for variable 'pcgdp' in year 1960"):
        theil_decomposition(zero, "pcgdp", groups)


def test_summary_renders(mexico):
    _, long, groups = mexico
    s = dagum_decomposition(long, "pcgdp", groups, scheme_name="hanson98").summary()
    assert "dagum_gini" in s.as_text() and "\\toprule" in s.as_latex()
    assert "Theil" in theil_decomposition(long, "pcgdp", groups).summary().as_text()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 1e3, allow_nan=False, allow_subnormal=False), st.integers(0, 4)),
        min_size=2,
        max_size=40,
    ),
    st.floats(0.01, 100.0),
)
def test_dagum_properties(cells, scale):
    y = np.array([c[0] for c in cells])
    g = np.array([f"g{c[1]}" for c in cells])
    if y.mean() <= 0:
        return
    r = dagum_gini(y, g)
    p = r.parts
    assert p["G_within"] + p["G_between"] + p["G_transvariation"] == pytest.approx(p["G"], abs=1e-10)
    D = r.pairs.loc[r.pairs["kind"] == "between", "D_jh"].dropna()
    assert ((D >= -1e-12) & (D <= 1 + 1e-12)).all()
    # scale invariance and invariance to the order of the observations
    r2 = dagum_gini(scale * y[::-1], g[::-1])
    np.testing.assert_allclose(
        r2.parts[["G", "G_within", "G_between", "G_transvariation"]].to_numpy(float),
        p[["G", "G_within", "G_between", "G_transvariation"]].to_numpy(float),
        rtol=1e-9,
        atol=1e-12,
    )
