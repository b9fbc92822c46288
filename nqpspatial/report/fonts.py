"""Finding a CJK font for Chinese figure labels.

Matplotlib only draws Chinese characters with a font that has them.  We look
for an installed CJK font (Debian's ``fonts-noto-cjk`` provides "Noto Sans
CJK SC/JP/...") through :mod:`matplotlib.font_manager`.  Matplotlib's font
cache is built once, so a font installed later is missing from it; in that
case the system font files are scanned and the font is added in-process.
"""

from __future__ import annotations

__all__ = ["CJK_FAMILIES", "find_cjk_font"]

#: Font families tried in order (first installed wins).
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans CJK KR", "Noto Sans CJK HK",
    "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
    "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Noto Serif CJK SC", "AR PL UMing CN",
)

_FILE_HINTS = ("notosanscjk", "sourcehansans", "wqy", "msyh", "simhei", "pingfang", "notoserifcjk", "uming")

_cache: dict[str, str | None] = {}


def _installed_names() -> set[str]:
    from matplotlib import font_manager

    return {f.name for f in font_manager.fontManager.ttflist}


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
    names = _installed_names()
    found = next((f for f in CJK_FAMILIES if f in names), None)
    if found is None:
        from matplotlib import font_manager

        for path in font_manager.findSystemFonts():
            low = path.replace("-", "").replace("_", "").lower()
            if any(h in low for h in _FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # unreadable font file: try the next one
                    continue
        names = _installed_names()
        found = next((f for f in CJK_FAMILIES if f in names), None)
    _cache["font"] = found
    return found
