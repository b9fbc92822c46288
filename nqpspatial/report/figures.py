"""Figures of the report (matplotlib, Agg backend).

Each function takes tidy tables (the pipeline's output contract) and returns
a :class:`matplotlib.figure.Figure`, or None when the table does not hold
what the figure needs.  :class:`FigureWriter` saves figures to ``figures/``
in the requested formats and hands back PNG bytes for the HTML report.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from .labels import label

__all__ = [
    "FigureWriter",
    "weights_figure",
    "potential_figure",
    "trajectories_figure",
    "density_figure",
    "dagum_figure",
    "markov_figure",
    "moran_figure",
    "potential_curve",
    "histogram",
    "hist_log_scale",
]

_DPI = 110
#: Resolution of the rasterized parts of SVG and PDF files (large maps' polygons, see
#: ``nqpspatial.report.maps.RASTERIZE_ABOVE``); a figure without rasterized parts is all vector.
_VECTOR_RASTER_DPI = 220
#: At most this many entries in a legend of periods (more get a colour bar) and year tick labels.
MAX_LEGEND = 12
MAX_TICKS = 14


def _year_ticks(ax, x, years, *, axis: str = "x") -> None:
    """Tick labels of periods at positions ``x``: every k-th so that at most MAX_TICKS show."""
    step = max(1, int(np.ceil(len(years) / MAX_TICKS)))
    keep = list(range(0, len(years), step))
    labels = [str(years[i]) for i in keep]
    rot = 45 if len(keep) > 8 else 0
    if axis == "x":
        ax.set_xticks([x[i] for i in keep], labels, fontsize=7.5, rotation=rot)
    else:
        ax.set_yticks([x[i] for i in keep], labels, fontsize=7.5)


def _period_colorbar(fig, ax, cmap, years, lang) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    sm = ScalarMappable(norm=Normalize(min(years), max(years)), cmap=cmap)
    cb = fig.colorbar(sm, ax=ax, fraction=0.05, pad=0.02)
    cb.set_label(label("year", lang), fontsize=8)
    cb.ax.yaxis.get_major_locator().set_params(integer=True)
    cb.ax.tick_params(labelsize=7)


def hist_log_scale(values) -> bool:
    """True when a histogram of ``values`` needs a log axis: positive and heavy-tailed
    (the 99th percentile above 20 times the median), so linear bins would put nearly all in one bar."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 5 or (v <= 0).any():
        return False
    q50, q99 = np.quantile(v, [0.5, 0.99])
    return bool(q99 > 20 * q50)


def histogram(ax, groups: dict, *, bins: int = 40, alpha: float = 0.6) -> bool:
    """Overlaid histograms of several samples (label -> values) on shared bins, log-spaced on a log
    axis when the pooled values are heavy-tailed (:func:`hist_log_scale`).  Returns True when log."""
    vals = {k: np.asarray(v, dtype=float)[np.isfinite(np.asarray(v, dtype=float))] for k, v in groups.items()}
    pooled = np.concatenate([v for v in vals.values() if v.size] or [np.array([])])
    if not pooled.size:
        return False
    log = hist_log_scale(pooled)
    lo, hi = pooled.min(), pooled.max()
    if hi <= lo:
        edges = np.array([lo - 0.5, hi + 0.5]) if not log else np.array([lo / 1.1, hi * 1.1])
    else:
        edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
    for k, v in vals.items():
        ax.hist(v, bins=edges, alpha=alpha, label=str(k))
    if log:
        ax.set_xscale("log")
    return log


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


#: File metadata without dates (SVG and PDF record the time of writing by default).
_FIXED_METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}


