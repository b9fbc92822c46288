"""Spatial association networks: networkx for every centrality, brute-force QAP, closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpspatial.backends import plan_chunks
from nqpspatial.errors import InputError
from nqpspatial.plugins.toolkit.network import (
    DifferenceTerm,
    GreatCircleTerm,
    PairTerm,
    SparseTerm,
    association_networks,
    binarize,
    block_roles,
    centralities,
    concor,
    economic_distance,
    gravity_matrix,
    great_circle_km,
    network_summary,
    plot_network,
    qap,
)

nx = pytest.importorskip("networkx")


@pytest.fixture(scope="module")
def demo_net():
    """The demo's NQP network in 2023 on the bundled provinces."""
    import nqpspatial.geodata as geodata
    from nqpspatial.demo import load_demo
    from nqpspatial.plugins.toolkit.centres import region_points
    from nqpspatial.weighting import compute_weights

    d = load_demo()
    ind = d["indicators"].assign(direction=d["indicators"]["direction"].map({"+": 1, "-": -1}))
    idx = compute_weights(d["panel"], ind).indices
    layer = geodata.province_layer(idx["region"].unique().tolist())
    pts, crs, _ = region_points(layer)
    return idx, pts, crs, layer


def _graphs(demo_net):
    idx, pts, _, _ = demo_net
    g = idx[idx.year == 2023].sort_values("region")
    ids = g["region"].tolist()
    D = great_circle_km(pts.loc[ids, "lon"], pts.loc[ids, "lat"])
    yield "demo", binarize(gravity_matrix(g["NQP"].to_numpy(), D))
    rng = np.random.default_rng(8)
    for n, p in ((25, 0.15), (40, 0.03), (12, 0.5)):
        A = (rng.random((n, n)) < p).astype(np.int8)
        np.fill_diagonal(A, 0)
        yield f"random {n}", A


def test_centralities_equal_networkx(demo_net):
    for label, A in _graphs(demo_net):
        G = nx.from_numpy_array(A, create_using=nx.DiGraph)
        n = A.shape[0]
        c = centralities(A)
        ref = {
            "closeness_in": nx.closeness_centrality(G),
            "closeness_out": nx.closeness_centrality(G.reverse()),
            "betweenness": nx.betweenness_centrality(G),
            "degree_centrality": nx.degree_centrality(G),
            "in_degree_centrality": nx.in_degree_centrality(G),
            "out_degree_centrality": nx.out_degree_centrality(G),
        }
        for k, d in ref.items():
            np.testing.assert_allclose(
                c[k].to_numpy(), [d[i] for i in range(n)], rtol=0, atol=1e-12, err_msg=f"{label} {k}"
            )
        assert c["in_degree"].tolist() == [G.in_degree(i) for i in range(n)]
        assert c["out_degree"].tolist() == [G.out_degree(i) for i in range(n)]


def _brute_structure(A):
    """Krackhardt's measures from networkx reachability and weak components."""
    G = nx.from_numpy_array(A, create_using=nx.DiGraph)
    n = A.shape[0]
    U = G.to_undirected()
    same = sum(len(c) * (len(c) - 1) / 2 for c in nx.connected_components(U))
    reach = {i: nx.descendants(G, i) for i in range(n)}
    one = sum(1 for i in range(n) for j in range(i + 1, n) if j in reach[i] or i in reach[j])
    both = sum(1 for i in range(n) for j in range(i + 1, n) if j in reach[i] and i in reach[j])
    red = sum(U.subgraph(c).number_of_edges() - (len(c) - 1) for c in nx.connected_components(U))
    maxr = sum(len(c) * (len(c) - 1) / 2 - (len(c) - 1) for c in nx.connected_components(U))
    return {
        "density": nx.density(G),
        "connectedness": same / (n * (n - 1) / 2),
        "hierarchy": 1 - both / one if one else np.nan,
        "efficiency": 1 - red / maxr if maxr else np.nan,
    }


