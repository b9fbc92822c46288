"""Fonts for the report's figures: every character drawn, or ASCII labels and one warning.

Matplotlib draws a character only with a font that has it; otherwise it draws
a box and warns "Glyph ... missing from font(s)".  Figures can hold Chinese
text in either report language (indicator labels, subsystem, region and zone
names), so the figures always use a font *list*: DejaVu Sans (matplotlib's
default, for Latin text) and a CJK font, matplotlib falling back glyph by
glyph from one to the next (the CJK font goes first for ``language = "zh"``).

A CJK font is looked for in this order:

1. the font of the optional package ``noto-cjk-sans-otc`` (Noto Sans CJK,
   SIL Open Font License 1.1), installed by ``pip install "nqpspatial[cjk]"``;
2. an installed system font (Debian's ``fonts-noto-cjk`` gives "Noto Sans
   CJK SC/JP/..."), through :mod:`matplotlib.font_manager`; matplotlib's
   font cache is built once, so a font installed later is missing from it and
   the system font files are scanned and added in-process.

Without any, :class:`GlyphPolicy` replaces every text that DejaVu Sans
cannot draw by an ASCII stand-in (the indicator code for an indicator label,
``S1``, ``S2``, ... for subsystem names, the rest with the characters left
out) and the report issues one :class:`FontWarning` naming the fix.
"""

from __future__ import annotations

import functools
import re

from ..errors import NqpWarning

__all__ = ["CJK_FAMILIES", "FONT_PACKAGE", "FontWarning", "GlyphPolicy", "find_cjk_font", "can_draw"]

#: The PyPI package of the ``nqpspatial[cjk]`` extra (Noto Sans CJK, SIL Open Font License 1.1).
FONT_PACKAGE = "noto-cjk-sans-otc"

#: Font families tried in order (first installed wins).
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Noto Sans CJK HK",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Noto Serif CJK SC",
    "AR PL UMing CN",
)

_FILE_HINTS = ("notosanscjk", "sourcehansans", "wqy", "msyh", "simhei", "pingfang", "notoserifcjk", "uming")

#: The Latin font of every figure (matplotlib's bundled default).
LATIN = "DejaVu Sans"

FIX = (
    'Fix: pip install "nqpspatial[cjk]" (installs the SIL-OFL font package '
    + FONT_PACKAGE
    + "), or install a system CJK font (Debian/Ubuntu: apt-get install fonts-noto-cjk)."
)

_cache: dict[str, str | None] = {}


class FontWarning(NqpWarning):
    """Figures hold text that no installed font can draw; ASCII stand-ins were used."""


def _installed_names() -> set[str]:
    from matplotlib import font_manager

    return {f.name for f in font_manager.fontManager.ttflist}


