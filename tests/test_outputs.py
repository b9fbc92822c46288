"""The output folder contract: docs/outputs.md lists every table and column; tables.xlsx matches the CSVs;
run.json records what the docs promise."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_table_and_column_documented(demo_run):
    text = (DOCS / "outputs.md").read_text(encoding="utf-8")
    missing = []
    for name, table in demo_run.tables.items():
        doc_name = "weights_<slug>.csv" if name.startswith("weights_") and name != "weights_summary" else f"{name}.csv"
        if f"`{doc_name}`" not in text:
            missing.append(doc_name)
            continue
        section = text.split(f"`{doc_name}`", 1)[1].split("**`", 1)[0]
        if name == "indices":
            continue
        missing += [f"{doc_name}:{c}" for c in table.columns if f"`{c}`" not in section]
    assert not missing, f"undocumented outputs: {missing}"


def test_contract_columns_present(demo_run):
    """Columns the issues name exactly (users' scripts rely on them)."""
    contract = {
        "indicator_weights": "subsystem, dimension, indicator, direction, weight, method",
        "indices": "region, year, NQP, NTU",
        "haken_identification": "q1, q2, gamma1, a, gamma2, b, se_gamma1, se_a, se_gamma2, se_b, p_gamma1, p_a, "
        "p_gamma2, p_b, r2_q1, r2_q2, n_obs, ratio, adiabatic, chosen, reason",
        "haken_estimates": "q1, q2, term, estimate, std_err, t, p, ci_low, ci_high",
        "haken_potential": "q1, q2, case, q1_star, V_star, map_stable, map_stable_2d, servo_map_stable, "
        "reduced_map_stable",
        "coevolution": "region, year, q1, q2, V, d, h, grade, strategy",
        "coupling_coordination": "region, year, U1, U2, C, C_corrected, T, D, D_corrected, grade",
        "moran_global": "variable, weights, year, I, EI, VI_norm, z_norm, p_norm, p_sim, permutations",
        "lisa": "variable, weights, year, region, Ii, z_sim, p_sim, quadrant, cluster",
        "weights_queen": "focal, neighbor, weight",
        "weights_summary": "name, n, islands, island_policy, mean_neighbors, components",
        "dagum_gini": "variable, scheme, year, G, G_within, G_between, G_transvariation, share_within, "
        "share_between, share_transvariation",
        "clusters": "region, method, cluster",
        "spatial_haken_estimates": "model, weights, q1, q2, equation, term, estimate, std_err, z, p",
        "spatial_haken_effects": "model, weights, q1, q2, equation, term, effect, estimate, ci_low, ci_high, p",
        # issue 14
        "haken_marginal_effects": "q1, q2, equation, wrt, estimate, ci_low, ci_high, ci_method",
        "spatial_haken_potential": "model, weights, q1, q2, reading, gamma1, a, gamma2, b, case, q1_star, "
        "q1_star_low, q1_star_high, stable_share, V_star, map_stable",
        "spatial_haken_steady_states": "model, weights, q1, q2, region, q1_star, q2_star, converged, iterations",
        "spatial_haken_marginal_effects": "model, weights, q1, q2, equation, wrt, effect, estimate, ci_low, ci_high",
        "spatial_haken_identification": "model, weights, q1, q2, reading, gamma1, a, gamma2, b, ratio, adiabatic, "
        "chosen, case",
    }
    tables = demo_run.tables
    for name, cols in contract.items():
        assert name in tables, name
        need = [c.strip() for c in cols.split(",")]
        assert set(need) <= set(tables[name].columns), (name, set(need) - set(tables[name].columns))
    for name in (
        "geary",
        "getis_ord",
        "moran_bivariate",
        "zones_summary",
        "dagum_pairs",
        "clusters_vs_zones",
        "markov_transitions",
        "spatial_markov",
        "convergence",
        "obstacles",
        "stages",
        "scenarios",
        "spatial_haken_diagnostics",
        "spatial_haken_identification",
    ):
        assert name in tables, name
    w = tables["indicator_weights"]
    assert np.allclose(w.groupby("subsystem")["weight"].sum(), 1.0)


def test_workbook_equals_csv(demo_run):
    """CSV and workbook hold the same tables, read through the documented reader (which strips the apostrophe
    written before formula-like text in the CSV); the reader gives back the computed tables."""
    from nqpspatial.io import read_output_table

    out = Path(demo_run.out_dir)
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    sheets = info["workbook"]["sheets"]
    assert set(sheets) == {p.stem for p in (out / "tables").glob("*.csv")} - set(info["workbook"]["left_out"])
    escaped = 0
    for table, sheet in sheets.items():
        csv = read_output_table(out, table)
        xl = read_output_table(out, table, source="xlsx")
        raw = (out / "tables" / f"{table}.csv").read_text(encoding="utf-8-sig")
        escaped += raw.count(",'-") + raw.count("\n'-")
        computed = demo_run.tables[table]
        assert list(csv.columns) == [str(c) for c in computed.columns], table
        for c in computed.columns:  # text columns come back as computed (apostrophes stripped)
            if computed[c].map(lambda x: isinstance(x, str) or x is None or x != x).all():
                assert [_cell(x) for x in csv[str(c)]] == [_cell(x) for x in computed[c]], f"{table}.{c}"
        assert list(xl.columns) == list(csv.columns), table
        assert len(xl) == len(csv), table
        for c in csv.columns:
            a, b = csv[c], xl[c]
            if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
                # Excel keeps 15-16 significant digits; the CSV keeps full double precision
                np.testing.assert_allclose(
                    a.to_numpy(float), b.to_numpy(float), rtol=2e-15, atol=0, equal_nan=True, err_msg=f"{table}.{c}"
                )
            else:
                assert [_cell(x) for x in a] == [_cell(x) for x in b], f"{table}.{c}"
    assert escaped > 0  # the demo has formula-like text (stationary points beginning with a minus sign)


def _cell(x):
    """Cell text for comparison; Excel booleans read back as 1.0/0.0 when a column has empty cells."""
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return ""
    if isinstance(x, (bool, np.bool_)) or x in ("True", "False"):
        return "1.0" if x in (True, "True") else "0.0"
    return str(x)


def test_csv_has_bom_and_chinese(demo_run):
    raw = (Path(demo_run.out_dir) / "tables" / "indices.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "北京市" in raw.decode("utf-8-sig")


def test_run_json_records(demo_run):
    info = json.loads((Path(demo_run.out_dir) / "run.json").read_text(encoding="utf-8"))
    for key in ("versions", "config", "seed", "stages", "warnings", "seconds"):
        assert key in info
    assert info["versions"]["numpy"] and info["synthetic"] is True
    names = [s["name"] for s in info["stages"]]
    # the core steps, then the analyses (the spatial weights are built once, as a core step)
    assert names[:5] == ["data", "weighting", "geometry", "weights", "haken"]
    assert names[-1] == "report"
    assert isinstance(info["plugins_used"], list) and isinstance(info["config_notes"], list)
    for s in info["stages"]:
        assert s["status"] in ("ok", "skipped", "not requested") and s["seconds"] >= 0
    # the process's peak memory when each step ended: a high-water mark, so never falling
    peaks = [s["max_rss_mb"] for s in info["stages"]]
    if sys.platform != "win32":
        import resource

        now = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
        assert all(isinstance(p, float) and 10 < p <= now + 1 for p in peaks), peaks
        assert peaks == sorted(peaks)
        # the pre-flight steps are recorded together when the pre-flight ends (docs/outputs.md)
        pre = {s["max_rss_mb"] for s in info["stages"] if s["name"] in ("data", "weighting", "geometry", "weights")}
        assert len(pre) == 1


def test_region_and_year_columns_are_canonical(study, run_cli):
    from conftest import small_panel

    p, ind = small_panel()
    study.write(
        panel=p.rename(columns={"region": "province", "year": "yr"}),
        data_extra='region = "province"\nyear = "yr"\n',
        extra="[haken]\nbootstrap = 0\n",
    )
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 0, err
    idx = pd.read_csv(study.out / "tables" / "indices.csv", encoding="utf-8-sig")
    assert list(idx.columns[:2]) == ["region", "year"] and idx["region"].iloc[0] == "R1"


def test_resolved_config_in_run_json_reruns(tmp_path):
    """run.json's resolved config holds only user keys: fed back to run() it gives the same study."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import nqpspatial
    from conftest import small_panel

    p, ind = small_panel()
    p.to_csv(tmp_path / "panel.csv", index=False)
    ind.to_csv(tmp_path / "indicators.csv", index=False)
    (tmp_path / "s.toml").write_text(
        'name = "again"\n[data]\npanel = "panel.csv"\nindicators = "indicators.csv"\n'
        '[weighting]\nmethod = "entropy"\n[haken]\nenabled = false\n',
        encoding="utf-8",
    )
    first = nqpspatial.run(tmp_path / "s.toml", out=tmp_path / "a", quiet=True, report=False)
    cfg = json.loads((tmp_path / "a" / "run.json").read_text(encoding="utf-8"))["config"]
    assert not [f"{t}.{k}" for t, v in cfg.items() if isinstance(v, dict) for k in v if k.startswith("_")]
    again = nqpspatial.run(cfg, base_dir=tmp_path, out=tmp_path / "b", quiet=True, report=False)
    pd.testing.assert_frame_equal(again.table("indices"), first.table("indices"))


def test_default_output_folder_keeps_a_chinese_name(tmp_path, monkeypatch):
    """--out defaults to output/<name>; a Chinese study name is kept (not reduced to a generic 'study')."""
    from nqpspatial.pipeline import slugify

    assert slugify("NQP and NTU, 31 provinces") == "nqp_and_ntu_31_provinces"
    assert slugify("新质生产力 与 新型城镇化") == "新质生产力_与_新型城镇化"
    assert slugify("!!") == "study"