class FigureWriter:
    """Save figures to a folder in several formats and keep PNG bytes.

    File names follow the rule of the output folder
    (:func:`nqpspatial.pipeline.slugify`: letters of any script, digits and
    ``_``, lower case), so ``lisa_新质生产力`` and ``lisa_新型城镇化`` stay
    apart; a name already used in this writer gets ``_2``, ``_3``, ... so no
    figure overwrites another.

    Parameters
    ----------
    folder : pathlib.Path or None
        Target folder (created when needed); None writes nothing.
    formats : sequence of str
        Any of ``png``, ``svg``, ``pdf``.
    font : str or None
        CJK font family (kept for compatibility; ``policy`` supersedes it).
    policy : nqpspatial.report.fonts.GlyphPolicy, optional
        Fonts of the figures and the ASCII stand-ins for text they cannot
        draw (applied to every figure before it is saved).
    """

    def __init__(self, folder, formats=("png", "svg"), font: str | None = None, policy=None):
        from .fonts import GlyphPolicy

        self.folder = Path(folder) if folder is not None else None
        self.formats = tuple(formats)
        self.policy = policy if policy is not None else GlyphPolicy(font, "zh" if font else "en")
        self.font = self.policy.cjk_font
        self.written: list[str] = []
        self.names: list[str] = []

    def rc(self) -> dict:
        """matplotlib rc settings for the figures (font list, sizes, SVG text as paths)."""
        return {
            "font.size": 9,
            "axes.titlesize": 10,
            "svg.fonttype": "path",
            "axes.unicode_minus": False,
            "figure.dpi": _DPI,
            "savefig.dpi": _DPI,
            "font.family": list(self.policy.families),
            "svg.hashsalt": "nqpspatial",
        }  # fixed SVG ids: the same figure gives the same bytes

    def file_name(self, name: str) -> str:
        """The file stem ``name`` gets (slugified, made unique within this writer)."""
        from ..pipeline import slugify

        base = slugify(name) if str(name).strip() else "figure"
        stem, k = base, 2
        taken = {n.casefold() for n in self.names}
        while stem.casefold() in taken:
            stem = f"{base}_{k}"
            k += 1
        return stem

    def save(self, fig, name: str) -> bytes:
        """Write ``fig`` as ``<name>.<format>`` and close it (see :meth:`save_named`).

        Returns
        -------
        bytes
            The PNG rendering (for inlining in the HTML report).
        """
        return self.save_named(fig, name)[1]

    def save_named(self, fig, name: str) -> tuple[str, bytes]:
        """Write ``fig`` under a unique slug of ``name`` and close it.

        Returns
        -------
        (str, bytes)
            The file stem used (``figures/<stem>.<format>``) and the PNG bytes.
        """
        plt = _plt()
        stem = self.file_name(name)
        self.names.append(stem)
        buf = io.BytesIO()
        try:
            self.policy.sanitize(fig)
            fig.savefig(buf, format="png", dpi=_DPI)
            png = buf.getvalue()
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                vector_dpi = _VECTOR_RASTER_DPI if any(a.get_rasterized() for a in fig.findobj()) else _DPI
                for fmt in self.formats:
                    path = self.folder / f"{stem}.{fmt}"
                    if fmt == "png":
                        path.write_bytes(png)
                    else:  # no creation date: the same figure gives the same bytes
                        fig.savefig(path, format=fmt, dpi=vector_dpi, metadata=_FIXED_METADATA.get(fmt))
                    self.written.append(path.name)
        finally:
            plt.close(fig)
        return stem, png


def weights_figure(weights: pd.DataFrame, lang: str = "en", labels: dict | None = None, *, policy=None):
    """Horizontal bars of the indicator weights, grouped and coloured by subsystem.

    The legend sits above the bars (never over them).  A panel whose every
    subsystem has a single indicator (all weights 1) gets no figure: a chart
    of bars of length one says nothing.

    Parameters
    ----------
    weights : pandas.DataFrame
        ``indicator_weights``: ``subsystem, indicator, weight`` (and more).
    labels : dict, optional
        Indicator -> display label.
    policy : nqpspatial.report.fonts.GlyphPolicy, optional
        When given, a label the figure fonts cannot draw is replaced by its
        indicator code.

    Returns
    -------
    matplotlib.figure.Figure or None
    """
    need = {"subsystem", "indicator", "weight"}
    if not need <= set(weights.columns) or weights.empty:
        return None
    if weights.groupby("subsystem", sort=False)["indicator"].size().max() < 2:
        return None
    plt = _plt()
    from matplotlib import colormaps

    w = weights.reset_index(drop=True)
    subs = list(pd.unique(w["subsystem"]))
    cmap = colormaps["tab10"]
    colours = {s: cmap(i % 10) for i, s in enumerate(subs)}
    labels = labels or {}

    def txt(text, fallback=None):
        return policy.text(text, fallback) if policy is not None else str(text)

    names = [txt(labels.get(i) or i, i) for i in w["indicator"]]
    longest = max(len(n) for n in names)
    fig, ax = plt.subplots(figsize=(min(11.0, 4.2 + 0.055 * longest), 1.3 + 0.22 * len(w)))
    y = np.arange(len(w))[::-1]
    ax.barh(y, w["weight"].astype(float), color=[colours[s] for s in w["subsystem"]])
    ax.set_yticks(y, names, fontsize=7.5)
    ax.set_xlabel(label("weight", lang))
    ax.set_ylim(-0.7, len(w) - 0.3)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=colours[s], label=txt(s)) for s in subs],
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=min(len(subs), 4),
        fontsize=8,
        frameon=False,
        title=label("subsystems", lang),
        title_fontsize=8,
        alignment="left",
    )
    ax.set_title(label("s_weights", lang), loc="right")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def potential_curve(row: pd.Series, q: np.ndarray) -> np.ndarray | None:
    """V(q) from a ``haken_potential`` row (``linear, quadratic, quartic``), or None."""
    if not {"quadratic", "quartic"} <= set(row.index):
        return None
    lin = float(row["linear"]) if "linear" in row.index and pd.notna(row["linear"]) else 0.0
    A, B = float(row["quadratic"]), float(row["quartic"])
    if not (np.isfinite(A) and np.isfinite(B)):
        return None
    return lin * q + 0.5 * A * q**2 + 0.25 * B * q**4