def _package_fonts() -> list[str]:
    """Font files of the ``nqpspatial[cjk]`` package, when it is installed."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return []
    return [str(noto_cjk_sans_otc.FONT_PATH)]


def _add(paths) -> None:
    from matplotlib import font_manager

    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in paths:
        if path in known:
            continue
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):  # unreadable font file: try the next one
            continue


def find_cjk_font() -> str | None:
    """Name of an installed font family that can draw Chinese, or None.

    Returns
    -------
    str or None
        A family name from :data:`CJK_FAMILIES` known to matplotlib (added to
        its font manager when only the font file was found), or None when no
        CJK font is installed.
    """
    if "font" in _cache:
        return _cache["font"]
    _add(_package_fonts())
    names = _installed_names()
    found = next((f for f in CJK_FAMILIES if f in names), None)
    if found is None:
        from matplotlib import font_manager

        _add(
            [
                p
                for p in font_manager.findSystemFonts()
                if any(h in p.replace("-", "").replace("_", "").lower() for h in _FILE_HINTS)
            ]
        )
        names = _installed_names()
        found = next((f for f in CJK_FAMILIES if f in names), None)
    _cache["font"] = found
    return found


@functools.lru_cache(maxsize=None)
def _charmap(family: str) -> frozenset:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=True)
    return frozenset(FT2Font(path).get_charmap())


def can_draw(text, families=(LATIN,)) -> bool:
    """True when every character of ``text`` is in one of the fonts (spaces and controls always are)."""
    s = str(text)
    if s.isascii():
        return True
    maps = [_charmap(f) for f in families]
    return all(ord(c) < 33 or any(ord(c) in m for m in maps) for c in s)


class GlyphPolicy:
    """Which fonts the figures use and what stands in for text they cannot draw.

    Parameters
    ----------
    cjk_font : str or None
        A CJK font family (see :func:`find_cjk_font`), or None.
    lang : {"en", "zh"}
        Figure language: the CJK font goes first in ``zh``.
    aliases : dict, optional
        Text -> ASCII stand-in used when the text cannot be drawn (e.g.
        subsystem names -> ``S1``, ``S2``).

    Attributes
    ----------
    replaced : dict
        Every text replaced so far -> its stand-in (for the warning).
    """

    def __init__(self, cjk_font: str | None, lang: str = "en", aliases: dict | None = None):
        self.cjk_font = cjk_font
        self.lang = lang
        self.aliases = {str(k): str(v) for k, v in (aliases or {}).items()}
        self.replaced: dict[str, str] = {}

    @classmethod
    def detect(cls, lang: str = "en", aliases: dict | None = None) -> "GlyphPolicy":
        """The policy with the CJK font found on this machine (if any)."""
        return cls(find_cjk_font(), lang, aliases)

    @property
    def families(self) -> list[str]:
        """matplotlib ``font.family`` list (glyph-by-glyph fallback from one to the next)."""
        if self.cjk_font is None:
            return [LATIN]
        return [self.cjk_font, LATIN] if self.lang == "zh" else [LATIN, self.cjk_font]

    def drawable(self, text) -> bool:
        """True when the figure fonts draw every character of ``text``."""
        return can_draw(text, tuple(self.families))

    def text(self, text, fallback=None) -> str:
        """``text`` when it can be drawn, else ``fallback`` (when given and drawable) or an ASCII stand-in."""
        s = "" if text is None else str(text)
        if self.drawable(s):
            return s
        if fallback is not None and self.drawable(fallback):
            out = str(fallback)
        else:
            out = self._strip(s)
        self.replaced[s] = out
        return out

    def _strip(self, s: str) -> str:
        for key in sorted(self.aliases, key=len, reverse=True):
            if key and key in s:
                s = s.replace(key, self.aliases[key])
        kept = "".join(c if self.drawable(c) else "\0" for c in s)
        kept = re.sub(r"[（(]\s*\0*[\s\0]*[)）]", "", kept)  # brackets left empty
        kept = re.sub(r"\0+", " ", kept)
        kept = re.sub(r"\s+", " ", kept).strip(" :-,;")
        return kept or "?"

    def sanitize(self, fig) -> None:
        """Replace, in place, every text of ``fig`` that the fonts cannot draw (a last safety net).

        Covers titles, labels, legends, annotations and tick labels given as
        fixed strings (``set_xticks(ticks, labels)``).
        """
        from matplotlib.text import Text
        from matplotlib.ticker import FixedFormatter

        for t in fig.findobj(Text):
            s = t.get_text()
            if s and not self.drawable(s):
                t.set_text(self.text(s))
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                fmt = axis.get_major_formatter()
                if isinstance(fmt, FixedFormatter) and not all(self.drawable(s) for s in fmt.seq):
                    fmt.seq = [self.text(s) for s in fmt.seq]

    def warning(self) -> str | None:
        """The one warning text when something was replaced (or the CJK font is missing for ``zh``)."""
        if self.cjk_font is not None:
            return None
        if not self.replaced and self.lang != "zh":
            return None
        parts = ["no CJK font is installed, so the figures cannot draw Chinese text"]
        if self.lang == "zh":
            parts[0] += ' ([report] language = "zh"): figure labels are in English'
        if self.replaced:
            alias = [f"{v} = {k}" for k, v in self.aliases.items() if k in " ".join(self.replaced)]
            parts.append(
                f"{len(self.replaced)} label(s) were replaced by ASCII stand-ins (indicator codes"
                + (f"; {', '.join(alias)}" if alias else "")
                + ")"
            )
        return "; ".join(parts) + ". " + FIX
