"""LaTeX (booktabs) exports of the Haken and spatial Haken tables.

Each table present in the run is written to ``latex/<table>.tex`` through
:func:`nqpspatial.results.table_to_latex`; ``latex/tables.tex`` inputs them
all.  The files need ``\\usepackage{booktabs}`` in the preamble.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..results import table_to_latex

__all__ = ["LATEX_TABLES", "latex_tables", "write_latex"]

#: Exported tables: name -> (caption, preferred columns; None keeps all).
LATEX_TABLES: dict[str, tuple[str, list[str] | None]] = {
    "haken_identification": ("Haken model: order-parameter identification",
                             ["q1", "q2", "gamma1", "a", "gamma2", "b", "p_gamma1", "p_a", "p_gamma2", "p_b",
                              "r2_q1", "r2_q2", "n_obs", "ratio", "adiabatic", "chosen"]),
    "haken_estimates": ("Haken model: parameter estimates",
                        ["q1", "q2", "term", "estimate", "std_err", "t", "p", "ci_low", "ci_high"]),
    "haken_potential": ("Haken model: potential and stable point",
                        ["region", "group", "q1", "q2", "case", "q1_star", "V_star", "map_stable"]),
    "haken_marginal_effects": ("Haken model: average marginal effects",
                               ["region", "group", "q1", "q2", "equation", "wrt", "estimate", "ci_low", "ci_high"]),
    "spatial_haken_identification": ("Spatial Haken models: order-parameter identification",
                                     ["model", "weights", "q1", "q2", "reading", "gamma1", "a", "gamma2", "b",
                                      "p_gamma1", "p_a", "p_gamma2", "p_b", "ratio", "adiabatic", "chosen"]),
    "spatial_haken_potential": ("Spatial Haken models: stable point by reading",
                                ["model", "weights", "q1", "q2", "reading", "case", "q1_star", "q1_star_low",
                                 "q1_star_high", "stable_share", "V_star", "map_stable"]),
    "spatial_haken_estimates": ("Spatial Haken models: estimates",
                                ["model", "weights", "q1", "q2", "equation", "term", "estimate", "std_err",
                                 "z", "p"]),
    "spatial_haken_effects": ("Spatial Haken models: direct, indirect and total effects",
                              ["model", "weights", "q1", "q2", "equation", "term", "effect", "estimate",
                               "ci_low", "ci_high", "p"]),
    "spatial_haken_marginal_effects": ("Spatial Haken models: average marginal effects",
                                       ["model", "weights", "q1", "q2", "equation", "wrt", "effect", "estimate",
                                        "ci_low", "ci_high"]),
    "spatial_haken_diagnostics": ("Spatial Haken models: diagnostics", None),
}


def latex_tables(tables: dict) -> dict[str, str]:
    """LaTeX source of each exportable table present in ``tables``.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The run's tables by name.

    Returns
    -------
    dict of str to str
        Table name -> a booktabs ``table`` environment.
    """
    out = {}
    for name, (caption, cols) in LATEX_TABLES.items():
        tab = tables.get(name)
        if not isinstance(tab, pd.DataFrame) or tab.empty:
            continue
        if cols is not None:
            keep = [c for c in cols if c in tab.columns]
            tab = tab[keep] if keep else tab
        out[name] = table_to_latex(tab.reset_index(drop=True), caption=caption,
                                   label=f"tab:{name.replace('_', '-')}")
    return out


def write_latex(tables: dict, folder) -> list[str]:
    """Write ``<table>.tex`` files and ``tables.tex`` (inputs them all) into ``folder``.

    Returns
    -------
    list of str
        File names written (empty when no table is exportable).
    """
    sources = latex_tables(tables)
    if not sources:
        return []
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sources.items():
        (folder / f"{name}.tex").write_text("% requires \\usepackage{booktabs}\n" + text, encoding="utf-8")
        written.append(f"{name}.tex")
    index = ["% \\input this file; requires \\usepackage{booktabs}"]
    index += [f"\\input{{{n[:-4]}}}" for n in written]
    (folder / "tables.tex").write_text("\n".join(index) + "\n", encoding="utf-8")
    return written + ["tables.tex"]
