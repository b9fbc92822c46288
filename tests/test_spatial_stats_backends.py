"""Permutation inference on the execution backends: same statistics for one seed everywhere.

Reference: the permuted Moran's I of every permutation recomputed by brute force (one permutation at
a time, ``I = n / S0 * z' W z / z'z``, Moran 1950) from the permutations numpy's own
``SeedSequence.spawn`` gives for each chunk; pseudo p-values by esda's folded rule.  Local Moran from
chunked partial sums against the same statistics taken directly over all permuted lags.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

libpysal = pytest.importorskip("libpysal")
gpd = pytest.importorskip("geopandas")

from _mexico import mexico_layer, mexico_long  # noqa: E402
from nqpspatial.backends import DaskBackend, InProcessBackend, ProcessBackend  # noqa: E402
from nqpspatial.plugins import statistics as S  # noqa: E402
from nqpspatial.plugins.spatial import _takes_backend, spatial_stage  # noqa: E402
from nqpspatial.stage import StageContext  # noqa: E402

PERMS = 199
GLOBAL = [S.moran, S.geary, S.getis_ord]


@pytest.fixture(scope="module")
def mexico():
    g, cols = mexico_layer()
    panel = mexico_long(g, cols).sort_values(["region", "year"]).reset_index(drop=True)
    wide = panel.pivot(index="region", columns="year", values="pcgdp")
    graph = libpysal.graph.Graph.build_contiguity(g, rook=False).transform("R")
    return g, panel, wide, graph


@pytest.fixture
def small_chunks(monkeypatch):
    # 32 regions x 7 periods: chunks of 11 permutations (19 chunks, the last one partial)
    monkeypatch.setattr(S, "_CHUNK_ELEMENTS", 3 * 32 * 7 * 11)
    assert S._perm_chunk_size(32, 7) == 11


def _compute(plugin, wide, graph, seed, be):
    kw = {"y": np.log(wide)} if plugin.bivariate else {}
    return plugin.compute(wide, graph, rng=np.random.default_rng(seed), permutations=PERMS, backend=be, **kw)


def test_permutations_are_the_spawned_children_brute_force(mexico, small_chunks):
    _, _, wide, graph = mexico
    out = S.moran.compute(wide, graph, rng=np.random.default_rng(9), permutations=PERMS)
    ids = list(graph.unique_ids)
    X = wide.loc[ids].to_numpy(float)
    W = graph.sparse.toarray()
    n = len(ids)
    Z = X - X.mean(0)
    entropy = int(np.random.default_rng(9).integers(0, 2**63 - 1))  # the run seed taken from the Generator
    kids = np.random.SeedSequence(entropy).spawn(19)
    sizes = [11] * 18 + [PERMS - 18 * 11]
    perms = np.vstack(
        [np.random.default_rng(k).permuted(np.broadcast_to(np.arange(n), (s, n)), axis=1) for k, s in zip(kids, sizes)]
    )
    sim = np.array(
        [[n / W.sum() * (Z[p, j] @ W @ Z[p, j]) / (Z[:, j] @ Z[:, j]) for j in range(Z.shape[1])] for p in perms]
    )
    obs = out["I"].to_numpy()
    larger = (sim >= obs - 1e-12).sum(0)
    larger = np.where(PERMS - larger < larger, PERMS - larger, larger)
    np.testing.assert_allclose(out["p_sim"], (larger + 1) / (PERMS + 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["EI_sim"], sim.mean(0), rtol=1e-10)


def test_local_chunks_combine_to_the_whole_sample(mexico, monkeypatch):
    """LISA from 4 permutation chunks (partial counts and sums) equals the statistics computed
    directly from all conditional-permutation lags of the same draws (numpy's spawned children)."""
    monkeypatch.setattr(S, "_LOCAL_PERM_CHUNK", 60)
    _, _, wide, graph = mexico
    out = S.lisa.compute(wide, graph, rng=np.random.default_rng(21), permutations=PERMS)
    ids = list(graph.unique_ids)
    X = wide.loc[ids].to_numpy(float)
    Z = (X - X.mean(0)) / X.std(0)
    mat = S._csr(graph)
    nb = S._Neighbors(mat)
    n, t = Z.shape
    lag = mat @ Z
    scale = (n - 1) / (Z * Z).sum(0)
    Ii = scale * Z * lag
    entropy = int(np.random.default_rng(21).integers(0, 2**63 - 1))
    kids = np.random.SeedSequence(entropy).spawn(4)
    P = np.vstack(
        [
            S._sample_without_replacement(np.random.default_rng(k), n, nb.kmax + 1, size)
            for k, size in zip(kids, [60, 60, 60, PERMS - 180])
        ]
    )
    lags = np.empty((n, t, PERMS))

    def keep(a, b, block):
        lags[a:b] = block

    S._lags_of_sample(Z, nb, P, keep)
    sim = (scale * Z)[:, :, None] * lags  # permuted I_i
    ge = (sim >= Ii[:, :, None] - 1e-9).sum(2)
    larger = np.where(PERMS - ge < ge, PERMS - ge, ge)
    p_ref = (larger + 1) / (PERMS + 1)
    p_ref[nb.islands] = np.nan
    got = out.pivot(index="region", columns="year", values="p_sim").loc[ids].to_numpy()
    np.testing.assert_allclose(got, p_ref, rtol=0, atol=1e-12)
    ei = out.pivot(index="region", columns="year", values="EI_sim").loc[ids].to_numpy()
    np.testing.assert_allclose(ei, sim.mean(2), rtol=1e-9, atol=1e-12)
    zs = out.pivot(index="region", columns="year", values="z_sim").loc[ids].to_numpy()
    np.testing.assert_allclose(zs, (Ii - sim.mean(2)) / sim.std(2), rtol=1e-7)


@pytest.mark.dask
def test_identical_statistics_on_every_backend(mexico, small_chunks, monkeypatch):
    """In-process, 2 local processes and a real distributed.LocalCluster with 2 workers."""
    monkeypatch.setattr(S, "_LOCAL_PERM_CHUNK", 60)  # 4 chunks of local permutations
    _, _, wide, graph = mexico
    plugins = GLOBAL + [S.moran_bivariate, S.lisa, S.gistar]
    ref = {p.name: _compute(p, wide, graph, 3, None) for p in plugins}
    backends = [InProcessBackend(), ProcessBackend(2)]
    pytest.importorskip("distributed")
    backends.append(DaskBackend(workers=2))
    try:
        for be in backends:
            for p in plugins:
                got = _compute(p, wide, graph, 3, be)
                pd.testing.assert_frame_equal(got, ref[p.name], check_exact=True, obj=f"{p.name} {be!r}")
        other = _compute(S.moran, wide, graph, 4, backends[-1])
        assert not np.array_equal(other["EI_sim"].to_numpy(), ref["moran"]["EI_sim"].to_numpy())
    finally:
        for be in backends:
            be.close()


@pytest.mark.dask
def test_stage_passes_the_backend_only_to_plugins_that_take_it(mexico):
    class Old:
        def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None):
            """A third-party plugin written before the backend keyword."""

    assert _takes_backend(S.moran) and _takes_backend(S.lisa) and not _takes_backend(Old())
    g, panel, _, _ = mexico
    cfg = {"weights": ["queen"], "permutations": 99, "statistics": ["moran", "geary"]}
    local = spatial_stage.run(StageContext(config={}, panel=panel, geometry=g, seed=5), dict(cfg))
    pytest.importorskip("distributed")
    dask = spatial_stage.run(StageContext(config={"run": {"workers": 2}}, panel=panel, geometry=g, seed=5), dict(cfg))
    for name in ("moran_global", "geary"):
        pd.testing.assert_frame_equal(dask.tables[name], local.tables[name], check_exact=True, obj=name)