def test_structure_measures(demo_net):
    for label, A in _graphs(demo_net):
        s = network_summary(A)
        for k, v in _brute_structure(A).items():
            assert s[k] == pytest.approx(v, abs=1e-12, nan_ok=True), (label, k)
    # a directed chain is perfectly hierarchical and efficient
    chain = np.eye(5, k=1, dtype=np.int8)
    s = network_summary(chain)
    assert s["hierarchy"] == 1.0 and s["efficiency"] == 1.0 and s["connectedness"] == 1.0


def test_gravity_and_threshold_by_definition():
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(100, 120, 6), rng.uniform(20, 40, 6)
    D = great_circle_km(lon, lat)
    from pyproj import Geod

    sphere = Geod(a=6371008.8, b=6371008.8)
    for i in range(6):
        for j in range(6):
            if i != j:
                assert D[i, j] == pytest.approx(sphere.inv(lon[i], lat[i], lon[j], lat[j])[2] / 1000, rel=1e-9)
    M = rng.uniform(0.1, 1, 6)
    Y = gravity_matrix(M, D, decay=1.5)
    for i in range(6):
        for j in range(6):
            want = 0.0 if i == j else M[i] / (M[i] + M[j]) * M[i] * M[j] / D[i, j] ** 1.5
            assert Y[i, j] == pytest.approx(want, rel=1e-12)
    x, P = rng.uniform(0.1, 1, 6), rng.uniform(1, 9, 6)  # cube-root mass, share of the variable itself
    Mc = (x * P * M) ** (1 / 3)
    Yc = gravity_matrix(Mc, D, share=x)
    assert Yc[1, 4] == pytest.approx(x[1] / (x[1] + x[4]) * Mc[1] * Mc[4] / D[1, 4] ** 2, rel=1e-12)
    panel = pd.DataFrame({"region": list("abcdef"), "year": 2020, "x": x, "P": P, "G": M})
    pts = pd.DataFrame({"lon": lon, "lat": lat}, index=list("abcdef"))
    net = association_networks(panel, ["x"], pts, mass_columns=["P", "G"], blocks="none")
    e = net.edges
    want = np.nonzero(binarize(Yc))
    assert list(zip(e["from"], e["to"])) == [("abcdef"[i], "abcdef"[j]) for i, j in zip(*want)]
    np.testing.assert_allclose(e["gravity"], Yc[want], rtol=1e-12)
    A = binarize(Y)
    for i in range(6):
        assert A[i].tolist() == [int(j != i and Y[i, j] > Y[i].sum() / 5) for j in range(6)]
    assert binarize(Y, "global-mean").sum() == (Y[~np.eye(6, dtype=bool)] > Y[~np.eye(6, dtype=bool)].mean()).sum()
    g = rng.uniform(1, 5, 6)
    E = economic_distance(D, g)
    assert E[0, 1] == pytest.approx(D[0, 1] / abs(g[0] - g[1]))
    with pytest.raises(InputError, match="same economic level"):
        economic_distance(D, [1, 1, 2, 3, 4, 5], ids=list("abcdef"))
    with pytest.raises(InputError, match="distance 0"):
        gravity_matrix(M, np.ones((6, 6)) - np.eye(6) * 1 + np.eye(6) * 0 - np.eye(6, k=1), ids=list("abcdef"))


def _brute_qap(Y, mats, permutations, seed):
    """Permutation loop: the same permutations as nqpspatial's chunks, statistics from numpy's own routines."""
    n = Y.shape[0]
    off = ~np.eye(n, dtype=bool)
    names = list(mats)
    Xv = np.column_stack([mats[k][off] for k in names])
    G = np.column_stack([np.ones(off.sum()), Xv])

    def stats(Ym):
        y = Ym[off]
        r = [np.corrcoef(y, Xv[:, k])[0, 1] for k in range(len(names))]
        b = np.linalg.lstsq(G, y, rcond=None)[0]
        return np.array(r), b

    r0, b0 = stats(Y)
    rs, bs = [], []
    for task in plan_chunks(permutations, seed, chunk_size=100):
        rng = task.rng()
        for _ in range(task.size):
            p = rng.permutation(n)
            r, b = stats(Y[np.ix_(p, p)])
            rs.append(r)
            bs.append(b)
    rs, bs = np.array(rs), np.array(bs)

    def pv(obs, perm):
        tol = 1e-12 * max(1.0, abs(obs))
        return (1 + np.sum(np.abs(perm) >= abs(obs) - tol)) / (len(perm) + 1)

    return r0, b0, [pv(r0[k], rs[:, k]) for k in range(len(names))], [pv(b0[k], bs[:, k]) for k in range(len(b0))]