def potential_figure(
    curves: list[tuple[str, np.ndarray, np.ndarray]],
    stationary: pd.DataFrame,
    points: pd.DataFrame | None,
    *,
    title: str,
    lang: str = "en",
    names: dict | None = None,
):
    """The potential V(q1), its stationary points and the regions placed on it.

    Parameters
    ----------
    curves : list of (label, q, V)
        Curves to draw (one, or one per unit when effects differ).
    stationary : pandas.DataFrame
        ``q1, V, stable`` of the stationary points.
    points : pandas.DataFrame, optional
        ``region, q1, V`` of the regions in one period.
    names : dict, optional
        Region id -> display name (labels are drawn when there are few regions).
    """
    if not curves:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (lab, q, v) in enumerate(curves):
        ax.plot(
            q,
            v,
            color="#225ea8" if len(curves) == 1 else None,
            lw=1.6 if len(curves) == 1 else 0.9,
            label=lab if len(curves) <= 8 else None,
        )
    if points is not None and len(points):
        ax.scatter(
            points["q1"],
            points["V"],
            s=18,
            color="#fd8d3c",
            edgecolor="#7f2704",
            linewidth=0.5,
            zorder=3,
            label=label("regions_last", lang),
        )
        if names is not None and len(points) <= 16:
            for r, x, yv in zip(points["region"], points["q1"], points["V"]):
                ax.annotate(str(names.get(str(r), r)), (x, yv), fontsize=6.5, xytext=(3, 3), textcoords="offset points")
    if stationary is not None and len(stationary):
        st = stationary[stationary["stable"].astype(bool)]
        un = stationary[~stationary["stable"].astype(bool)]
        if len(st):
            ax.scatter(
                st["q1"],
                st["V"],
                s=60,
                marker="o",
                color="#238b45",
                edgecolor="black",
                zorder=4,
                label=label("stable", lang),
            )
        if len(un):
            ax.scatter(
                un["q1"],
                un["V"],
                s=60,
                marker="o",
                facecolor="white",
                edgecolor="black",
                zorder=4,
                label=label("unstable", lang),
            )
    ax.axhline(0, color="#999999", lw=0.5)
    ax.set_xlabel("q1")
    ax.set_ylabel("V(q1)")
    ax.set_title(title)
    ax.legend(fontsize=7.5, loc="best")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def trajectories_figure(
    traj: pd.DataFrame, columns: list[str], *, lang: str = "en", turning=None, titles: dict | None = None
):
    """National (thick) and zone trajectories of the mean of each column per year.

    Parameters
    ----------
    traj : pandas.DataFrame
        ``scope ("national"|"group"), group, year`` and the value columns.
    columns : list of str
        Value columns, one panel each.
    turning : int, optional
        Turning year, drawn as a dashed vertical line.
    """
    cols = [c for c in columns if c in traj.columns]
    if not cols or "year" not in traj.columns:
        return None
    plt = _plt()
    titles = titles or {}
    fig, axes = plt.subplots(1, len(cols), figsize=(3.3 * len(cols) + 0.4, 3.4), squeeze=False)
    scope = traj["scope"] if "scope" in traj.columns else pd.Series("national", index=traj.index)
    nat = traj[scope == "national"]
    grp = traj[scope != "national"]
    for ax, c in zip(axes[0], cols):
        if "group" in grp.columns:
            for g, sub in grp.groupby("group", sort=True):
                ax.plot(sub["year"], sub[c], lw=0.9, alpha=0.85, label=str(g))
        if len(nat):
            ax.plot(nat["year"], nat[c], lw=2.4, color="black", label=label("national", lang))
        if turning is not None:
            ax.axvline(turning, color="#cb181d", ls="--", lw=1, label=label("turning", lang))
        ax.set_title(titles.get(c, c))
        ax.set_xlabel(label("year", lang))
        ax.spines[["top", "right"]].set_visible(False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, labs = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labs, loc="lower center", ncol=min(len(labs), 6), fontsize=7.5, frameon=False)
    nrow = int(np.ceil(len(labs) / 6))
    fig.suptitle(label("trajectories", lang), fontsize=11)
    fig.tight_layout(rect=(0, 0.05 + 0.045 * nrow, 1, 0.95))
    return fig


