"""Immutable results objects and their ``summary()`` rendering.

Every analysis in nqpspatial returns a subclass of :class:`Results`: an
object whose attributes are set once, whose tables are tidy
:class:`pandas.DataFrame` objects handed out as copies, and whose
``summary()`` renders as text, HTML (also shown by Jupyter) and LaTeX
(booktabs).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

__all__ = ["Results", "Summary"]


def _latex_escape(text: str) -> str:
    repl = {
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
    return "".join(repl.get(ch, ch) for ch in str(text))


def _fmt(value: Any, digits: int) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:.{digits}g}" if abs(value) >= 1e5 or (0 < abs(value) < 1e-3) else f"{value:.{digits}f}"
    return "" if value is None else str(value)


def table_to_latex(table: pd.DataFrame, caption: str | None = None, digits: int = 4, label: str | None = None) -> str:
    """Render a table as a LaTeX ``booktabs`` tabular.

    Parameters
    ----------
    table : pandas.DataFrame
        The table; its index is not written.
    caption : str, optional
        Caption of the table environment.
    digits : int, default 4
        Decimals for floating-point cells.
    label : str, optional
        ``\\label`` of the table environment.

    Returns
    -------
    str
        A complete ``table`` environment using ``\\toprule``, ``\\midrule``
        and ``\\bottomrule`` (requires ``\\usepackage{booktabs}``).
    """
    cols = list(table.columns)
    align = "".join("r" if pd.api.types.is_numeric_dtype(table[c]) else "l" for c in cols)
    lines = [r"\begin{table}[htbp]", r"\centering"]
    if caption:
        lines.append(r"\caption{" + _latex_escape(caption) + "}")
    if label:
        lines.append(r"\label{" + label + "}")
    lines.append(r"\begin{tabular}{" + align + "}")
    lines.append(r"\toprule")
    lines.append(" & ".join(_latex_escape(c) for c in cols) + r" \\")
    lines.append(r"\midrule")
    for row in table.itertuples(index=False):
        lines.append(" & ".join(_latex_escape(_fmt(v, digits)) for v in row) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Summary:
    """A rendered summary: a title, key facts and tables.

    Parameters
    ----------
    title : str
        Heading of the summary.
    facts : mapping of str to object
        Key-value facts shown above the tables (e.g. number of observations).
    tables : mapping of str to pandas.DataFrame
        Named tables, rendered in order.
    notes : tuple of str
        Free-text notes shown at the end (warnings, conventions).
    """

    title: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    digits: int = 4

    def as_text(self) -> str:
        """Plain-text rendering for terminals and logs."""
        out = [self.title, "=" * max(len(self.title), 20)]
        for k, v in self.facts.items():
            out.append(f"{k:<28}{_fmt(v, self.digits)}")
        for name, tab in self.tables.items():
            out.append("")
            out.append(name)
            out.append("-" * len(name))
            shown = tab.copy()
            for c in shown.columns:
                if pd.api.types.is_float_dtype(shown[c]):
                    shown[c] = shown[c].map(lambda v: _fmt(v, self.digits))
            out.append(shown.to_string(index=False))
        if self.notes:
            out.append("")
            out.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(out)

    def as_html(self) -> str:
        """HTML rendering (escaped), used by Jupyter through ``_repr_html_``."""
        parts = [f"<div class='nqp-summary'><h3>{html.escape(self.title)}</h3>"]
        if self.facts:
            parts.append("<table>")
            for k, v in self.facts.items():
                parts.append(
                    f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                    f"<td>{html.escape(_fmt(v, self.digits))}</td></tr>"
                )
            parts.append("</table>")
        for name, tab in self.tables.items():
            parts.append(f"<h4>{html.escape(name)}</h4>")
            parts.append(tab.to_html(index=False, float_format=lambda v: _fmt(v, self.digits), escape=True, border=0))
        for n in self.notes:
            parts.append(f"<p><em>Note:</em> {html.escape(n)}</p>")
        parts.append("</div>")
        return "".join(parts)

    def as_latex(self) -> str:
        """LaTeX rendering: one booktabs table per table of the summary."""
        chunks = []
        for name, tab in self.tables.items():
            chunks.append(table_to_latex(tab, caption=f"{self.title}: {name}", digits=self.digits))
        return "\n".join(chunks)

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


class Results:
    """Base class of immutable results objects.

    Subclasses set their attributes in ``__init__`` through
    ``self._set(name, value)`` (or set them before calling
    ``self._freeze()``); after that any assignment raises
    :class:`AttributeError`.  DataFrame attributes are returned as copies so
    that callers cannot mutate the results.
    """

    _frozen: bool = False

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is immutable; '{name}' cannot be set")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; '{name}' cannot be deleted")

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if isinstance(value, (pd.DataFrame, pd.Series)) and not name.startswith("_"):
            return value.copy()
        return value

    def summary(self) -> Summary:  # pragma: no cover - abstract
        """Return a :class:`Summary` of the results."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