def test_qap_equals_a_brute_force_permutation_loop(demo_net):
    idx, pts, _, _ = demo_net
    g = idx[idx.year == 2023].sort_values("region")
    ids = g["region"].tolist()
    lon, lat = pts.loc[ids, "lon"].to_numpy(), pts.loc[ids, "lat"].to_numpy()
    A = binarize(gravity_matrix(g["NQP"].to_numpy(), great_circle_km(lon, lat)))
    rng = np.random.default_rng(0)
    dense = rng.random(A.shape)
    terms = {"distance": GreatCircleTerm(lon, lat), "NTU": DifferenceTerm(g["NTU"].to_numpy()), "noise": dense}
    mats = {
        "distance": great_circle_km(lon, lat),
        "NTU": np.abs(g["NTU"].to_numpy()[:, None] - g["NTU"].to_numpy()[None, :]),
        "noise": dense,
    }
    res = qap(A, terms, permutations=299, seed=42)
    r0, b0, pr, pb = _brute_qap(A.astype(float), mats, 299, 42)
    _check_against_brute(res, r0, b0, pr, pb)
    # a symmetric dense matrix (unordered pairs) and a third-party PairTerm (read through values())
    sym = dense + dense.T

    class Ratio(PairTerm):
        def __init__(self, x):
            self.x, self.n = np.asarray(x, float), len(x)

        def values(self, i, j):
            return self.x[i] / (self.x[i] + self.x[j])

    x = g["NTU"].to_numpy()
    terms2 = {"sym": sym, "ratio": Ratio(x), "distance": GreatCircleTerm(lon, lat)}
    ratio = x[:, None] / (x[:, None] + x[None, :])
    np.fill_diagonal(ratio, 0.0)
    mats2 = {"sym": sym - np.diag(np.diag(sym)), "ratio": ratio, "distance": mats["distance"]}
    _check_against_brute(qap(A, terms2, permutations=199, seed=3), *_brute_qap(A.astype(float), mats2, 199, 3))
    # a weighted (non-binary) dependent matrix
    Yw = A * (1.0 + rng.random(A.shape))
    _check_against_brute(qap(Yw, terms2, permutations=99, seed=4), *_brute_qap(Yw, mats2, 99, 4))
    t = res.table
    assert t[t.kind == "correlation"]["p"].iloc[0] == pytest.approx(1 / 300)  # distance: strongest possible evidence
    # a sparse explanatory matrix (contiguity-like) gives the same as its dense form
    W = (great_circle_km(lon, lat) < 600).astype(float) - np.eye(len(ids))
    from scipy.sparse import csr_array

    a = qap(A, {"w": SparseTerm(csr_array(W))}, permutations=99, seed=5).table
    b = qap(A, {"w": W}, permutations=99, seed=5).table
    pd.testing.assert_frame_equal(a, b, rtol=1e-13)