def density_figure(curves: pd.DataFrame, variable: str, *, lang: str = "en", title: str | None = None):
    """National kernel density curves of one variable, one line per period.

    Parameters
    ----------
    curves : pandas.DataFrame
        ``density_curves``: ``variable, year, level, group, x, density``.
    """
    need = {"variable", "year", "x", "density"}
    if not need <= set(curves.columns):
        return None
    sub = curves[curves["variable"] == variable]
    if "level" in sub.columns:
        sub = sub[sub["level"] == "national"]
    if sub.empty:
        return None
    plt = _plt()
    from matplotlib import colormaps

    years = sorted(sub["year"].unique())
    cmap = colormaps["viridis"]
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    many = len(years) > MAX_LEGEND
    for i, y in enumerate(years):
        s = sub[sub["year"] == y]
        ax.plot(s["x"], s["density"], color=cmap(i / max(len(years) - 1, 1)), lw=0.8 if many else 1.2, label=str(y))
    ax.set_xlabel(variable)
    ax.set_ylabel(label("density", lang))
    ax.set_title(title or f"{label('density', lang)}: {variable}")
    if many:  # a colour bar of the periods instead of a legend of dozens of lines
        _period_colorbar(fig, ax, cmap, years, lang)
    else:
        ax.legend(fontsize=7, ncol=2 if len(years) > 6 else 1)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def dagum_figure(gini: pd.DataFrame, variable: str, *, lang: str = "en", title: str | None = None):
    """Stacked bars of the Dagum contribution shares per year, with the overall Gini.

    Parameters
    ----------
    gini : pandas.DataFrame
        ``dagum_gini``: ``variable, year, G, share_within, share_between,
        share_transvariation``.
    """
    parts = ["share_within", "share_between", "share_transvariation"]
    if not {"variable", "year", *parts} <= set(gini.columns):
        return None
    sub = gini[gini["variable"] == variable].sort_values("year")
    if sub.empty:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(len(sub))
    bottom = np.zeros(len(sub))
    colours = ["#1b9e77", "#d95f02", "#7570b3"]
    for p, c in zip(parts, colours):
        vals = sub[p].astype(float).to_numpy()
        vals = vals * 100 if np.nanmax(np.abs(vals)) <= 1.0 + 1e-9 else vals
        ax.bar(x, vals, bottom=bottom, color=c, label=label(p, lang), width=0.7)
        bottom += np.nan_to_num(vals)
    _year_ticks(ax, x, list(sub["year"]))
    ax.set_ylabel(f"{label('share', lang)} (%)")
    ax.set_ylim(0, 100)
    if "G" in sub.columns:
        ax2 = ax.twinx()
        ax2.plot(x, sub["G"].astype(float), color="black", marker="o", ms=3, lw=1.2, label="G")
        ax2.set_ylabel("G")
        ax2.set_ylim(0, max(float(sub["G"].max()) * 1.3, 1e-6))
        h2, l2 = ax2.get_legend_handles_labels()
    else:
        h2, l2 = [], []
    h1, l1 = ax.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4, frameon=False)
    ax.set_title(title or f"{label('dagum', lang)}: {variable}")
    fig.tight_layout()
    return fig


