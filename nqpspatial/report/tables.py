"""Tables people publish: a neutral table model and its HTML, LaTeX and Word renderings.

The output tables (``tables/*.csv``, ``tables.xlsx``) keep the contract's
column names and order.  What a reader sees in ``report.html``,
``report.docx`` and ``latex/`` goes through this module instead:

* :func:`display_table` turns an output table into a :class:`TableModel`
  with the identifying columns first (model, weights, reading, ordering,
  equation, term, ...), human headers in the report's language (``gamma1``
  as "γ₁ damping of q1", ``std_err`` as "Std. err."), one p-value format
  (:func:`format_p`: "< 0.001", else three decimals) and yes/no for flags;
* :func:`regression_table` lays out estimates as Stata's ``esttab`` or R's
  ``stargazer`` do: one column per model, coefficients with significance
  stars, standard errors in parentheses below, then N, R^2 and the
  log-likelihood; :func:`haken_regression_table` builds it from the Haken
  and spatial Haken output tables;
* :func:`to_html`, :func:`to_latex` (booktabs three-line table) and
  :func:`to_docx` (a three-line table in a python-docx document) render a
  model.

Everything here is pure: it reads DataFrames and returns text or model
objects; nothing knows the pipeline or the config.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "TableModel",
    "display_table",
    "regression_table",
    "haken_regression_table",
    "regression_html",
    "format_p",
    "format_number",
    "stars",
    "column_label",
    "term_label",
    "latex_text",
    "to_html",
    "to_latex",
    "to_docx",
    "IDENTIFYING_COLUMNS",
    "CAPTIONS",
]

#: Columns that identify a row, in the order they are moved to the front of a displayed table.
IDENTIFYING_COLUMNS = (
    "variant",
    "model",
    "weights",
    "reading",
    "scheme",
    "variable",
    "lag_variable",
    "kind",
    "row_type",
    "scope",
    "level",
    "group",
    "group_j",
    "group_h",
    "region",
    "year",
    "q1",
    "q2",
    "equation",
    "wrt",
    "term",
    "effect",
    "test",
    "method",
    "subsystem",
    "dimension",
    "indicator",
    "statistic",
    "source",
)
# identifying only when they hold text (``statistic`` is a number in the test tables, ``q1`` in coevolution)
_TEXT_ONLY_IDS = {"kind", "method", "statistic", "source", "q1", "q2", "level", "test"}

#: Captions of the output tables (en, zh).
CAPTIONS: dict[str, tuple[str, str]] = {
    "haken_identification": ("Haken model: order-parameter identification", "哈肯模型：序参量识别"),
    "haken_estimates": ("Haken model: parameter estimates", "哈肯模型：参数估计"),
    "haken_potential": ("Haken model: potential and stable point", "哈肯模型：势函数与稳定点"),
    "haken_marginal_effects": ("Haken model: average marginal effects", "哈肯模型：平均边际效应"),
    "haken_regression": ("Haken model estimates: aspatial and spatial models", "哈肯模型估计结果：非空间与空间模型"),
    "spatial_haken_identification": (
        "Spatial Haken models: order-parameter identification",
        "空间哈肯模型：序参量识别",
    ),
    "spatial_haken_potential": ("Spatial Haken models: stable point by reading", "空间哈肯模型：各解读下的稳定点"),
    "spatial_haken_estimates": ("Spatial Haken models: estimates", "空间哈肯模型：估计结果"),
    "spatial_haken_effects": (
        "Spatial Haken models: direct, indirect and total effects",
        "空间哈肯模型：直接效应、间接效应与总效应",
    ),
    "spatial_haken_marginal_effects": ("Spatial Haken models: average marginal effects", "空间哈肯模型：平均边际效应"),
    "spatial_haken_diagnostics": ("Spatial Haken models: diagnostics", "空间哈肯模型：诊断检验"),
    "model_selection": ("Spatial model selection", "空间模型选择"),
    "haken_residual_diagnostics": ("Spatial dependence in the aspatial residuals", "非空间模型残差的空间相关性"),
    "moran_global": ("Global Moran's I", "全局莫兰指数"),
    "dagum_gini": ("Dagum Gini decomposition", "Dagum 基尼系数分解"),
    "theil": ("Theil index", "泰尔指数"),
    "robustness": ("Robustness of the verdict", "判定结果的稳健性"),
}

_PARAMS = {"gamma1": "γ₁", "gamma2": "γ₂", "a": "a", "b": "b", "k1": "k₁", "k2": "k₂"}
_PARAM_NAMES = {
    "en": {
        "gamma1": "damping of q1",
        "a": "coupling q1·q2",
        "gamma2": "damping of q2",
        "b": "effect of q1² on q2",
        "k1": "intercept (q1 eq.)",
        "k2": "intercept (q2 eq.)",
    },
    "zh": {
        "gamma1": "q1 阻尼系数",
        "a": "q1·q2 耦合系数",
        "gamma2": "q2 阻尼系数",
        "b": "q1² 对 q2 的作用",
        "k1": "截距（q1 方程）",
        "k2": "截距（q2 方程）",
    },
}

# column -> (en, zh)
_HEADERS: dict[str, tuple[str, str]] = {
    "q1": ("Order parameter q1", "序参量 q1"),
    "q2": ("Servo variable q2", "伺服变量 q2"),
    "model": ("Model", "模型"),
    "weights": ("Weights", "空间权重"),
    "reading": ("Reading", "解读"),
    "equation": ("Equation", "方程"),
    "term": ("Term", "变量"),
    "effect": ("Effect", "效应"),
    "wrt": ("With respect to", "自变量"),
    "test": ("Test", "检验"),
    "statistic": ("Statistic", "统计量"),
    "df": ("df", "自由度"),
    "df1": ("df1", "自由度1"),
    "df2": ("df2", "自由度2"),
    "region": ("Region", "地区"),
    "year": ("Year", "年份"),
    "group": ("Group", "分组"),
    "variable": ("Variable", "变量"),
    "scheme": ("Scheme", "分区方案"),
    "scope": ("Scope", "范围"),
    "kind": ("Kind", "类别"),
    "level": ("Level", "层级"),
    "variant": ("Variant", "设定"),
    "estimate": ("Estimate", "估计值"),
    "std_err": ("Std. err.", "标准误"),
    "t": ("t", "t 值"),
    "z": ("z", "z 值"),
    "p": ("p", "p 值"),
    "ci_low": ("CI low", "置信区间下限"),
    "ci_high": ("CI high", "置信区间上限"),
    "ci_method": ("Interval method", "区间方法"),
    "se_method": ("Std. err. method", "标准误方法"),
    "inference_note": ("Inference note", "推断说明"),
    "note": ("Note", "说明"),
    "reason": ("Reason", "理由"),
    "n_obs": ("N", "样本量"),
    "n": ("N", "样本量"),
    "ratio": ("|γ₂| / |γ₁|", "|γ₂| / |γ₁|"),
    "ratio_ci_low": ("|γ₂|/|γ₁| CI low", "|γ₂|/|γ₁| 区间下限"),
    "ratio_ci_high": ("|γ₂|/|γ₁| CI high", "|γ₂|/|γ₁| 区间上限"),
    "adiabatic": ("Adiabatic verdict", "绝热消去判定"),
    "chosen": ("Chosen", "选定"),
    "verdict_share": ("Verdict share", "判定成立比例"),
    "case": ("Stability case", "稳定性情形"),
    "case_label": ("Case", "情形说明"),
    "q1_star": ("q1*", "q1*"),
    "q2_star": ("q2*", "q2*"),
    "V_star": ("V*", "V*"),
    "q1_star_low": ("q1* low", "q1* 下限"),
    "q1_star_high": ("q1* high", "q1* 上限"),
    "stable_share": ("Stable share", "稳定比例"),
    "map_stable": ("Map stable", "映射稳定"),
    "map_stable_2d": ("Map stable (2-D)", "映射稳定（二维）"),
    "reduced_map_stable": ("Reduced map stable", "约化映射稳定"),
    "servo_map_stable": ("Servo map stable", "伺服映射稳定"),
    "jacobian_radius": ("Jacobian radius", "雅可比谱半径"),
    "stable_point_source": ("Stable point source", "稳定点来源"),
    "stationary_points": ("Stationary points", "驻点"),
    "quadratic": ("Quadratic coef.", "二次项系数"),
    "quartic": ("Quartic coef.", "四次项系数"),
    "linear": ("Linear coef.", "一次项系数"),
    "order_parameter_equation": ("Order-parameter equation", "序参量方程"),
    "potential_function": ("Potential V(q1)", "势函数 V(q1)"),
    "preferred": ("Preferred", "优选模型"),
    "I": ("Moran's I", "莫兰指数 I"),
    "EI": ("E[I]", "E[I]"),
    "C": ("Geary's C", "吉尔里 C"),
    "G": ("G", "G"),
    "z_norm": ("z (normal)", "z（正态）"),
    "p_norm": ("p (normal)", "p（正态）"),
    "z_rand": ("z (randomisation)", "z（随机化）"),
    "p_rand": ("p (randomisation)", "p（随机化）"),
    "p_sim": ("p (permutation)", "p（置换）"),
    "z_sim": ("z (permutation)", "z（置换）"),
    "permutations": ("Permutations", "置换次数"),
    "cluster": ("Cluster", "集聚类型"),
    "quadrant": ("Quadrant", "象限"),
    "G_within": ("G within", "区域内 G"),
    "G_between": ("G net between", "区域间净值 G"),
    "G_transvariation": ("G transvariation", "超变密度 G"),
    "share_within": ("Share within", "区域内贡献率"),
    "share_between": ("Share between", "区域间贡献率"),
    "share_transvariation": ("Share transvariation", "超变密度贡献率"),
    "T": ("Theil T", "泰尔指数 T"),
    "T_between": ("T between", "组间 T"),
    "T_within": ("T within", "组内 T"),
    "mean": ("Mean", "均值"),
    "sd": ("SD", "标准差"),
    "baseline": ("Baseline", "基准值"),
    "share": ("Share", "比例"),
    "first_year": ("First year", "起始年"),
    "last_year": ("Last year", "终止年"),
    "regions": ("Regions", "地区数"),
    "detail": ("Detail", "说明"),
    "se": ("Std. err. option", "标准误选项"),
    "h": ("h", "h"),
    "V": ("V", "V"),
    "d": ("d", "d"),
    "grade": ("Grade", "等级"),
    "strategy": ("Strategy", "策略"),
    "break_year": ("Break year", "断点年份"),
    "method": ("Method", "方法"),
    "converged": ("Converged", "收敛"),
    "iterations": ("Iterations", "迭代次数"),
    "count": ("Count", "频数"),
    "probability": ("Probability", "概率"),
    "weight": ("Weight", "权重"),
    "indicator": ("Indicator", "指标"),
    "subsystem": ("Subsystem", "子系统"),
    "dimension": ("Dimension", "维度"),
    "direction": ("Direction", "方向"),
    "label": ("Label", "名称"),
    "unit": ("Unit", "单位"),
    "source": ("Source", "来源"),
}

_P_COLUMNS = {"p", "p_value", "rho_p", "p_holm", "p_variance", "p_sim", "p_norm", "p_rand", "p_gamma2_restricted"}
_INT_COLUMNS = {
    "year",
    "first_year",
    "last_year",
    "break_year",
    "n",
    "n_obs",
    "count",
    "df",
    "df1",
    "df2",
    "dof",
    "permutations",
    "case",
    "turning_point",
    "bootstrap",
    "iterations",
    "regions",
    "n_regions",
    "n_j",
    "n_h",
    "from",
    "to",
    "class",
    "rank",
    "grade_class",
    "step",
    "components",
    "islands",
    "n_draws",
    "k",
    "modes",
}
_MODELS = {"ols": "OLS", "slx": "SLX", "sar": "SAR", "sem": "SEM", "sdm": "SDM", "aspatial": "Aspatial"}
_WORDS = {
    "en": {
        True: "yes",
        False: "no",
        "direct": "direct",
        "indirect": "indirect",
        "total": "total",
        "system": "system",
        "local": "local",
        "equation": "equation",
        "stars": "* p < 0.1, ** p < 0.05, *** p < 0.01",
        "se_note": "Standard errors in parentheses.",
        "panel": "Panel {k}: {eq} equation",
        "aspatial": "Aspatial",
        "N": "N",
        "R2": "R² ({eq} eq.)",
        "ll": "Log-likelihood ({eq} eq.)",
        "within": "within zone",
        "across": "across zones",
        "const": "Constant",
        "spatial_note": (
            "Spatial models: γ₁ = 1 − β(q1), a = −β(q1·q2), γ₂ = 1 − β(q2), b = β(q1²) from the "
            "coefficients of the own-region terms (p of γ₁, γ₂ from the normal approximation); "
            "their stable points use the effects (spatial_haken_potential)."
        ),
    },
    "zh": {
        True: "是",
        False: "否",
        "direct": "直接效应",
        "indirect": "间接效应",
        "total": "总效应",
        "system": "系统",
        "local": "局部",
        "equation": "方程",
        "stars": "* p < 0.1，** p < 0.05，*** p < 0.01",
        "se_note": "括号内为标准误。",
        "panel": "面板 {k}：{eq} 方程",
        "aspatial": "非空间",
        "N": "样本量",
        "R2": "R²（{eq} 方程）",
        "ll": "对数似然（{eq} 方程）",
        "within": "板块内",
        "across": "板块间",
        "const": "常数项",
        "spatial_note": (
            "空间模型：γ₁ = 1 − β(q1)，a = −β(q1·q2)，γ₂ = 1 − β(q2)，b = β(q1²)，取自本地区各项的系数"
            "（γ₁、γ₂ 的 p 值按正态近似）；其稳定点由效应计算（见 spatial_haken_potential）。"
        ),
    },
}


@dataclass(frozen=True)
class TableModel:
    """A table as a reader sees it, independent of the output format.

    Attributes
    ----------
    name : str
        Name of the source table (the file stem in ``tables/``).
    title : str
        Caption.
    header : tuple of tuple of str
        Header rows (usually one; regression tables have two).
    rows : tuple of tuple of str
        Body cells, already formatted.
    align : tuple of str
        ``"l"``, ``"r"`` or ``"c"`` per column.
    keys : tuple of str
        The source column names (shown as tooltips in HTML).
    notes : tuple of str
        Lines printed under the table.
    panels : tuple of (int, str)
        Panel titles inserted before the body row with that index.
    rules : tuple of int
        Body rows preceded by a thin rule (e.g. the statistics block).
    total_rows : int or None
        Rows of the source table when the body was cut.
    layout : {"plain", "regression"}
        A regression table is drawn with rules only (HTML class ``reg``).
    """

    name: str
    title: str
    header: tuple[tuple[str, ...], ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...]
    keys: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    panels: tuple[tuple[int, str], ...] = ()
    rules: tuple[int, ...] = ()
    total_rows: int | None = None
    layout: str = "plain"

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return len(self.align)


# ----------------------------------------------------------------------------------------------- formatting
def _missing(v) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def format_p(p, digits: int = 3) -> str:
    """One p-value format: ``"< 0.001"`` below 10^-digits, else fixed decimals; empty when missing.

    Parameters
    ----------
    p : float
        The p-value.
    digits : int, default 3
        Decimals.

    Returns
    -------
    str
    """
    if _missing(p):
        return ""
    p = float(p)
    if not math.isfinite(p):
        return ""
    floor = 10.0**-digits
    return f"< {floor:.{digits}f}" if p < floor else f"{p:.{digits}f}"


def format_number(v, digits: int = 4) -> str:
    """A number with ``digits`` decimals (significant digits when very small or large); text as it is.

    Parameters
    ----------
    v : object
        The value (bools give "true"/"false", missing values "").
    digits : int, default 4

    Returns
    -------
    str
    """
    if _missing(v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if not math.isfinite(x):
            return str(x)
        a = abs(x)
        text = f"{x:.{digits}g}" if (a >= 1e5 or 0 < a < 10.0 ** -(digits - 1)) else f"{x:.{digits}f}"
        return text.replace("-", "−") if text.startswith("-") and "e" not in text else text
    return str(v)


def stars(p, levels: Sequence[float] = (0.1, 0.05, 0.01)) -> str:
    """Significance stars: one per level in ``levels`` (descending) that ``p`` falls below."""
    if _missing(p):
        return ""
    return "*" * sum(float(p) < lv for lv in levels)


def _t(key: str, lang: str, **fmt) -> str:
    words = _WORDS.get(lang, _WORDS["en"])
    text = words.get(key, _WORDS["en"].get(key, key))
    return text.format(**fmt) if fmt else text


def column_label(column: str, lang: str = "en") -> str:
    """Human header of an output column (``gamma1`` -> "γ₁ damping of q1", ``se_a`` -> "Std. err. a").

    Unknown columns keep their name.
    """
    zh = lang == "zh"
    col = str(column)
    if col in _PARAMS:
        return f"{_PARAMS[col]} {_PARAM_NAMES['zh' if zh else 'en'][col]}"
    m = re.fullmatch(r"(se|p|t)_(gamma1|gamma2|a|b|k1|k2)", col)
    if m:
        kind, par = m.groups()
        head = {"se": ("Std. err.", "标准误"), "p": ("p", "p 值"), "t": ("t", "t 值")}[kind][zh]
        return f"{head} {_PARAMS[par]}"
    m = re.fullmatch(r"r2_(q1|q2)", col)
    if m:
        return f"R² ({m.group(1)} eq.)" if not zh else f"R²（{m.group(1)} 方程）"
    if col in _HEADERS:
        return _HEADERS[col][zh]
    return col


def term_label(term, lang: str = "en") -> str:
    """Display name of a model term: ``gamma1`` -> "γ₁", ``rho_within`` -> "ρ (within zone)",
    ``theta_q1q2`` -> "W·(q1·q2)", ``q1sq`` -> "q1²"; unknown terms as they are."""
    t = str(term)
    suffix = ""
    for part in ("within", "across"):
        if t.endswith(f"_{part}"):
            t, suffix = t[: -len(part) - 1], _t(part, lang)
    key = t.lower() if t.lower() in ("const", "constant", "intercept") else t
    base = {
        "gamma1": "γ₁",
        "gamma2": "γ₂",
        "k1": "k₁",
        "k2": "k₂",
        "rho": "ρ",
        "lambda": "λ",
        "q1q2": "q1·q2",
        "q1sq": "q1²",
        "const": _t("const", lang),
        "constant": _t("const", lang),
        "intercept": _t("const", lang),
    }.get(key)
    if base is None and t.startswith("theta_"):
        inner = term_label(t[len("theta_") :], lang)
        base = f"W·({inner})" if "·" in inner else f"W·{inner}"
    if base is None:
        base = t
    if not suffix:
        return base
    return f"{base} ({suffix})" if lang != "zh" else f"{base}（{suffix}）"


def _value_text(col: str, v, lang: str, digits: int) -> str:
    if _missing(v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return _t(bool(v), lang)
    if col in _P_COLUMNS or re.fullmatch(r"p_(gamma1|gamma2|a|b|k1|k2)", col):
        return format_p(v) if isinstance(v, (int, float, np.integer, np.floating)) else str(v)
    if col in _INT_COLUMNS and isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if col == "model" and isinstance(v, str):
        return _MODELS.get(v.lower(), v)
    if col == "term" and isinstance(v, str):
        return term_label(v, lang)
    if col in ("effect", "reading") and isinstance(v, str) and v in _WORDS["en"]:
        return _t(v, lang)
    return format_number(v, digits)


def _ordered_columns(df: pd.DataFrame) -> list:
    ids = []
    for c in IDENTIFYING_COLUMNS:
        if c in df.columns and (c not in _TEXT_ONLY_IDS or not pd.api.types.is_numeric_dtype(df[c])):
            ids.append(c)
    return ids + [c for c in df.columns if c not in ids]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def display_table(
    df: pd.DataFrame,
    kind: str | None = None,
    lang: str = "en",
    *,
    max_rows: int | None = None,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    digits: int = 4,
) -> TableModel:
    """The table as a reader sees it: identifying columns first, human headers, one number format.

    Parameters
    ----------
    df : pandas.DataFrame
        An output table (its contract columns and order are not changed; the
        frame is not modified).
    kind : str, optional
        Its output name (e.g. ``"spatial_haken_identification"``): the
        caption and the file named in notes.
    lang : {"en", "zh"}
        Language of the headers and words.
    max_rows : int, optional
        Rows shown (``total_rows`` records the table's length when cut).
    columns : sequence of str, optional
        Columns to show (those present, in this order before the identifying
        reordering); default all.
    title : str, optional
        Caption; default from :data:`CAPTIONS`, else ``kind``.
    digits : int, default 4
        Decimals of numbers.

    Returns
    -------
    TableModel
    """
    tab = df
    if columns is not None:
        keep = [c for c in columns if c in df.columns]
        tab = df[keep] if keep else df
    cols = _ordered_columns(tab)
    total = len(tab)
    shown = tab.head(max_rows) if max_rows is not None else tab
    rows = tuple(
        tuple(_value_text(str(c), v, lang, digits) for c, v in zip(cols, rec))
        for rec in shown[cols].itertuples(index=False, name=None)
    )
    align = tuple("r" if _is_numeric(tab[c]) and str(c) not in ("model",) else "l" for c in cols)
    if title is None:
        cap = CAPTIONS.get(kind or "")
        title = cap[lang == "zh"] if cap else (kind or "")
    return TableModel(
        name=kind or "",
        title=title,
        header=(tuple(column_label(c, lang) for c in cols),),
        rows=rows,
        align=align,
        keys=tuple(str(c) for c in cols),
        total_rows=total if max_rows is not None and total > max_rows else None,
    )


# ------------------------------------------------------------------------------------------ regression tables
def regression_table(
    estimates: pd.DataFrame,
    stats: pd.DataFrame | None = None,
    *,
    columns: Sequence | None = None,
    column_labels: Mapping | None = None,
    panels: Mapping | None = None,
    lang: str = "en",
    title: str = "",
    name: str = "regression",
    digits: int = 4,
    levels: Sequence[float] = (0.1, 0.05, 0.01),
    notes: Sequence[str] = (),
) -> TableModel:
    """Estimates laid out as in ``esttab`` / ``stargazer``: a column per model, stars, (standard errors).

    Parameters
    ----------
    estimates : pandas.DataFrame
        Long table with ``column`` (model key), ``term`` (row label),
        ``estimate``, ``std_err``, ``p`` and optionally ``panel`` (a panel key
        grouping rows, e.g. the equation).
    stats : pandas.DataFrame, optional
        ``column``, ``stat`` (row label, e.g. "N"), ``value``; printed below a
        rule, integers without decimals.
    columns : sequence, optional
        Column keys in order; default order of appearance.
    column_labels : mapping, optional
        Column key -> header text (default the key).
    panels : mapping, optional
        Panel key -> panel title (panels in this order; rows without a panel
        first).
    lang : {"en", "zh"}
    title, name : str
        Caption and table name.
    digits : int, default 4
    levels : sequence of float
        Star thresholds, descending (default 0.1, 0.05, 0.01).
    notes : sequence of str
        Extra lines under the table (the standard-error and star legend is
        always added).

    Returns
    -------
    TableModel
    """
    est = estimates.copy()
    if "panel" not in est.columns:
        est["panel"] = None
    cols = list(columns) if columns is not None else list(dict.fromkeys(est["column"]))
    labels = dict(column_labels or {})
    header = (("",) + tuple(f"({i + 1})" for i in range(len(cols))), ("",) + tuple(str(labels.get(c, c)) for c in cols))
    panel_keys = [None] + list((panels or {}).keys())
    panel_keys += [k for k in dict.fromkeys(est["panel"]) if k not in panel_keys]
    rows, panel_rows = [], []
    for pk in panel_keys:
        sub = est[est["panel"].isna()] if pk is None else est[est["panel"] == pk]
        if sub.empty:
            continue
        if pk is not None:
            panel_rows.append((len(rows), str((panels or {}).get(pk, pk))))
        for term in dict.fromkeys(sub["term"]):
            rows.extend(_coef_rows(sub[sub["term"] == term], term, cols, digits, levels))
    rules = []
    if stats is not None and len(stats):
        rules.append(len(rows))
        for stat in dict.fromkeys(stats["stat"]):
            s = stats[stats["stat"] == stat].drop_duplicates("column").set_index("column")["value"]
            rows.append((str(stat),) + tuple(_stat_text(s.get(c)) for c in cols))
    foot = (f"{_t('se_note', lang)} {_t('stars', lang)}",) + tuple(notes)
    return TableModel(
        name=name,
        title=title,
        header=header,
        rows=tuple(rows),
        align=("l",) + ("c",) * len(cols),
        keys=("term",) + tuple(str(c) for c in cols),
        notes=foot,
        panels=tuple(panel_rows),
        rules=tuple(rules),
        layout="regression",
    )


def _coef_rows(sub: pd.DataFrame, term, cols, digits, levels):
    by_col = sub.drop_duplicates("column").set_index("column")
    coef, se = [str(term)], [""]
    for c in cols:
        if c not in by_col.index or _missing(by_col.at[c, "estimate"]):
            coef.append("")
            se.append("")
            continue
        r = by_col.loc[c]
        coef.append(format_number(float(r["estimate"]), digits) + stars(r.get("p"), levels))
        s = r.get("std_err")
        se.append("" if _missing(s) else f"({format_number(float(s), digits)})")
    return [tuple(coef), tuple(se)]


def _stat_text(v) -> str:
    if _missing(v):
        return ""
    x = float(v)
    return f"{int(round(x)):,}" if x.is_integer() and abs(x) >= 1 else format_number(x, 3)


def _t_table(tables: Mapping, name: str):
    t = tables.get(name) if tables is not None else None
    return t if isinstance(t, pd.DataFrame) and len(t) else None


def _aspatial_columns(tables: Mapping, pair, lang: str):
    """Estimates and statistics rows of the aspatial Haken fit of ``pair``."""
    est = _t_table(tables, "haken_estimates")
    if est is None or not {"term", "estimate"} <= set(est.columns):
        return None, None
    sub = est
    for unit in ("region", "group", "unit"):
        if unit in sub.columns:
            sub = sub[sub[unit].isna()]
    if {"q1", "q2"} <= set(sub.columns) and pair is not None:
        sub = sub[(sub["q1"].astype(str) == pair[0]) & (sub["q2"].astype(str) == pair[1])]
    if sub.empty:
        return None, None
    key = _t("aspatial", lang)
    panel = {"gamma1": "q1", "a": "q1", "k1": "q1", "gamma2": "q2", "b": "q2", "k2": "q2"}
    rows = [
        {
            "column": key,
            "panel": panel.get(str(r["term"]), "q1"),
            "term": term_label(r["term"], lang),
            "estimate": r["estimate"],
            "std_err": r.get("std_err"),
            "p": r.get("p"),
        }
        for _, r in sub.iterrows()
    ]
    stats = []
    ident = _t_table(tables, "haken_identification")
    if ident is not None and pair is not None and {"q1", "q2"} <= set(ident.columns):
        row = ident[(ident["q1"].astype(str) == pair[0]) & (ident["q2"].astype(str) == pair[1])]
        if len(row):
            r = row.iloc[0]
            for stat, col in (("N", "n_obs"), ("R2_q1", "r2_q1"), ("R2_q2", "r2_q2")):
                if col in row.columns:
                    stats.append({"column": key, "stat": stat, "value": r[col]})
    return rows, stats


_STRUCTURAL = {
    ("q1", "q1"): ("gamma1", -1.0, 1.0),
    ("q1", "q1q2"): ("a", -1.0, 0.0),
    ("q2", "q2"): ("gamma2", -1.0, 1.0),
    ("q2", "q1sq"): ("b", 1.0, 0.0),
}


def _spatial_rows(sub: pd.DataFrame, key: str, lang: str) -> list:
    """Rows of one spatial model: Haken parameters from the own-region coefficients, then the spatial terms."""
    from scipy.stats import norm

    rows = []
    for _, r in sub.iterrows():
        eq, term = str(r.get("equation")), str(r["term"])
        est, se, p = r["estimate"], r.get("std_err"), r.get("p")
        if (eq, term) in _STRUCTURAL:
            par, sign, shift = _STRUCTURAL[(eq, term)]
            est = shift + sign * float(est)
            if shift and not _missing(se) and float(se) > 0:
                p = float(2 * norm.sf(abs(est) / float(se)))
            label = term_label(par, lang)
        else:
            label = term_label(term, lang)
        rows.append({"column": key, "panel": eq, "term": label, "estimate": est, "std_err": se, "p": p})
    return rows


def haken_regression_table(
    tables: Mapping[str, pd.DataFrame], lang: str = "en", *, pair=None, digits: int = 4
) -> TableModel | None:
    """The Haken estimates of every model as one regression table (aspatial first, then each spatial model).

    Rows: panel A, the q1(t+1) equation (γ₁, a, intercept, ρ, λ, W-terms);
    panel B, the q2(t+1) equation (γ₂, b, ...); then N, R^2 and the
    log-likelihood of each equation.  Spatial models' Haken parameters are
    their own-region coefficients (γ₁ = 1 - β(q1), a = -β(q1·q2),
    γ₂ = 1 - β(q2), b = β(q1²), with the coefficient's standard error; the
    p-value of γ₁ and γ₂ tests the parameter against zero by the normal
    approximation).

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Output tables: ``haken_estimates``, ``haken_identification``,
        ``spatial_haken_estimates``, ``spatial_haken_diagnostics`` (any may
        be absent).
    lang : {"en", "zh"}
    pair : (str, str), optional
        The ordering (q1, q2); default the ordering of ``haken_estimates``,
        else the chosen (or first) ordering of the spatial estimates.

    Returns
    -------
    TableModel or None
        None when neither the aspatial nor a spatial estimates table exists.
    """
    pair = pair or _default_pair(tables)
    est_rows, stat_rows, labels = [], [], {}
    rows, stats = _aspatial_columns(tables, pair, lang)
    if rows:
        est_rows += rows
        stat_rows += stats
        labels[rows[0]["column"]] = rows[0]["column"]
    sp = _t_table(tables, "spatial_haken_estimates")
    if sp is not None and {"model", "term", "estimate", "equation"} <= set(sp.columns):
        if pair is not None and {"q1", "q2"} <= set(sp.columns):
            sp = sp[(sp["q1"].astype(str) == pair[0]) & (sp["q2"].astype(str) == pair[1])]
        wcol = sp["weights"] if "weights" in sp.columns else pd.Series("", index=sp.index)
        for (model, w), sub in sp.groupby([sp["model"], wcol], sort=False):
            key = f"{_MODELS.get(str(model).lower(), model)}" + (f" ({w})" if str(w) else "")
            labels[key] = key
            est_rows += _spatial_rows(sub, key, lang)
            stat_rows += _spatial_stats(tables, model, w, pair, key)
    if not est_rows:
        return None
    q = pair or ("q1", "q2")
    panels = {"q1": _t("panel", lang, k="A", eq=f"q1 ({q[0]})"), "q2": _t("panel", lang, k="B", eq=f"q2 ({q[1]})")}
    stats_df = pd.DataFrame(stat_rows, columns=["column", "stat", "value"])
    names = {
        "N": _t("N", lang),
        "R2_q1": _t("R2", lang, eq="q1"),
        "R2_q2": _t("R2", lang, eq="q2"),
        "ll_q1": _t("ll", lang, eq="q1"),
        "ll_q2": _t("ll", lang, eq="q2"),
    }
    order = {k: i for i, k in enumerate(names)}
    stats_df = stats_df.assign(_o=stats_df["stat"].map(order)).sort_values("_o", kind="stable")
    stats_df["stat"] = stats_df["stat"].map(names)
    notes = (_t("spatial_note", lang),) if sp is not None else ()
    cap = CAPTIONS["haken_regression"][lang == "zh"]
    return regression_table(
        pd.DataFrame(est_rows),
        stats_df,
        column_labels=labels,
        panels=panels,
        lang=lang,
        title=cap,
        name="haken_regression",
        digits=digits,
        notes=notes,
    )


def _default_pair(tables):
    for name in ("haken_estimates", "haken_identification", "spatial_haken_estimates"):
        t = _t_table(tables, name)
        if t is None or not {"q1", "q2"} <= set(t.columns):
            continue
        if "chosen" in t.columns:
            ch = t[t["chosen"].astype("boolean").fillna(False).astype(bool)]
            if len(ch):
                return str(ch["q1"].iloc[0]), str(ch["q2"].iloc[0])
        if name == "haken_identification":
            continue
        return str(t["q1"].iloc[0]), str(t["q2"].iloc[0])
    return None


def _spatial_stats(tables, model, weights, pair, key) -> list:
    diag = _t_table(tables, "spatial_haken_diagnostics")
    if diag is None or not {"model", "test", "statistic", "equation"} <= set(diag.columns):
        return []
    d = diag[diag["model"] == model]
    if "weights" in d.columns and str(weights):
        d = d[d["weights"].astype(str) == str(weights)]
    if pair is not None and {"q1", "q2"} <= set(d.columns):
        d = d[(d["q1"].astype(str) == pair[0]) & (d["q2"].astype(str) == pair[1])]
    out = []
    n = d[d["test"] == "n_obs"]["statistic"]
    if len(n):
        out.append({"column": key, "stat": "N", "value": n.iloc[0]})
    for test, stat in (("r2", "R2"), ("loglik", "ll")):
        for eq in ("q1", "q2"):
            v = d[(d["test"] == test) & (d["equation"].astype(str) == eq)]["statistic"]
            if len(v):
                out.append({"column": key, "stat": f"{stat}_{eq}", "value": v.iloc[0]})
    return out


# ------------------------------------------------------------------------------------------------ renderers
def _esc(text) -> str:
    import html

    return html.escape("" if text is None else str(text), quote=True)


def to_html(
    table: TableModel,
    *,
    highlight=None,
    rows_note: str | None = None,
    caption: bool = False,
    rows_link: str | None = None,
) -> str:
    """An escaped HTML table (header tooltips name the output columns).

    Parameters
    ----------
    table : TableModel
    highlight : array-like of bool, optional
        Body rows to emphasise (class ``hl``).
    rows_note : str, optional
        Note shown when the body was cut (``table.total_rows`` set).
    rows_link : str, optional
        The full table's file (e.g. ``tables/lisa.csv``): where the note names it, it becomes a
        link relative to report.html.
    caption : bool, default False
        Show the title as the table's caption.
    """
    hl = None if highlight is None else list(np.asarray(highlight, dtype=bool)[: len(table.rows)])
    out = ["<div class='tbl'><table class='reg'>" if table.layout == "regression" else "<div class='tbl'><table>"]
    if caption and table.title:
        out.append(f"<caption>{_esc(table.title)}</caption>")
    out.append("<thead>")
    last = len(table.header) - 1
    for i, hrow in enumerate(table.header):
        cells = []
        for j, h in enumerate(hrow):
            key = table.keys[j] if i == last and j < len(table.keys) else ""
            tip = f" title='{_esc(key)}'" if key and key != h else ""
            cells.append(f"<th{tip}>{_esc(h)}</th>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</thead><tbody>")
    panels = dict(table.panels)
    for i, row in enumerate(table.rows):
        if i in panels:
            out.append(f"<tr class='panel'><td colspan='{table.n_cols}'>{_esc(panels[i])}</td></tr>")
        cls = []
        if hl is not None and i < len(hl) and hl[i]:
            cls.append("hl")
        if i in table.rules:
            cls.append("rule")
        attr = f" class='{' '.join(cls)}'" if cls else ""
        cells = "".join(
            f"<td class='{'num' if a == 'r' else 'c'}'>{_esc(v)}</td>" if a != "l" else f"<td>{_esc(v)}</td>"
            for v, a in zip(row, table.align)
        )
        out.append(f"<tr{attr}>{cells}</tr>")
    out.append("</tbody></table></div>")
    for note in table.notes:
        out.append(f"<p class='note'>{_esc(note)}</p>")
    if table.total_rows is not None and rows_note:
        note = _esc(rows_note)
        if rows_link:
            link = _esc(rows_link)
            note = note.replace(link, f"<a href='{link}'>{link}</a>", 1)
        out.append(f"<p class='note'>{note}</p>")
    return "".join(out)


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_SYMBOLS = {
    "γ₁": r"$\gamma_1$",
    "γ₂": r"$\gamma_2$",
    "γ": r"$\gamma$",
    "ρ": r"$\rho$",
    "λ": r"$\lambda$",
    "θ": r"$\theta$",
    "β": r"$\beta$",
    "k₁": r"$k_1$",
    "k₂": r"$k_2$",
    "²": r"$^2$",
    "·": r"$\cdot$",
    "−": "$-$",
    "×": r"$\times$",
    "<": "$<$",
    ">": "$>$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "±": r"$\pm$",
    "|": r"$|$",
    "（": " (",
    "）": ")",
    "：": ": ",
    "，": ", ",
    "；": "; ",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in sorted(_LATEX_SYMBOLS, key=len, reverse=True)))


def latex_text(text) -> str:
    """Escape LaTeX's special characters and write Greek letters, sub/superscripts and relations as math.

    Stars at the end of a cell become a superscript (``0.152$^{***}$``).
    Chinese text is kept (compile it with ``ctex`` and XeLaTeX).
    """
    s = "" if text is None else str(text)
    m = re.search(r"(\*+)$", s)
    tail = ""
    if m and s != m.group(1):
        s, tail = s[: m.start()], "$^{" + m.group(1) + "}$"
    s = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in s)
    s = _LATEX_RE.sub(lambda mm: _LATEX_SYMBOLS[mm.group(0)], s)
    return re.sub(r"(?<!\\)\$\$", "", s) + tail


def to_latex(table: TableModel, *, label: str | None = None) -> str:
    """A booktabs three-line ``table`` environment (``\\toprule``, ``\\midrule``, ``\\bottomrule``).

    Needs ``\\usepackage{booktabs}``; panel titles span the table in italics,
    the statistics block of a regression table sits below a ``\\midrule``,
    notes follow the tabular in ``\\footnotesize``.
    """
    n = table.n_cols
    lines = [r"\begin{table}[htbp]", r"\centering", r"\small"]
    if table.title:
        lines.append(r"\caption{" + latex_text(table.title) + "}")
    if label:
        lines.append(r"\label{" + label + "}")
    lines.append(r"\begin{tabular}{" + "".join(table.align) + "}")
    lines.append(r"\toprule")
    for hrow in table.header:
        lines.append(" & ".join(latex_text(h) for h in hrow) + r" \\")
    lines.append(r"\midrule")
    panels = dict(table.panels)
    for i, row in enumerate(table.rows):
        if i in table.rules:
            lines.append(r"\midrule")
        if i in panels:
            if i and i not in table.rules:
                lines.append(r"\addlinespace")
            lines.append(r"\multicolumn{" + str(n) + "}{l}{\\textit{" + latex_text(panels[i]) + r"}} \\")
        lines.append(" & ".join(latex_text(v) for v in row) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    if table.notes:
        lines.append(r"\par\smallskip\footnotesize " + r" \\ ".join(latex_text(x) for x in table.notes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _border(cell, **edges) -> None:
    """Set the given borders (top/bottom: size in eighths of a point, 0 = none) of a python-docx cell."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge in ("top", "left", "bottom", "right"):
        size = edges.get(edge, 0)
        el = borders.find(qn(f"w:{edge}"))
        if el is None:
            el = OxmlElement(f"w:{edge}")
            borders.append(el)
        el.set(qn("w:val"), "single" if size else "nil")
        if size:
            el.set(qn("w:sz"), str(size))
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")


_DOCX_STYLE = "NQP Table Text"


def _table_style(document, font_size: float):
    """The paragraph style of table cells (size ``font_size``, no spacing), added to ``document`` once."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt

    styles = document.styles
    if _DOCX_STYLE in [st.name for st in styles]:
        return styles[_DOCX_STYLE]
    style = styles.add_style(_DOCX_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = styles["Normal"]
    style.font.size = Pt(font_size)
    fmt = style.paragraph_format
    fmt.space_before, fmt.space_after, fmt.line_spacing = Pt(0), Pt(0), 1.0
    return style


def _cell_text(cell, text: str, style, *, align: str = "l", bold=False, italic=False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    par = cell.paragraphs[0]
    par._p.style = style.style_id  # what ``par.style = style`` sets, without its search of the style list per cell
    par.alignment = {"l": WD_ALIGN_PARAGRAPH.LEFT, "r": WD_ALIGN_PARAGRAPH.RIGHT, "c": WD_ALIGN_PARAGRAPH.CENTER}.get(
        align, WD_ALIGN_PARAGRAPH.LEFT
    )
    if text:
        run = par.add_run(text)
        run.bold, run.italic = bold or None, italic or None


def _text_width(text: str) -> int:
    """Width of ``text`` in Latin character cells (CJK characters count two)."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in str(text))


def _column_widths(table: TableModel, total_cm: float) -> list:
    """Column widths (EMU): each column's longest cell (at most 28 cells) and longest header word, plus padding.

    The table takes at most ``total_cm``; a narrow table keeps its natural
    width (about 0.18 cm per character cell at 8 pt).
    """
    from docx.shared import Cm

    need = []
    for j in range(table.n_cols):
        words = [_text_width(w) for h in table.header for w in str(h[j]).split()] or [1]
        cells = [_text_width(r[j]) for r in table.rows] or [1]
        need.append(max(4, max(words), min(max(cells), 28)) + 2.5)
    total = sum(need)
    width = min(total_cm, 0.18 * total)
    return [Cm(width * n / total) for n in need]


def to_docx(
    table: TableModel,
    document,
    *,
    caption_prefix: str = "",
    font_size: float = 8.0,
    rows_note: str | None = None,
    width_cm: float = 16.0,
):
    """Append ``table`` to a python-docx ``Document`` as a three-line table with its caption and notes.

    The top rule is 1.5 pt, the rule under the header 0.75 pt, the bottom
    rule 1.5 pt; no vertical lines (the booktabs look journals ask for).
    Cells use the paragraph style "NQP Table Text" (``font_size`` points,
    no spacing); columns share ``width_cm`` in proportion to their text.

    Returns
    -------
    docx.table.Table
    """
    from docx.shared import Pt

    style = _table_style(document, font_size)
    cap = document.add_paragraph()
    cap.add_run(f"{caption_prefix}{table.title}").bold = True
    panels = dict(table.panels)
    body = []
    for i, row in enumerate(table.rows):
        if i in panels:
            body.append(("panel", (panels[i],), i in table.rules))
        body.append(("row", row, i in table.rules and i not in panels))
    n_head = len(table.header)
    t = document.add_table(rows=n_head + len(body), cols=table.n_cols)
    t.autofit = False
    widths = _column_widths(table, width_cm)
    # every row's cells read once, before any merge (``Table.cell`` rebuilds the whole grid on each call,
    # quadratic in the cells: 15 s for eight 60-row tables)
    grid = [row.cells for row in t.rows]
    for j, col in enumerate(t.columns):
        col.width = widths[j]
    for row in grid:
        for j, cell in enumerate(row):
            cell.width = widths[j]
    for i, hrow in enumerate(table.header):
        for j, h in enumerate(hrow):
            _cell_text(grid[i][j], h, style, align="c" if j else "l", bold=True)
            _border(grid[i][j], top=12 if i == 0 else 0, bottom=6 if i == n_head - 1 else 0)
    for k, (what, cells, rule) in enumerate(body):
        r = n_head + k
        last = k == len(body) - 1
        if what == "panel":
            merged = grid[r][0].merge(grid[r][table.n_cols - 1])
            _cell_text(merged, cells[0], style, italic=True)
            _border(merged, top=4 if rule else 0, bottom=12 if last else 0)
            continue
        for j, v in enumerate(cells):
            _cell_text(grid[r][j], v, style, align=table.align[j])
            _border(grid[r][j], top=4 if rule else 0, bottom=12 if last else 0)
    for note in table.notes + ((rows_note,) if rows_note and table.total_rows is not None else ()):
        p = document.add_paragraph()
        run = p.add_run(note)
        run.font.size = Pt(font_size)
    return t


def regression_html(tables: Mapping[str, pd.DataFrame], lang: str = "en") -> str:
    """The Haken regression table (:func:`haken_regression_table`) as HTML, or "" without estimates."""
    model = haken_regression_table(tables, lang)
    return "" if model is None else to_html(model, caption=True)