def _check_against_brute(res, r0, b0, pr, pb):
    t = res.table
    cor, reg = t[t.kind == "correlation"], t[t.kind == "regression"]
    np.testing.assert_allclose(cor["estimate"], r0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(reg["estimate"], b0, rtol=1e-10, atol=1e-12)
    assert cor["p"].tolist() == pr and reg["p"].tolist() == pb


def test_concor_recovers_two_blocks_and_roles():
    rng = np.random.default_rng(1)
    n = 16
    grp = np.repeat([0, 1], 8)
    P = np.where(grp[:, None] == grp[None, :], 0.8, 0.05)
    A = (rng.random((n, n)) < P).astype(np.int8)
    np.fill_diagonal(A, 0)
    lab = concor(A, depth=1)
    assert len(set(lab)) == 2 and all(len(set(lab[grp == g])) == 1 for g in (0, 1))
    lab4 = concor(A)
    blocks, dens = block_roles(A, lab4)
    assert blocks["n"].sum() == n and (blocks["internal"] + blocks["sent"]).sum() == A.sum()
    assert blocks["received"].sum() == blocks["sent"].sum()
    assert set(blocks["role"]) <= {"net beneficiary", "bilateral spillover", "net spillover", "broker"}
    assert dens["links"].sum() == A.sum()
    # a block that only sends outward is a net spillover block; one that only receives is a net beneficiary
    B = np.zeros((6, 6), dtype=np.int8)
    B[0, 3] = B[1, 4] = B[2, 5] = B[3, 4] = B[4, 5] = 1
    roles = block_roles(B, [1, 1, 1, 2, 2, 2])[0].set_index("block")["role"]
    assert roles[1] == "net spillover" and roles[2] == "net beneficiary"


def test_panel_networks_and_map(demo_net, tmp_path):
    idx, pts, crs, layer = demo_net
    res = association_networks(
        idx,
        ["NQP", "NTU"],
        pts,
        detail_years=[2014, 2023],
        qap_matrices={"distance": lambda g, ids: GreatCircleTerm(pts.loc[ids, "lon"], pts.loc[ids, "lat"])},
        permutations=99,
        seed=1,
    )
    s = res.structure
    assert len(s) == 20 and s["density"].between(0, 1).all()
    nodes = res.nodes
    assert nodes["betweenness"].notna().sum() == 2 * 2 * 31 and len(nodes) == 2 * 10 * 31
    assert set(res.edges["year"]) == {2014, 2023} and set(res.qap["year"]) == {2014, 2023}
    assert set(res.blocks["role"]) <= {"net beneficiary", "bilateral spillover", "net spillover", "broker"}
    # the same seed gives the same QAP p-values
    again = association_networks(
        idx,
        ["NQP", "NTU"],
        pts,
        detail_years=[2014, 2023],
        qap_matrices={"distance": lambda g, ids: GreatCircleTerm(pts.loc[ids, "lon"], pts.loc[ids, "lat"])},
        permutations=99,
        seed=1,
    )
    pd.testing.assert_frame_equal(res.qap, again.qap)
    assert "Spatial association network" in res.summary().as_text()
    fig = plot_network(res, pts, layer, crs=crs)
    fig.savefig(tmp_path / "n.png")
    assert (tmp_path / "n.png").stat().st_size > 1000


def test_mexico_states():
    from _mexico import mexico_layer, mexico_long
    from nqpspatial.plugins.toolkit.centres import region_points

    g, cols = mexico_layer()
    pts, _, _ = region_points(g)
    panel = mexico_long(g, cols)
    res = association_networks(panel, ["pcgdp"], pts, permutations=0)
    assert len(res.structure) == 7 and (res.structure["n"] == 32).all()
    A = np.zeros((32, 32), dtype=np.int8)
    e = res.edges
    ids = sorted(panel["region"].unique())
    pos = {r: i for i, r in enumerate(ids)}
    A[[pos[a] for a in e["from"]], [pos[b] for b in e["to"]]] = 1
    G = nx.from_numpy_array(A, create_using=nx.DiGraph)
    bc = nx.betweenness_centrality(G)
    nd = res.nodes[res.nodes["year"] == 2000].set_index("region").loc[ids]
    np.testing.assert_allclose(nd["betweenness"].to_numpy(), [bc[i] for i in range(32)], rtol=0, atol=1e-12)


def test_qap_same_on_local_processes(demo_net):
    """Chunked permutations: the same p-values in-process and on two local processes."""
    from nqpspatial.backends import open_backend

    idx, pts, _, _ = demo_net
    g = idx[idx.year == 2020].sort_values("region")
    ids = g["region"].tolist()
    lon, lat = pts.loc[ids, "lon"].to_numpy(), pts.loc[ids, "lat"].to_numpy()
    A = binarize(gravity_matrix(g["NTU"].to_numpy(), great_circle_km(lon, lat)))
    terms = {"distance": GreatCircleTerm(lon, lat), "NQP": DifferenceTerm(g["NQP"].to_numpy())}
    here = qap(A, terms, permutations=250, seed=9)
    with open_backend("processes", workers=2) as be:
        there = qap(A, terms, permutations=250, seed=9, backend=be)
    pd.testing.assert_frame_equal(here.table, there.table)
    assert np.array_equal(here.draws, there.draws)