def markov_figure(
    trans: pd.DataFrame,
    variable: str,
    kind: str = "classic",
    *,
    lang: str = "en",
    title: str | None = None,
    classes: str = "pooled",
):
    """Heatmap of a Markov transition-probability matrix.

    Parameters
    ----------
    trans : pandas.DataFrame
        ``markov_transitions``: ``variable, kind, classes, from, to,
        from_label, to_label, count, probability``.
    classes : str, default "pooled"
        Which classic chain to draw when the table holds both (``pooled``
        or ``relative``); the LISA chain has one.
    """
    need = {"variable", "from", "to", "probability"}
    if not need <= set(trans.columns):
        return None
    sub = trans[trans["variable"] == variable]
    if "kind" in sub.columns:
        sub = sub[sub["kind"] == kind]
    if kind == "classic" and "classes" in sub.columns:
        sub = sub[sub["classes"] == classes]
    if sub.empty:
        return None
    states = sorted(set(sub["from"]) | set(sub["to"]), key=lambda s: (str(type(s)), s))
    lab = {}
    if "from_label" in sub.columns:
        lab.update(dict(zip(sub["from"], sub["from_label"])))
    if "to_label" in sub.columns:
        lab.update(dict(zip(sub["to"], sub["to_label"])))
    M = sub.pivot_table(index="from", columns="to", values="probability", aggfunc="first").reindex(
        index=states, columns=states
    )
    plt = _plt()
    n = len(states)
    fig, ax = plt.subplots(figsize=(1.6 + 0.62 * n, 1.3 + 0.55 * n))
    im = ax.imshow(M.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1)
    names = [str(lab.get(s, s)) for s in states]
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    vals = M.to_numpy(dtype=float)
    for i in range(n):
        for j in range(n):
            if np.isfinite(vals[i, j]):
                ax.text(
                    j,
                    i,
                    f"{vals[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if vals[i, j] > 0.6 else "black",
                )
    ax.set_xlabel(label("to", lang))
    ax.set_ylabel(label("from", lang))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title or f"{label('markov', lang)}: {variable}", fontsize=9)
    fig.tight_layout()
    return fig


def moran_figure(moran: pd.DataFrame, weights: str | None = None, *, lang: str = "en", alpha: float = 0.05):
    """Global Moran's I per year: one panel per weights specification, one line per variable;
    filled markers where significant.

    Parameters
    ----------
    moran : pandas.DataFrame
        ``moran_global``: ``variable, weights, year, I`` and ``p_sim`` or ``p_norm``.
    weights : str, optional
        Draw only this weights specification (default: every one, a panel each).
    """
    if not {"variable", "year", "I"} <= set(moran.columns):
        return None
    sub = moran[moran["weights"] == weights] if weights is not None and "weights" in moran.columns else moran
    if sub.empty:
        return None
    specs = list(pd.unique(sub["weights"])) if "weights" in sub.columns else [None]
    pcol = "p_sim" if "p_sim" in sub.columns else ("p_norm" if "p_norm" in sub.columns else None)
    plt = _plt()
    ncols = min(len(specs), 3)
    nrows = int(np.ceil(len(specs) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 + 3.8 * ncols, 0.9 + 2.8 * nrows), squeeze=False, sharey=True)
    many_years = sub["year"].nunique() > 30
    for ax, spec in zip(axes.ravel(), specs):
        part = sub if spec is None else sub[sub["weights"] == spec]
        for v, s in part.groupby("variable", sort=False):
            s = s.sort_values("year")
            (line,) = ax.plot(s["year"], s["I"].astype(float), lw=1.2, label=str(v))
            if pcol is not None:
                sig = s[pcol].astype(float) < alpha
                size = 8 if many_years else 22
                ax.scatter(s["year"][sig], s["I"][sig], color=line.get_color(), s=size, zorder=3)
                ax.scatter(
                    s["year"][~sig], s["I"][~sig], facecolor="white", edgecolor=line.get_color(), s=size, zorder=3
                )
        ax.axhline(0, color="#999999", lw=0.5)
        ax.set_xlabel(label("year", lang))
        ax.set_title(str(spec) if spec is not None else "", fontsize=9)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes.ravel()[len(specs) :]:
        ax.set_axis_off()
    axes[0][0].set_ylabel("I")
    handles, labs = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labs, loc="lower center", ncol=min(len(labs), 6), fontsize=7.5, frameon=False)
    fig.suptitle(
        f"{label('moran', lang)}; ● {label('significant', lang)}, ○ {label('not_significant', lang)}", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.06 + 0.04 * int(np.ceil(len(labs) / 6)), 1, 0.95))
    return fig
