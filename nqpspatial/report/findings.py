"""The findings that open the report: what the tables say, in sentences, with cross-stage warnings.

:func:`findings` reads the output tables of a run and returns a list of
:class:`Finding`: every sentence is generated from the numbers in the tables
(change a table and the sentence changes), a finding whose table is absent
becomes one line naming the analysis that would give it (``kind =
"missing"``), and conditions that cut across stages are ``kind = "warning"``:

* the aspatial and the spatial verdicts disagree (``haken_identification``
  against ``spatial_haken_identification`` for the preferred model of
  ``model_selection``, or every fitted model when no selection ran);
* the aspatial residuals are spatially autocorrelated
  (``haken_residual_diagnostics``, else the OLS rows of
  ``spatial_haken_diagnostics``);
* LISA maps over regions with fewer than three neighbours (low power; the
  regions are named, from ``weights_<slug>``);
* a verdict that holds in under 90 % of the weight-sensitivity draws;
* h that is a function of q1 alone (the potential-based strategies);
* an ``inference_note`` of the chosen ordering.

:func:`findings_html` renders them for report.html (warnings first, in a
box); :func:`nqpspatial.report.docx.write_docx` puts them in report.docx.
The module is pure: tables in, sentences out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .tables import format_p

__all__ = ["Finding", "findings", "findings_html", "Q1_ONLY_STRATEGIES", "TEXT"]

#: Co-evolution strategies whose h is a function of q1 alone (through the potential V(q1)).
Q1_ONLY_STRATEGIES = frozenset({"potential", "distance", "potential-normalized", "distance-normalized"})


@dataclass(frozen=True)
class Finding:
    """One sentence of the findings section.

    Attributes
    ----------
    key : str
        What it is about (``verdict``, ``stable_point``, ``moran``, ...,
        ``w_disagree`` for warnings).
    text : str
        The sentence, in the report's language.
    kind : {"finding", "warning", "missing"}
        A result, a cross-stage warning, or the line that replaces a finding
        whose table is absent.
    sources : tuple of str
        The output tables it was generated from (or would be).
    """

    key: str
    text: str
    kind: str = "finding"
    sources: tuple[str, ...] = ()


TEXT: dict[str, dict[str, str]] = {
    "en": {
        "heading": "Findings",
        "broken": "The finding '{what}' could not be generated: a table breaks its documented columns ({error}).",
        "warnings": "Warnings",
        "not_available": "Not available in this run",
        "verdict": (
            "{q1} is the order parameter and {q2} the servo variable: the adiabatic verdict holds "
            "(γ₂ = {gamma2}, p {p2}; |γ₂|/|γ₁| = {ratio}{ci})."
        ),
        "ci": "; interval {lo} to {hi}",
        "boot_share": " It holds in {share} of the bootstrap resamples.",
        "verdict_none": "No ordering of the subsystems passes the adiabatic verdict, so no order parameter is "
        "identified: {details}.",
        "ordering": "{q1} → {q2}: γ₂ = {gamma2}, |γ₂|/|γ₁| = {ratio}, p(γ₂) {p2}",
        "sens": "Under random indicator weights the same ordering is chosen in {share} of {n} draws{alt}.",
        "sens_alt": "; under the alternative weighting methods in {k} of {m} ({methods})",
        "sens_none": "Under random indicator weights no ordering passes in {share} of {n} draws.",
        "rob": "Across the robustness variants the ordering is chosen in {k} of {n} ({share}){fails}.",
        "rob_fails": "; not in: {names}",
        "rob_none": "Across the robustness variants an ordering passes in {k} of {n} ({share}).",
        "case_words_0": "undefined: γ₂ ≤ 0, so the servo variable cannot be eliminated",
        "case_words_1": "ordered state: q1 = 0 is unstable and the system settles at a stable point",
        "case_words_2": "q1 = 0 is the only stable state: the order parameter dies out",
        "case_words_3": "no stable point: the potential is unbounded below and q1 grows without bound",
        "case_words_4": "q1 = 0 is stable and ±q1* are unstable thresholds: q1 dies out below them and grows "
        "beyond them",
        "stable": "Stability case {case} ({words}){star}{map}.",
        "star": "; stable point q1* = {qs} (V* = {vs})",
        "map_yes": "; the annual map converges to it (both eigenvalues of its Jacobian inside the unit circle)",
        "map_no": "; but the fitted annual map does not converge to it (an eigenvalue of its Jacobian lies "
        "outside the unit circle), so yearly data need not approach it",
        "stable_units": "With one potential per {unit} ({n}): {cases}{stars}; the annual map converges in {m} of {n}.",
        "case_count": "case {case} in {k}",
        "stars_range": "; stable points q1* from {lo} to {hi} (median {med})",
        "turn_sig": "The sup-F test dates a turning point in {year} (p {p}).",
        "turn_ns": "The sup-F search finds no significant turning point (largest statistic in {year}, p {p}).",
        "turn_nop": "The sup-F search puts the largest break statistic in {year} (no bootstrap p-value).",
        "turn_growth": " The national mean of q1 ({q1}) changed by {before} a year up to {year} and by {after} "
        "a year after it.",
        "moran": (
            "Global Moran's I of {var} ({w} weights) ranges from {lo} ({ylo}) to {hi} ({yhi}) over "
            "{y0}–{y1} and is significant at {alpha} in {k} of {n} years{trend}."
        ),
        "trend_up": "; it rises by {slope} a year (trend p {p})",
        "trend_down": "; it falls by {slope} a year (trend p {p})",
        "trend_flat": "; it shows no clear trend (slope {slope} a year, p {p})",
        "lisa": "LISA clusters of {var} in {year} ({w} weights): hot spots (high-high) in {hh}; cold spots "
        "(low-low) in {ll}{out}.",
        "none": "none",
        "more": "and {k} more",
        "and": " and ",
        "sep": ", ",
        "semi": "; ",
        "outliers": "; {k} spatial {outliers} (high-low or low-high)",
        "selection": "Model selection prefers {items}.",
        "selection_item": "{model} under {w} weights{reason}",
        "spill": "Main spillovers (indirect effects) in {model}{note}: {items}.",
        "spill_none": "No spillover (indirect effect) in {model}{note} has an interval that excludes zero; the "
        "largest is {item}.",
        "spill_first": " (the first model fitted; no model selection ran)",
        "spill_me": "neighbours' {wrt}(t) on {eq}(t+1) {est} (interval {lo} to {hi}, {sign})",
        "spill_term": "neighbours' {term} on {eq}(t+1) {est} (interval {lo} to {hi}, {sign})",
        "positive": "positive",
        "negative": "negative",
        "spatial_star": "In {model} ({w}, {reading} reading) the stable point is q1* = {qs}{ci}{share}.",
        "spatial_star_ci": " (interval {lo} to {hi})",
        "spatial_share": ", and one exists in {share} of the effect draws",
        "spatial_steady": (
            "In {model} ({w}, {reading} reading) the per-region steady states average q1* = {mean} (from {lo} to {hi})."
        ),
        "ineq": (
            "Zone inequality of {var} ({scheme}): the Dagum Gini {moves} from {g0} in {y0} to {g1} in {y1}; "
            "in {y1} its largest source is {comp} ({share}){pair}."
        ),
        "rises": "rises",
        "falls": "falls",
        "stays": "stays near its level",
        "comp_share_within": "the gaps within zones",
        "comp_share_between": "the net gaps between zones",
        "comp_share_transvariation": "transvariation (the overlap between zones)",
        "ineq_pair": ", above all between {gj} and {gh}",
        "theil": "Theil's T of {var} is {T} in {year}, {sb} of it between zones.",
        "missing_verdict": "Order-parameter verdict: not available; it comes from the Haken analysis ([haken], two "
        "subsystems; haken_identification.csv).",
        "missing_sensitivity": "Weight sensitivity of the verdict: not run; it comes from the [sensitivity] "
        "analysis (sensitivity_summary.csv).",
        "missing_robustness": "Robustness of the verdict: not run; it comes from the [robustness] analysis "
        "(robustness.csv).",
        "missing_stable_point": "Stable point and stability case: not available; they come from the Haken "
        "analysis (haken_potential.csv).",
        "missing_turning": "Turning point: not available; it comes from the Haken stage's sup-F break search "
        "(stages_tests.csv).",
        "missing_moran": "Moran's I: not available; it comes from the spatial statistics ([spatial], needs region "
        "boundaries; moran_global.csv).",
        "missing_lisa": "LISA hot and cold spots: not available; they come from the spatial statistics "
        "([spatial] with lisa; lisa.csv).",
        "missing_selection": "Preferred spatial model: not available; it comes from the spatial model selection "
        "of [spatial_haken] (model_selection.csv).",
        "missing_spillovers": "Spillovers: not available; they come from the spatial Haken models "
        "([spatial_haken]; spatial_haken_marginal_effects.csv).",
        "missing_inequality": "Zone inequality: not available; it comes from the zone analyses with a region "
        "scheme ([regions] scheme and [zones]; dagum_gini.csv or theil.csv).",
        "w_disagree": "The aspatial and the spatial verdicts disagree: aspatial model: {a}; {model} ({w}{reading}): "
        "{s}.",
        "w_reading": ", {reading} reading",
        "is_op": "{q1} is the order parameter",
        "no_op": "no ordering passes",
        "w_residuals": (
            "The aspatial model's residuals are spatially autocorrelated ({tests}): its standard errors "
            "ignore cross-regional dependence. Read the spatial models and the dependence-robust "
            "options of [haken] se."
        ),
        "resid_item": "{test} {stat} in the {eq} equation, p {p}",
        "resid_more": "; {k} LM tests reject too",
        "w_lisa_power": (
            "Low power in the LISA maps ({w} weights): {items} have fewer than three neighbours, so "
            "their local statistics rest on one or two neighbours."
        ),
        "w_sensitivity": (
            "The verdict holds in only {share} of the weight-sensitivity draws (under {thr}): it "
            "depends on the indicator weights."
        ),
        "w_h_q1": (
            "h is a function of q1 ({q1}) alone (the {strategy} strategy, from the potential V(q1)): "
            "{q2} does not enter it, so h says where the order parameter stands on the potential, not how "
            "the two subsystems move together."
        ),
        "w_inference": "Inference note ({q1} → {q2}): {note}",
    },
    "zh": {
        "heading": "主要发现",
        "broken": "无法生成“{what}”这一发现：某个表格不符合其文档所述的列（{error}）。",
        "warnings": "警示",
        "not_available": "本次运行未提供",
        "verdict": (
            "{q1} 为序参量，{q2} 为伺服变量：绝热消去判定成立（γ₂ = {gamma2}，p {p2}；|γ₂|/|γ₁| = {ratio}{ci}）。"
        ),
        "ci": "；区间 {lo} 至 {hi}",
        "boot_share": "在 {share} 的自助法重抽样中判定成立。",
        "verdict_none": "两个子系统的任何排序均未通过绝热消去判定，序参量无法识别：{details}。",
        "ordering": "{q1} → {q2}：γ₂ = {gamma2}，|γ₂|/|γ₁| = {ratio}，p(γ₂) {p2}",
        "sens": "在随机指标权重下，{n} 次抽样中有 {share} 选出同一排序{alt}。",
        "sens_alt": "；在其他赋权方法下为 {m} 种中的 {k} 种（{methods}）",
        "sens_none": "在随机指标权重下，{n} 次抽样中有 {share} 没有任何排序通过判定。",
        "rob": "在稳健性检验的各设定中，该排序在 {n} 个设定中的 {k} 个被选定（{share}）{fails}。",
        "rob_fails": "；未被选定的设定：{names}",
        "rob_none": "在稳健性检验的 {n} 个设定中，有 {k} 个存在通过判定的排序（{share}）。",
        "case_words_0": "未定义：γ₂ ≤ 0，伺服变量无法被消去",
        "case_words_1": "有序态：q1 = 0 不稳定，系统趋于稳定点",
        "case_words_2": "q1 = 0 是唯一的稳定状态：序参量趋于消亡",
        "case_words_3": "不存在稳定点：势函数无下界，q1 无限增长",
        "case_words_4": "q1 = 0 稳定，±q1* 为不稳定阈值：低于阈值时 q1 消亡，高于阈值时增长",
        "stable": "稳定性情形 {case}（{words}）{star}{map}。",
        "star": "；稳定点 q1* = {qs}（V* = {vs}）",
        "map_yes": "；年度映射收敛于该点（其雅可比矩阵的两个特征值均在单位圆内）",
        "map_no": "；但拟合的年度映射不收敛于该点（其雅可比矩阵有特征值位于单位圆外），年度数据未必趋近该点",
        "stable_units": "按{unit}分别估计势函数（{n} 个）：{cases}{stars}；年度映射在 {n} 个中的 {m} 个收敛。",
        "case_count": "情形 {case} 有 {k} 个",
        "stars_range": "；稳定点 q1* 介于 {lo} 与 {hi} 之间（中位数 {med}）",
        "turn_sig": "sup-F 检验识别出转折点位于 {year} 年（p {p}）。",
        "turn_ns": "sup-F 检验未发现显著的转折点（最大统计量位于 {year} 年，p {p}）。",
        "turn_nop": "sup-F 搜索的最大断点统计量位于 {year} 年（无自助法 p 值）。",
        "turn_growth": "全国 q1（{q1}）均值在 {year} 年及以前每年变化 {before}，此后每年变化 {after}。",
        "moran": "{var} 的全局莫兰指数（{w} 权重）在 {y0}–{y1} 年间介于 {lo}（{ylo} 年）与 {hi}（{yhi} 年）之间，"
        "在 {n} 年中有 {k} 年在 {alpha} 水平上显著{trend}。",
        "trend_up": "；呈上升趋势，每年上升 {slope}（趋势 p {p}）",
        "trend_down": "；呈下降趋势，每年下降 {slope}（趋势 p {p}）",
        "trend_flat": "；无明显趋势（斜率每年 {slope}，p {p}）",
        "lisa": "{year} 年 {var} 的 LISA 集聚（{w} 权重）：热点（高-高）为 {hh}；冷点（低-低）为 {ll}{out}。",
        "none": "无",
        "more": "等（另有 {k} 个）",
        "and": "、",
        "sep": "、",
        "semi": "；",
        "outliers": "；另有 {k} 个空间异常值（高-低或低-高）",
        "selection": "模型选择结果偏好 {items}。",
        "selection_item": "{w} 权重下的 {model}{reason}",
        "spill": "{model}{note}的主要空间溢出（间接效应）：{items}。",
        "spill_none": "{model}{note}中没有任何空间溢出（间接效应）的区间排除零；最大的是 {item}。",
        "spill_first": "（所拟合的第一个模型；未进行模型选择）",
        "spill_me": "邻近地区 {wrt}(t) 对 {eq}(t+1) 为 {est}（区间 {lo} 至 {hi}，{sign}）",
        "spill_term": "邻近地区 {term} 对 {eq}(t+1) 为 {est}（区间 {lo} 至 {hi}，{sign}）",
        "positive": "正向",
        "negative": "负向",
        "spatial_star": "{model}（{w}，{reading}解读）的稳定点为 q1* = {qs}{ci}{share}。",
        "spatial_star_ci": "（区间 {lo} 至 {hi}）",
        "spatial_share": "，在 {share} 的效应抽样中存在稳定点",
        "spatial_steady": "{model}（{w}，{reading}解读）各地区稳态的 q1* 均值为 {mean}（介于 {lo} 与 {hi} 之间）。",
        "ineq": "{var} 的区域差异（{scheme}）：Dagum 基尼系数从 {y0} 年的 {g0} {moves}至 {y1} 年的 {g1}；"
        "{y1} 年最大的来源是{comp}（{share}）{pair}。",
        "rises": "上升",
        "falls": "下降",
        "stays": "基本持平，",
        "comp_share_within": "板块内差异",
        "comp_share_between": "板块间净差异",
        "comp_share_transvariation": "超变密度（板块间的交叉重叠）",
        "ineq_pair": "，其中以 {gj} 与 {gh} 之间的差异最大",
        "theil": "{year} 年 {var} 的泰尔指数 T 为 {T}，其中 {sb} 来自板块间差异。",
        "missing_verdict": (
            "序参量判定：本次未提供；它来自哈肯模型分析（[haken]，需两个子系统；haken_identification.csv）。"
        ),
        "missing_sensitivity": "判定的权重敏感性：未运行；它来自 [sensitivity] 分析（sensitivity_summary.csv）。",
        "missing_robustness": "判定的稳健性：未运行；它来自 [robustness] 分析（robustness.csv）。",
        "missing_stable_point": "稳定点与稳定性情形：本次未提供；它们来自哈肯模型分析（haken_potential.csv）。",
        "missing_turning": "转折点：本次未提供；它来自哈肯阶段的 sup-F 断点搜索（stages_tests.csv）。",
        "missing_moran": "莫兰指数：本次未提供；它来自空间统计分析（[spatial]，需地区边界；moran_global.csv）。",
        "missing_lisa": "LISA 热点与冷点：本次未提供；它们来自空间统计分析（[spatial] 的 lisa；lisa.csv）。",
        "missing_selection": "优选空间模型：本次未提供；它来自 [spatial_haken] 的空间模型选择（model_selection.csv）。",
        "missing_spillovers": "空间溢出：本次未提供；它们来自空间哈肯模型（[spatial_haken]；"
        "spatial_haken_marginal_effects.csv）。",
        "missing_inequality": "区域差异：本次未提供；它来自设定分区方案后的板块分析（[regions] scheme 与 [zones]；"
        "dagum_gini.csv 或 theil.csv）。",
        "w_disagree": "非空间模型与空间模型的判定不一致：非空间模型：{a}；{model}（{w}{reading}）：{s}。",
        "w_reading": "，{reading}解读",
        "is_op": "{q1} 为序参量",
        "no_op": "没有排序通过判定",
        "w_residuals": "非空间模型的残差存在空间自相关（{tests}）：其标准误忽略了地区间的相互依赖。请参考空间模型以及 "
        "[haken] se 中对相关性稳健的选项。",
        "resid_item": "{eq} 方程的{test}为 {stat}（p {p}）",
        "resid_more": "；另有 {k} 个 LM 检验也拒绝原假设",
        "w_lisa_power": "LISA 图的检验功效较低（{w} 权重）：{items} 的邻居少于三个，其局部统计量只依赖一两个邻居。",
        "w_sensitivity": "判定只在 {share} 的权重敏感性抽样中成立（低于 {thr}）：结论依赖于指标权重。",
        "w_h_q1": "h 仅是 q1（{q1}）的函数（{strategy} 策略，基于势函数 V(q1)）：{q2} 不进入 h，"
        "因此 h 反映的是序参量在势函数上的位置，而非两个子系统的协同变化。",
        "w_inference": "推断说明（{q1} → {q2}）：{note}",
    },
}

_TESTS = {
    "en": {
        "moran_residuals": "Moran's I",
        "lm_lag": "LM lag",
        "lm_error": "LM error",
        "rlm_lag": "robust LM lag",
        "rlm_error": "robust LM error",
        "lm_sarma": "LM SARMA",
    },
    "zh": {
        "moran_residuals": "残差莫兰指数",
        "lm_lag": "LM 滞后检验",
        "lm_error": "LM 误差检验",
        "rlm_lag": "稳健 LM 滞后检验",
        "rlm_error": "稳健 LM 误差检验",
        "lm_sarma": "LM SARMA 检验",
    },
}
_READINGS = {"en": {"system": "system", "local": "local"}, "zh": {"system": "系统", "local": "局部"}}
_UNITS = {"en": {"region": "region", "group": "group"}, "zh": {"region": "地区", "group": "分组"}}
_MODELS = {"ols": "OLS", "slx": "SLX", "sar": "SAR", "sem": "SEM", "sdm": "SDM"}
_MAX_NAMES = 8


# ------------------------------------------------------------------------------------------------ helpers
def _num(x, digits: int = 3, sign: bool = False) -> str:
    """A number for a sentence: ``digits`` decimals (significant digits when tiny), Unicode minus."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    x = float(x)
    a = abs(x)
    text = f"{x:.{digits}g}" if (0 < a < 10.0**-digits or a >= 1e5) else f"{x:.{digits}f}"
    if text.startswith("-"):
        text = "−" + text[1:]
    elif sign and x > 0:
        text = "+" + text
    return text


def _bool(v) -> bool | None:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower()
        return True if s in ("true", "1", "yes") else False if s in ("false", "0", "no") else None
    try:
        return None if pd.isna(v) else bool(v)
    except (TypeError, ValueError):
        return None


def _float(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


class _Ctx:
    """The tables and the language, with small helpers shared by the finding builders."""

    def __init__(self, tables, lang, names, alpha, reading, min_neighbours, threshold):
        self.tables = tables or {}
        self.lang = lang if lang in TEXT else "en"
        self.names = {str(k): str(v) for k, v in (names or {}).items()}
        self.alpha, self.reading_opt = alpha, reading
        self.min_neighbours, self.threshold = min_neighbours, threshold
        self.pair = self._chosen_pair()

    def t(self, name):
        tab = self.tables.get(name)
        return tab if isinstance(tab, pd.DataFrame) and len(tab) else None

    def msg(self, key, **fmt):
        text = TEXT[self.lang].get(key) or TEXT["en"][key]
        return text.format(**fmt) if fmt else text

    def pct(self, share) -> str:
        v = 100 * float(share)
        text = f"{v:.0f}" if abs(v - round(v)) < 0.05 or v >= 10 else f"{v:.1f}"
        return f"{text}%" if self.lang == "zh" else f"{text} %"

    def p(self, p) -> str:
        text = format_p(p)
        if not text:
            return "–"
        return text if text.startswith("<") else f"= {text}"

    def region(self, r) -> str:
        return self.names.get(str(r), str(r))

    def name_list(self, items) -> str:
        items = [str(x) for x in items]
        if not items:
            return self.msg("none")
        if len(items) > _MAX_NAMES:
            return self.msg("sep").join(items[:_MAX_NAMES]) + " " + self.msg("more", k=len(items) - _MAX_NAMES)
        return self.msg("sep").join(items)

    def eq(self, equation) -> str:
        """An equation (``q1``/``q2``) named by its subsystem when the ordering is known."""
        e = str(equation)
        if self.pair is not None and e in ("q1", "q2"):
            return f"{e} ({self.pair[0] if e == 'q1' else self.pair[1]})"
        return e

    def subst(self, text) -> str:
        """``q1``/``q2`` in a term label replaced by the subsystem names."""
        if self.pair is None:
            return str(text)
        return str(text).replace("q1", "\0").replace("q2", self.pair[1]).replace("\0", self.pair[0])

    def model(self, m) -> str:
        return _MODELS.get(str(m).lower(), str(m))

    def reading_word(self, r) -> str:
        return _READINGS[self.lang].get(str(r), str(r))

    def finding(self, key, text, sources, kind="finding") -> Finding:
        return Finding(key=key, text=text, kind=kind, sources=tuple(sources))

    def missing(self, key, sources) -> Finding:
        return Finding(key=key, text=self.msg(f"missing_{key}"), kind="missing", sources=tuple(sources))

    def _chosen_pair(self):
        ident = self.t("haken_identification")
        if ident is None or not {"q1", "q2", "chosen"} <= set(ident.columns):
            return None
        ch = ident[ident["chosen"].map(_bool).fillna(False).astype(bool)]
        return (str(ch["q1"].iloc[0]), str(ch["q2"].iloc[0])) if len(ch) else None

    def main_variable(self, values) -> str | None:
        vals = [str(v) for v in pd.unique(pd.Series(values).dropna())]
        for pref in ("h", *(self.pair or ())):
            if pref in vals:
                return pref
        return vals[0] if vals else None

    def var_label(self, var) -> str:
        if var == "h":
            return "h" if self.lang == "en" else "协同演化水平 h"
        return str(var)


def _rows_of(tab: pd.DataFrame, pair) -> pd.DataFrame:
    if pair is None or not {"q1", "q2"} <= set(tab.columns):
        return tab
    return tab[(tab["q1"].astype(str) == pair[0]) & (tab["q2"].astype(str) == pair[1])]


# ----------------------------------------------------------------------------------------------- findings
def _verdict(c: _Ctx) -> list:
    ident = c.t("haken_identification")
    src = ("haken_identification",)
    if ident is None or not {"q1", "q2"} <= set(ident.columns):
        return [c.missing("verdict", src)]
    if c.pair is None:
        details = []
        for _, r in ident.iterrows():
            details.append(
                c.msg(
                    "ordering",
                    q1=r["q1"],
                    q2=r["q2"],
                    gamma2=_num(_float(r.get("gamma2"))),
                    ratio=_num(_float(r.get("ratio")), 2),
                    p2=c.p(r.get("p_gamma2")),
                )
            )
        return [c.finding("verdict", c.msg("verdict_none", details=c.msg("semi").join(details)), src)]
    r = _rows_of(ident, c.pair).iloc[0]
    lo, hi = _float(r.get("ratio_ci_low")), _float(r.get("ratio_ci_high"))
    ci = c.msg("ci", lo=_num(lo, 2), hi=_num(hi, 2)) if lo is not None and hi is not None else ""
    text = c.msg(
        "verdict",
        q1=c.pair[0],
        q2=c.pair[1],
        gamma2=_num(_float(r.get("gamma2"))),
        p2=c.p(r.get("p_gamma2")),
        ratio=_num(_float(r.get("ratio")), 2),
        ci=ci,
    )
    share = _float(r.get("verdict_share"))
    if share is not None:
        text += c.msg("boot_share", share=c.pct(share))
    return [c.finding("verdict", text, src)]


def _sensitivity_rows(c: _Ctx):
    s = c.t("sensitivity_summary")
    if s is None or not {"kind", "statistic", "share"} <= set(s.columns):
        return None
    return s[s["kind"].astype(str) == "verdict"]


def _sensitivity(c: _Ctx) -> list:
    src = ("sensitivity_summary",)
    v = _sensitivity_rows(c)
    if v is None or v.empty:
        return [c.missing("sensitivity", src)]
    if c.pair is None:
        none = v[v["statistic"].astype(str) == "no_order_parameter"]
        if none.empty:
            return []
        r = none.iloc[0]
        return [c.finding("sensitivity", c.msg("sens_none", share=c.pct(r["share"]), n=int(r.get("n", 0))), src)]
    v = _rows_of(v, c.pair)
    stat = "chosen" if (v["statistic"].astype(str) == "chosen").any() else "adiabatic"
    v = v[v["statistic"].astype(str) == stat]
    draws = v[v["source"].astype(str) == "dirichlet"] if "source" in v.columns else v
    if draws.empty:
        return [c.missing("sensitivity", src)]
    r = draws.iloc[0]
    alt = ""
    others = v[v["source"].astype(str) != "dirichlet"] if "source" in v.columns else v.iloc[0:0]
    if len(others):
        held = [str(m) for m, sh in zip(others["source"], others["share"]) if (_float(sh) or 0) >= 0.5]
        alt = c.msg("sens_alt", k=len(held), m=len(others), methods=c.msg("sep").join(map(str, others["source"])))
    n = int(_float(r.get("n")) or 0)
    return [c.finding("sensitivity", c.msg("sens", share=c.pct(r["share"]), n=f"{n:,}", alt=alt), src)]


def _robustness(c: _Ctx) -> list:
    src = ("robustness",)
    rob = c.t("robustness")
    if rob is None or "kind" not in rob.columns:
        return [c.missing("robustness", src)] if rob is None else []
    if c.pair is None:
        return _robustness_none(c, rob)
    sub = _rows_of(rob, c.pair)
    sub = sub[sub["kind"].astype(str) != "baseline"]
    col = "chosen" if "chosen" in sub.columns else "adiabatic"
    if sub.empty or col not in sub.columns:
        return []
    held = sub[col].map(_bool).fillna(False).astype(bool)
    names = [str(v) for v in sub.loc[~held, "variant"]] if "variant" in sub.columns else []
    fails = c.msg("rob_fails", names=c.name_list(names)) if names else ""
    text = c.msg("rob", k=int(held.sum()), n=len(sub), share=c.pct(held.mean()), fails=fails)
    return [c.finding("robustness", text, src)]


def _robustness_none(c: _Ctx, rob: pd.DataFrame) -> list:
    """No ordering passes in the baseline: in how many variants does one pass?"""
    if not {"variant", "chosen"} <= set(rob.columns):
        return []
    sub = rob[rob["kind"].astype(str) != "baseline"]
    passes = sub.groupby(sub["variant"].astype(str), sort=False)["chosen"].agg(
        lambda x: bool(x.map(_bool).fillna(False).any())
    )
    if passes.empty:
        return []
    text = c.msg("rob_none", k=int(passes.sum()), n=len(passes), share=c.pct(passes.mean()))
    return [c.finding("robustness", text, ("robustness",))]


def _stable_point(c: _Ctx) -> list:
    src = ("haken_potential",)
    pot = c.t("haken_potential")
    if pot is None or "case" not in pot.columns:
        return [c.missing("stable_point", src)]
    unit = next((u for u in ("region", "group") if u in pot.columns and pot[u].notna().any()), None)
    if unit is not None and len(pot) > 1:
        return [c.finding("stable_point", _stable_units(c, pot, unit), src)]
    r = pot.iloc[0]
    case = int(_float(r.get("case")) or 0)
    qs, vs = _float(r.get("q1_star")), _float(r.get("V_star"))
    star = c.msg("star", qs=_num(qs), vs=_num(vs)) if qs is not None else ""
    stable = _bool(r.get("map_stable")) if qs is not None else None
    mp = "" if stable is None else c.msg("map_yes" if stable else "map_no")
    words = c.msg(f"case_words_{case}") if case in range(5) else str(r.get("case_label", ""))
    return [c.finding("stable_point", c.msg("stable", case=case, words=words, star=star, map=mp), src)]


def _stable_units(c: _Ctx, pot: pd.DataFrame, unit: str) -> str:
    cases = pd.to_numeric(pot["case"], errors="coerce").dropna().astype(int)
    parts = [c.msg("case_count", case=k, k=int(n)) for k, n in cases.value_counts().sort_index().items()]
    qs = pd.to_numeric(pot.get("q1_star"), errors="coerce").dropna() if "q1_star" in pot.columns else pd.Series()
    stars = c.msg("stars_range", lo=_num(qs.min()), hi=_num(qs.max()), med=_num(qs.median())) if len(qs) else ""
    m = int(pot["map_stable"].map(_bool).fillna(False).sum()) if "map_stable" in pot.columns else 0
    return c.msg(
        "stable_units", unit=_UNITS[c.lang][unit], n=len(pot), cases=c.msg("sep").join(parts), stars=stars, m=m
    )


def _turning(c: _Ctx) -> list:
    src = ("stages_tests", "stages")
    tests = c.t("stages_tests")
    if tests is None or not {"test", "break_year"} <= set(tests.columns):
        return [c.missing("turning", src[:1])]
    sup = tests[tests["test"].astype(str).str.lower().isin(["sup-f", "supf", "sup_f"])]
    if sup.empty or _float(sup["break_year"].iloc[0]) is None:
        return [c.missing("turning", src[:1])]
    r = sup.iloc[0]
    year = int(float(r["break_year"]))
    p = _float(r.get("p"))
    if p is None:
        text = c.msg("turn_nop", year=year)
    elif p < c.alpha:
        text = c.msg("turn_sig", year=year, p=c.p(p))
    else:
        text = c.msg("turn_ns", year=year, p=c.p(p))
    used = ["stages_tests"]
    growth = _growth(c, year)
    if growth and (p is None or p < c.alpha):
        text += growth
        used.append("stages")
    return [c.finding("turning", text, used)]


def _growth(c: _Ctx, year: int) -> str:
    st = c.t("stages")
    if st is None or not {"year", "q1"} <= set(st.columns):
        return ""
    nat = st[st["scope"].astype(str) == "national"] if "scope" in st.columns else st
    nat = nat.sort_values("year")
    ch = nat["q1_change"] if "q1_change" in nat.columns else nat["q1"].diff()
    yrs = nat["year"].astype(float)
    before, after = ch[yrs <= year].dropna(), ch[yrs > year].dropna()
    if before.empty or after.empty:
        return ""
    q1 = c.pair[0] if c.pair else "q1"
    return c.msg(
        "turn_growth", q1=q1, year=year, before=_num(before.mean(), sign=True), after=_num(after.mean(), sign=True)
    )


def _moran(c: _Ctx) -> list:
    src = ("moran_global",)
    mg = c.t("moran_global")
    if mg is None or not {"variable", "year", "I"} <= set(mg.columns):
        return [c.missing("moran", src)]
    var = c.main_variable(mg["variable"])
    sub = mg[mg["variable"].astype(str) == var]
    w = str(sub["weights"].iloc[0]) if "weights" in sub.columns else ""
    if "weights" in sub.columns:
        sub = sub[sub["weights"].astype(str) == w]
    sub = sub.dropna(subset=["I"]).sort_values("year")
    if sub.empty:
        return [c.missing("moran", src)]
    i_lo, i_hi = sub["I"].astype(float).idxmin(), sub["I"].astype(float).idxmax()
    pcol = next((k for k in ("p_sim", "p_norm") if k in sub.columns and sub[k].notna().any()), None)
    k = int((pd.to_numeric(sub[pcol], errors="coerce") < c.alpha).sum()) if pcol else 0
    text = c.msg(
        "moran",
        var=c.var_label(var),
        w=w,
        lo=_num(sub.at[i_lo, "I"]),
        ylo=int(sub.at[i_lo, "year"]),
        hi=_num(sub.at[i_hi, "I"]),
        yhi=int(sub.at[i_hi, "year"]),
        y0=int(sub["year"].iloc[0]),
        y1=int(sub["year"].iloc[-1]),
        alpha=f"{c.alpha:g}",
        k=k,
        n=len(sub),
        trend=_trend(c, sub),
    )
    return [c.finding("moran", text, src)]


def _trend(c: _Ctx, sub: pd.DataFrame) -> str:
    if len(sub) < 3:
        return ""
    from scipy.stats import linregress

    x, y = sub["year"].astype(float).to_numpy(), sub["I"].astype(float).to_numpy()
    if np.ptp(y) == 0:
        return c.msg("trend_flat", slope=_num(0.0, 4), p=c.p(1.0))
    fit = linregress(x, y)
    if fit.pvalue < c.alpha:
        key = "trend_up" if fit.slope > 0 else "trend_down"
        return c.msg(key, slope=_num(abs(fit.slope), 4), p=c.p(fit.pvalue))
    return c.msg("trend_flat", slope=_num(fit.slope, 4, sign=True), p=c.p(fit.pvalue))


def _lisa_frame(c: _Ctx):
    lisa = c.t("lisa")
    if lisa is None or not {"variable", "year", "cluster"} <= set(lisa.columns):
        return None, None, None
    var = c.main_variable(lisa["variable"])
    sub = lisa[lisa["variable"].astype(str) == var]
    w = str(sub["weights"].iloc[0]) if "weights" in sub.columns else ""
    if "weights" in sub.columns:
        sub = sub[sub["weights"].astype(str) == w]
    return sub, var, w


def _lisa(c: _Ctx) -> list:
    src = ("lisa",)
    sub, var, w = _lisa_frame(c)
    if sub is None or sub.empty:
        return [c.missing("lisa", src)]
    rcol = "region" if "region" in sub.columns else sub.columns[0]
    year = sub["year"].max()
    last = sub[sub["year"] == year]
    cl = last["cluster"].astype(str)
    hh = [c.region(r) for r in last.loc[cl == "HH", rcol]]
    ll = [c.region(r) for r in last.loc[cl == "LL", rcol]]
    n_out = int(cl.isin(["HL", "LH"]).sum())
    out = c.msg("outliers", k=n_out, outliers="outlier" if n_out == 1 else "outliers") if n_out else ""
    text = c.msg("lisa", var=c.var_label(var), year=int(year), w=w, hh=c.name_list(hh), ll=c.name_list(ll), out=out)
    return [c.finding("lisa", text, src)]


def _preferred(c: _Ctx):
    """[(model, weights, reason)] of the system rows of model_selection for the ordering, or None."""
    ms = c.t("model_selection")
    if ms is None or "preferred" not in ms.columns:
        return None
    sub = _rows_of(ms, c.pair)
    if "scope" in sub.columns:
        sub = sub[sub["scope"].astype(str) == "system"]
    sub = sub[sub["preferred"].notna() & (sub["preferred"].astype(str) != "")]
    out = []
    for w, g in sub.groupby(
        sub["weights"].astype(str) if "weights" in sub.columns else pd.Series("", sub.index), sort=False
    ):
        r = g.iloc[0]
        reason = r.get("reason")
        out.append((str(r["preferred"]), w, "" if reason is None or pd.isna(reason) else str(reason)))
    return out or None


def _spatial_model(c: _Ctx) -> list:
    pref = _preferred(c)
    out = []
    if pref is None:
        out.append(c.missing("selection", ("model_selection",)))
    else:
        items = [
            c.msg("selection_item", model=c.model(m), w=w, reason=f" ({reason})" if reason else "")
            for m, w, reason in pref
        ]
        out.append(c.finding("selection", c.msg("selection", items=c.msg("semi").join(items)), ("model_selection",)))
    out += _spatial_star(c, pref)
    return out


def _reading(c: _Ctx, tab: pd.DataFrame):
    if "reading" not in tab.columns or tab["reading"].dropna().empty:
        return None
    if c.reading_opt in set(tab["reading"].astype(str)):
        return c.reading_opt
    return str(tab["reading"].dropna().iloc[0])


def _spatial_star(c: _Ctx, pref) -> list:
    pot = c.t("spatial_haken_potential")
    if pot is None or not {"model", "q1_star"} <= set(pot.columns):
        return []
    sub = _rows_of(pot, c.pair)
    reading = _reading(c, sub)
    if reading is not None:
        sub = sub[sub["reading"].astype(str) == reading]
    model, w = (pref[0][0], pref[0][1]) if pref else (sub["model"].iloc[0] if len(sub) else None, None)
    sub = sub[sub["model"].astype(str).str.lower() == str(model).lower()]
    if w is not None and "weights" in sub.columns:
        sub = sub[sub["weights"].astype(str) == w]
    if sub.empty:
        return []
    r = sub.iloc[0]
    w = str(r.get("weights", w or ""))
    qs = _float(r.get("q1_star"))
    common = {"model": c.model(r["model"]), "w": w, "reading": c.reading_word(reading or "")}
    if qs is None:
        mean = _float(r.get("steady_q1_mean"))
        if mean is None:
            return []
        text = c.msg(
            "spatial_steady",
            mean=_num(mean),
            lo=_num(_float(r.get("steady_q1_min"))),
            hi=_num(_float(r.get("steady_q1_max"))),
            **common,
        )
        return [c.finding("spatial_stable_point", text, ("spatial_haken_potential",))]
    lo, hi, share = (_float(r.get(k)) for k in ("q1_star_low", "q1_star_high", "stable_share"))
    ci = c.msg("spatial_star_ci", lo=_num(lo), hi=_num(hi)) if lo is not None and hi is not None else ""
    sh = c.msg("spatial_share", share=c.pct(share)) if share is not None else ""
    text = c.msg("spatial_star", qs=_num(qs), ci=ci, share=sh, **common)
    return [c.finding("spatial_stable_point", text, ("spatial_haken_potential",))]


def _effects_source(c: _Ctx):
    """(table name, indirect rows of the ordering) from the marginal effects, else the term-wise effects."""
    for name in ("spatial_haken_marginal_effects", "spatial_haken_effects"):
        tab = c.t(name)
        need = {"model", "effect", "estimate", "equation"} | ({"wrt"} if "marginal" in name else {"term"})
        if tab is None or not need <= set(tab.columns):
            continue
        sub = _rows_of(tab, c.pair)
        sub = sub[sub["effect"].astype(str) == "indirect"]
        if "term" in sub.columns and "marginal" not in name:
            sub = sub[~sub["term"].astype(str).str.endswith(("_within", "_across"))]
        if len(sub):
            return name, sub
    return None, None


def _spillovers(c: _Ctx) -> list:
    name, sub = _effects_source(c)
    if name is None:
        return [c.missing("spillovers", ("spatial_haken_marginal_effects",))]
    pref = _preferred(c)
    note = ""
    if pref:
        model, w = pref[0][0], pref[0][1]
    else:
        model, w = sub["model"].iloc[0], (str(sub["weights"].iloc[0]) if "weights" in sub.columns else "")
        note = c.msg("spill_first")
    sub = sub[sub["model"].astype(str).str.lower() == str(model).lower()]
    if "weights" in sub.columns and w:
        sub = sub[sub["weights"].astype(str) == str(w)]
    if sub.empty:
        return [c.missing("spillovers", (name,))]
    label = c.model(model) + (f" ({w})" if w else "")
    items = [
        (abs(float(r["estimate"])), _spill_item(c, r, name), _excludes_zero(r))
        for _, r in sub.iterrows()
        if _float(r["estimate"]) is not None
    ]
    items.sort(key=lambda x: -x[0])
    sig = [txt for _, txt, ok in items if ok][:3]
    if sig:
        text = c.msg("spill", model=label, note=note, items=c.msg("semi").join(sig))
    elif items:
        text = c.msg("spill_none", model=label, note=note, item=items[0][1])
    else:
        return [c.missing("spillovers", (name,))]
    return [c.finding("spillovers", text, (name,) + (("model_selection",) if pref else ()))]


def _excludes_zero(r) -> bool:
    lo, hi = _float(r.get("ci_low")), _float(r.get("ci_high"))
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def _spill_item(c: _Ctx, r, name) -> str:
    est = float(r["estimate"])
    fmt = {
        "est": _num(est, sign=True),
        "lo": _num(_float(r.get("ci_low"))),
        "hi": _num(_float(r.get("ci_high"))),
        "sign": c.msg("positive" if est > 0 else "negative"),
    }
    names = {"q1": str(r.get("q1", "q1")), "q2": str(r.get("q2", "q2"))}
    if c.pair is not None:
        names = {"q1": c.pair[0], "q2": c.pair[1]}
    eq = names.get(str(r["equation"]), str(r["equation"]))
    if "marginal" in name:
        return c.msg("spill_me", wrt=names.get(str(r["wrt"]), str(r["wrt"])), eq=eq, **fmt)
    from .tables import term_label

    return c.msg("spill_term", term=c.subst(term_label(r["term"], c.lang)), eq=eq, **fmt)


def _inequality(c: _Ctx) -> list:
    dg, th = c.t("dagum_gini"), c.t("theil")
    out = []
    if dg is not None and {"variable", "year", "G"} <= set(dg.columns):
        out += _dagum(c, dg)
    if th is not None and {"variable", "year", "T"} <= set(th.columns):
        out += _theil(c, th)
    return out or [c.missing("inequality", ("dagum_gini", "theil"))]


def _dagum(c: _Ctx, dg: pd.DataFrame) -> list:
    var = c.main_variable(dg["variable"])
    sub = dg[dg["variable"].astype(str) == var].dropna(subset=["G"]).sort_values("year")
    if sub.empty:
        return []
    first, last = sub.iloc[0], sub.iloc[-1]
    g0, g1 = float(first["G"]), float(last["G"])
    moves = "rises" if g1 > g0 + 0.005 else "falls" if g1 < g0 - 0.005 else "stays"
    shares = {k: _float(last.get(k)) for k in ("share_within", "share_between", "share_transvariation")}
    shares = {k: v for k, v in shares.items() if v is not None}
    if not shares:
        return []
    comp = max(shares, key=shares.get)
    pair = _dagum_pair(c, var, last["year"]) if comp == "share_between" else ""
    scheme = str(last.get("scheme", "")) if "scheme" in sub.columns else ""
    text = c.msg(
        "ineq",
        var=c.var_label(var),
        scheme=scheme,
        moves=c.msg(moves),
        g0=_num(g0),
        y0=int(first["year"]),
        g1=_num(g1),
        y1=int(last["year"]),
        comp=c.msg(f"comp_{comp}"),
        share=c.pct(shares[comp]),
        pair=pair,
    )
    return [c.finding("inequality", text, ("dagum_gini",) + (("dagum_pairs",) if pair else ()))]


def _dagum_pair(c: _Ctx, var, year) -> str:
    dp = c.t("dagum_pairs")
    if dp is None or not {"kind", "group_j", "group_h", "contribution"} <= set(dp.columns):
        return ""
    sub = dp[(dp["kind"].astype(str) == "between") & (dp["year"] == year)]
    if "variable" in sub.columns:
        sub = sub[sub["variable"].astype(str) == var]
    sub = sub.dropna(subset=["contribution"])
    if sub.empty:
        return ""
    r = sub.loc[sub["contribution"].astype(float).idxmax()]
    return c.msg("ineq_pair", gj=r["group_j"], gh=r["group_h"])


def _theil(c: _Ctx, th: pd.DataFrame) -> list:
    var = c.main_variable(th["variable"])
    sub = th[th["variable"].astype(str) == var].dropna(subset=["T"]).sort_values("year")
    if sub.empty or "share_between" not in sub.columns:
        return []
    r = sub.iloc[-1]
    text = c.msg(
        "theil", var=c.var_label(var), T=_num(float(r["T"])), year=int(r["year"]), sb=c.pct(float(r["share_between"]))
    )
    return [c.finding("theil", text, ("theil",))]


# ----------------------------------------------------------------------------------------------- warnings
def _spatial_verdicts(c: _Ctx):
    """[(model, weights, reading, chosen pair or None)] of the spatial identification to compare."""
    si = c.t("spatial_haken_identification")
    if si is None or not {"model", "q1", "q2", "chosen"} <= set(si.columns):
        return []
    reading = _reading(c, si)
    if reading is not None:
        si = si[si["reading"].astype(str) == reading]
    pref = _preferred(c)
    keys = si[["model"] + (["weights"] if "weights" in si.columns else [])].astype(str).drop_duplicates()
    out = []
    for _, k in keys.iterrows():
        m, w = k["model"], k.get("weights", "")
        if pref and not any(m.lower() == p.lower() and (not w or w == pw) for p, pw, _ in pref):
            continue
        g = si[(si["model"].astype(str) == m) & ((si["weights"].astype(str) == w) if w else True)]
        ch = g[g["chosen"].map(_bool).fillna(False).astype(bool)]
        out.append((m, w, reading, (str(ch["q1"].iloc[0]), str(ch["q2"].iloc[0])) if len(ch) else None))
    return out


def _w_disagree(c: _Ctx) -> list:
    if c.t("haken_identification") is None:
        return []
    out = []
    aspatial = c.msg("is_op", q1=c.pair[0]) if c.pair else c.msg("no_op")
    for m, w, reading, pair in _spatial_verdicts(c):
        if pair == c.pair:
            continue
        spatial = c.msg("is_op", q1=pair[0]) if pair else c.msg("no_op")
        rd = c.msg("w_reading", reading=c.reading_word(reading)) if reading else ""
        text = c.msg("w_disagree", a=aspatial, model=c.model(m), w=w, reading=rd, s=spatial)
        out.append(c.finding("w_disagree", text, ("haken_identification", "spatial_haken_identification"), "warning"))
    return out


def _residual_rows(c: _Ctx):
    rd = c.t("haken_residual_diagnostics")
    if rd is not None and {"test", "p", "equation"} <= set(rd.columns):
        sub = rd[rd["scope"].astype(str) == "pooled"] if "scope" in rd.columns else rd
        return "haken_residual_diagnostics", _rows_of(sub, c.pair)
    sd = c.t("spatial_haken_diagnostics")
    if sd is not None and {"model", "test", "p", "equation"} <= set(sd.columns):
        sub = sd[sd["model"].astype(str).str.lower() == "ols"]
        return "spatial_haken_diagnostics", _rows_of(sub, c.pair)
    return None, None


def _w_residuals(c: _Ctx) -> list:
    name, sub = _residual_rows(c)
    if name is None:
        return []
    sub = sub[sub["test"].astype(str).isin(["moran_residuals", "lm_lag", "lm_error"])]
    rej = sub[pd.to_numeric(sub["p"], errors="coerce") < c.alpha]
    if rej.empty:
        return []
    is_moran = rej["test"].astype(str) == "moran_residuals"
    shown, rest = (rej[is_moran], int((~is_moran).sum())) if is_moran.any() else (rej, 0)
    items = [
        c.msg(
            "resid_item",
            test=_TESTS[c.lang].get(str(r["test"]), str(r["test"])),
            eq=c.eq(r["equation"]),
            stat=_num(_float(r.get("statistic"))),
            p=c.p(r["p"]),
        )
        for _, r in shown.iterrows()
    ]
    text = c.msg("semi").join(items) + (c.msg("resid_more", k=rest) if rest else "")
    return [c.finding("w_residuals", c.msg("w_residuals", tests=text), (name,), "warning")]


def _neighbour_counts(c: _Ctx, w: str):
    """Region -> number of neighbours in the weights table of specification ``w`` (None when absent)."""
    slug = w
    ws = c.t("weights_summary")
    if ws is not None and {"name", "slug"} <= set(ws.columns):
        hit = ws[ws["name"].astype(str) == w]
        if len(hit) and pd.notna(hit["slug"].iloc[0]):
            slug = str(hit["slug"].iloc[0])
    tab = c.t(f"weights_{slug}")
    if tab is None or not {"focal", "neighbor"} <= set(tab.columns):
        return None, None
    links = tab[tab["focal"].astype(str) != tab["neighbor"].astype(str)]
    if "weight" in links.columns:
        links = links[pd.to_numeric(links["weight"], errors="coerce").fillna(0) != 0]
    return links.groupby(links["focal"].astype(str)).size(), f"weights_{slug}"


def _w_lisa_power(c: _Ctx) -> list:
    sub, var, w = _lisa_frame(c)
    if sub is None or sub.empty:
        return []
    counts, name = _neighbour_counts(c, w)
    if counts is None:
        return []
    rcol = "region" if "region" in sub.columns else sub.columns[0]
    mapped = sub[sub["cluster"].astype(str) != "isolated"][rcol].astype(str).unique()
    low = [(r, int(counts.get(r, 0))) for r in mapped if int(counts.get(r, 0)) < c.min_neighbours]
    if not low:
        return []
    items = c.name_list([f"{c.region(r)} ({k})" for r, k in sorted(low, key=lambda x: (x[1], str(x[0])))])
    return [c.finding("w_lisa_power", c.msg("w_lisa_power", w=w, items=items), ("lisa", name), "warning")]


def _w_sensitivity(c: _Ctx) -> list:
    v = _sensitivity_rows(c)
    if v is None or c.pair is None:
        return []
    v = _rows_of(v, c.pair)
    stat = "chosen" if (v["statistic"].astype(str) == "chosen").any() else "adiabatic"
    v = v[v["statistic"].astype(str) == stat]
    if "source" in v.columns:
        v = v[v["source"].astype(str) == "dirichlet"]
    share = _float(v["share"].iloc[0]) if len(v) else None
    if share is None or share >= c.threshold:
        return []
    text = c.msg("w_sensitivity", share=c.pct(share), thr=c.pct(c.threshold))
    return [c.finding("w_sensitivity", text, ("sensitivity_summary",), "warning")]


def _w_h_q1(c: _Ctx) -> list:
    co = c.t("coevolution")
    if co is None or "strategy" not in co.columns or co["strategy"].dropna().empty:
        return []
    strategy = str(co["strategy"].dropna().iloc[0])
    if strategy not in Q1_ONLY_STRATEGIES:
        return []
    q1, q2 = c.pair if c.pair else ("q1", "q2")
    text = c.msg("w_h_q1", q1=q1, q2=q2, strategy=strategy)
    return [c.finding("w_h_q1", text, ("coevolution",), "warning")]


def _w_inference(c: _Ctx) -> list:
    ident = c.t("haken_identification")
    if ident is None or "inference_note" not in ident.columns or c.pair is None:
        return []
    notes = _rows_of(ident, c.pair)["inference_note"].dropna().astype(str)
    notes = [n for n in notes if n.strip()]
    if not notes:
        return []
    text = c.msg("w_inference", q1=c.pair[0], q2=c.pair[1], note=notes[0])
    return [c.finding("w_inference", text, ("haken_identification",), "warning")]


_FINDERS = (
    _verdict,
    _sensitivity,
    _robustness,
    _stable_point,
    _turning,
    _moran,
    _lisa,
    _spatial_model,
    _spillovers,
    _inequality,
)
_WARNERS = (_w_disagree, _w_residuals, _w_lisa_power, _w_sensitivity, _w_h_q1, _w_inference)


def findings(
    tables: Mapping[str, pd.DataFrame],
    *,
    lang: str = "en",
    region_names: Mapping | None = None,
    alpha: float = 0.05,
    reading: str | None = None,
    min_neighbours: int = 3,
    sensitivity_threshold: float = 0.9,
) -> list[Finding]:
    """The findings of a run, generated from its output tables.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Output tables by name (``haken_identification``, ``haken_potential``,
        ``stages_tests``, ``moran_global``, ``lisa``, ``model_selection``,
        ``spatial_haken_marginal_effects``, ``dagum_gini``, ...); any may be
        absent, and absent columns are tolerated.
    lang : {"en", "zh"}
        Language of the sentences.
    region_names : mapping, optional
        Region id -> display name (LISA hot and cold spots, low-power regions).
    alpha : float, default 0.05
        Significance level of the sentences (turning point, Moran's I,
        residual tests).
    reading : {"system", "local"}, optional
        The spatial reading to compare verdicts in (default: the first
        reading listed in the tables, which is the configured one).
    min_neighbours : int, default 3
        LISA regions with fewer neighbours are named as low power.
    sensitivity_threshold : float, default 0.9
        A verdict that holds in a smaller share of the weight draws is
        warned about.

    Returns
    -------
    list of Finding
        Findings in a fixed order (verdict, sensitivity, robustness, stable
        point, turning point, Moran's I, LISA, preferred spatial model and
        its stable point, spillovers, inequality), each replaced by a
        ``missing`` line when its table is absent, then the warnings.
    """
    c = _Ctx(tables, lang, region_names, alpha, reading, min_neighbours, sensitivity_threshold)
    out: list[Finding] = []
    for build in _FINDERS + _WARNERS:
        try:
            out.extend(build(c))
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            # a table that breaks its documented columns loses its sentence, not the report
            name = build.__name__.lstrip("_")
            out.append(
                Finding(
                    key=name,
                    text=c.msg("broken", what=name, error=f"{type(exc).__name__}: {exc}"),
                    kind="missing",
                    sources=(),
                )
            )
    return out


def _esc(text) -> str:
    import html

    return html.escape("" if text is None else str(text), quote=True)


def findings_html(items: list[Finding], lang: str = "en") -> str:
    """The findings section's HTML: warnings first (``div.findings-warnings``), findings, then missing lines.

    Each item is an ``<li>`` with its kind as class and the source tables in
    ``data-sources``.
    """

    def li(f: Finding) -> str:
        return (
            f"<li class='{f.kind}' data-key='{_esc(f.key)}' data-sources='{_esc(' '.join(f.sources))}'>"
            f"{_esc(f.text)}</li>"
        )

    warn = [f for f in items if f.kind == "warning"]
    found = [f for f in items if f.kind == "finding"]
    miss = [f for f in items if f.kind == "missing"]
    parts = []
    if warn:
        parts.append(
            f"<div class='findings-warnings' role='note'><h3>{_esc(TEXT[lang]['warnings'])}</h3><ul>"
            + "".join(li(f) for f in warn)
            + "</ul></div>"
        )
    if found:
        parts.append("<ul class='findings'>" + "".join(li(f) for f in found) + "</ul>")
    if miss:
        parts.append(
            f"<h3>{_esc(TEXT[lang]['not_available'])}</h3><ul class='findings-missing'>"
            + "".join(li(f) for f in miss)
            + "</ul>"
        )
    return "".join(parts)
