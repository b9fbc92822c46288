"""Building blocks of the self-contained HTML report.

Everything the page needs is inline: the style sheet, the script of the
interactive map, the figures (base64 PNG) and the region boundaries (SVG
paths).  The page makes no network request.  All user-supplied text (region
names, labels, table cells, the study name) goes through :func:`html.escape`;
the map's data is embedded as JSON in a ``<script type="application/json">``
element with ``<``, ``>`` and ``&`` written as ``\\u`` escapes, and the
script writes names into the page with ``textContent`` only.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field

import pandas as pd

from .labels import label

__all__ = [
    "Section",
    "esc",
    "table_html",
    "figure_html",
    "facts_html",
    "text_html",
    "map_html",
    "CANVAS_ABOVE",
    "json_for_script",
    "render_page",
    "CSS",
    "MAP_JS",
]


def esc(text) -> str:
    """HTML-escape any value's text (quotes included)."""
    return html.escape("" if text is None else str(text), quote=True)


@dataclass
class Section:
    """One section of the report.

    Attributes
    ----------
    key : str
        Anchor id (letters and ``_``).
    title : str
        Heading (escaped when rendered).
    blocks : list of str
        HTML fragments, already escaped.
    """

    key: str
    title: str
    blocks: list[str] = field(default_factory=list)


def table_html(
    table: pd.DataFrame,
    *,
    name: str | None = None,
    max_rows: int = 30,
    digits: int = 4,
    lang: str = "en",
    caption: str | None = None,
    highlight=None,
) -> str:
    """An escaped HTML table as readers see it (at most ``max_rows`` rows; when cut, a note giving the
    number of rows and linking the full CSV, ``tables/<name>.csv``).

    The table goes through :func:`nqpspatial.report.tables.display_table`:
    identifying columns first, human headers (the output column names as
    tooltips), one p-value format.

    Parameters
    ----------
    table : pandas.DataFrame
        The table (index not shown).
    name : str, optional
        Output table name, mentioned in the note when rows are cut.
    max_rows : int
        Rows shown.
    digits : int
        Decimals (significant digits for very small or large numbers).
    highlight : array-like of bool, optional
        Rows to emphasise.
    """
    from .tables import display_table, to_html

    model = display_table(table, name, lang, max_rows=max_rows, digits=digits, title=caption or "")
    note = label("rows_shown", lang, shown=max_rows, total=len(table), name=name or "...")
    link = f"tables/{name}.csv" if name else None
    return to_html(model, highlight=highlight, rows_note=note, caption=bool(caption), rows_link=link)


def figure_html(png: bytes, caption: str, *, name: str | None = None) -> str:
    """A figure as an inline base64 PNG with an escaped caption."""
    data = base64.b64encode(png).decode("ascii")
    file_note = f" <span class='file'>(figures/{esc(name)}.*)</span>" if name else ""
    return (
        f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{esc(caption)}{file_note}</figcaption></figure>"
    )


def facts_html(facts: dict) -> str:
    """A two-column table of key facts (escaped)."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts.items())
    return f"<table class='facts'>{rows}</table>"


def text_html(text: str, cls: str | None = None) -> str:
    """A paragraph of escaped text."""
    c = f" class='{esc(cls)}'" if cls else ""
    return f"<p{c}>{esc(text)}</p>"


def json_for_script(obj) -> str:
    """JSON safe to place inside a ``<script type="application/json">`` element."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _svg_extras(layers: dict | None, lang: str) -> tuple[str, str]:
    """(SVG drawn under the regions, SVG drawn over them): the outline, the maritime line, the inset."""
    if not layers or not layers.get("base"):
        return "", ""
    under = (
        "<g id='nqp-base'>"
        + "".join(
            f"<path class='nqp-base' id='nqp-b-{j}' data-code='{esc(code)}' fill='#d9d9d9' stroke='#9a9a9a' "
            f"vector-effect='non-scaling-stroke' d='{d}'><title>{esc(name)}</title></path>"
            for j, (code, name, d) in enumerate(layers["base"])
        )
        + "</g>"
    )
    over = (
        f"<path class='nqp-line' id='nqp-line' fill='none' stroke='#3b6ea8' stroke-width='1.4' "
        f"vector-effect='non-scaling-stroke' d='{layers['line']}'></path>"
        if layers.get("line")
        else ""
    )
    ins = layers.get("inset")
    if ins:
        box = f"x='{ins['x']}' y='{ins['y']}' width='{ins['w']}' height='{ins['h']}'"
        uses = "".join(f"<use href='#nqp-b-{j}'></use>" for j in ins["base"])
        uses += "".join(f"<use href='#nqp-r-{i}' data-i='{i}'></use>" for i in ins["regions"])
        if layers.get("line"):
            uses += "<use href='#nqp-line'></use>"
        over += (
            f"<g id='nqp-inset' role='group' aria-label='{esc(label('scs_inset', lang))}'>"
            f"<clipPath id='nqp-inset-clip'><rect {box}></rect></clipPath>"
            f"<rect class='nqp-inset-bg' {box}></rect>"
            f"<g clip-path='url(#nqp-inset-clip)'><g transform='{ins['transform']}'>{uses}</g></g>"
            f"<rect class='nqp-inset-frame' {box}></rect></g>"
        )
    return under, over


#: Layers of more regions get the canvas map (:func:`map_html` with ``data["geometry"]``) instead of SVG paths.
CANVAS_ABOVE = 5000


def map_html(
    data: dict, paths: list[str], width: float, height: float, *, lang: str = "en", layers: dict | None = None
) -> str:
    """The interactive map: inline SVG (or a canvas), a period slider, a variable selector and a tooltip.

    With ``data["geometry"]`` (:func:`nqpspatial.report.maps.canvas_layers`; the report uses it above
    :data:`CANVAS_ABOVE` regions) the map is drawn on a ``<canvas id="nqp-canvas">`` from packed
    arrays, one ``Path2D`` per region, the region under the pointer found through a grid of bounding
    boxes; variables then carry ``packed`` values (one base64 array per period) instead of ``values``.

    Parameters
    ----------
    data : dict
        ``regions`` (list of ``{"id", "name"}``), ``periods`` (list),
        ``variables`` (dict key -> ``{"label", "kind", "values"[period][region],
        ...}``; ``kind`` "numeric" or "categorical" with ``categories`` and
        ``colours``), ``initial`` (variable key).
    paths : list of str
        SVG path data per region (same order as ``data["regions"]``).
    layers : dict, optional
        The rest of :func:`nqpspatial.report.maps.svg_layers` (China: the
        national outline under the regions, the maritime line and the South
        China Sea inset ``#nqp-inset`` over them).
    """
    periods = data["periods"]
    options = "".join(
        f"<option value='{esc(k)}'{' selected' if k == data.get('initial') else ''}>{esc(v['label'])}</option>"
        for k, v in data["variables"].items()
    )
    if data.get("geometry") is not None:
        drawing = (
            f"<canvas id='nqp-canvas' role='img' aria-label='map' data-regions='{len(data['regions'])}' "
            f"width='{int(width)}' height='{int(height)}'></canvas>"
        )
    else:
        under, over = _svg_extras(layers, lang)
        svg_paths = (
            under + "".join(f"<path data-i='{i}' id='nqp-r-{i}' d='{d}'></path>" for i, d in enumerate(paths)) + over
        )
        drawing = (
            f"<svg id='nqp-map' viewBox='0 0 {width} {height}' role='img' aria-label='map' "
            f"preserveAspectRatio='xMidYMid meet'>{svg_paths}</svg>"
        )
    last = len(periods) - 1
    return (
        "<div class='nqp-map-wrap'>"
        "<div class='controls'>"
        f"<label>{esc(label('variable', lang))} <select id='nqp-variable'>{options}</select></label>"
        f"<label>{esc(label('period', lang))} <input type='range' id='nqp-period' min='0' max='{last}' "
        f"step='1' value='{last}'></label> <output id='nqp-period-label'>{esc(periods[last])}</output>"
        "</div>"
        f"{drawing}"
        "<div id='nqp-legend' class='legend'></div>"
        f"<p class='note'>{esc(label('hover', lang))}</p>"
        "<div id='nqp-tip' class='tip' role='tooltip'></div>"
        f"<script type='application/json' id='nqp-map-data'>{json_for_script(data)}</script>"
        f"<script>{MAP_JS}</script>"
        "</div>"
    )


def render_page(
    *, title: str, sections: list[Section], missing: list[str], banner: str | None, lang: str = "en", footer: str = ""
) -> str:
    """The complete HTML document (a string)."""
    toc = "".join(f"<li><a href='#{esc(s.key)}'>{esc(s.title)}</a></li>" for s in sections)
    body = []
    for s in sections:
        body.append(f"<section id='{esc(s.key)}'><h2>{esc(s.title)}</h2>{''.join(s.blocks)}</section>")
    miss = ""
    if missing:
        miss = f"<p class='note'>{esc(label('no_data', lang))}: {esc(', '.join(missing))}</p>"
    ban = f"<div class='banner' role='alert'>{esc(banner)}</div>" if banner else ""
    return (
        "<!DOCTYPE html>\n"
        f"<html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"{ban}<header><h1>{esc(title)}</h1></header>"
        f"<nav><h2>{esc(label('contents', lang))}</h2><ol>{toc}</ol>{miss}</nav>"
        f"<main>{''.join(body)}</main>"
        f"<footer>{esc(footer)}</footer></body></html>\n"
    )


CSS = """
*{box-sizing:border-box}
body{margin:0 auto;max-width:1120px;padding:0 18px 40px;color:#222;background:#fff;
font:15px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC","Microsoft YaHei",sans-serif}
h1{font-size:1.7em;margin:.6em 0 .2em}h2{font-size:1.3em;border-bottom:2px solid #225ea8;padding-bottom:.15em;
margin-top:1.8em}h3{font-size:1.05em;margin:1.2em 0 .4em}
nav ol{columns:2;padding-left:1.4em}nav a{color:#225ea8}
.banner{background:#fff3cd;border:2px solid #e0a800;color:#6b4e00;padding:.7em 1em;margin:1em 0 0;
font-weight:600;border-radius:4px}
.tbl{overflow-x:auto;margin:.4em 0 .8em}
table{border-collapse:collapse;font-size:.85em}
th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{background:#f0f4f8;border-bottom:2px solid #9fb3c8}
tr.hl td{background:#e5f5e0;font-weight:600}
caption{text-align:left;font-weight:600;padding:.3em 0}
tr.panel td{font-style:italic;border-bottom:none;padding-top:.6em}tr.rule td{border-top:1.5px solid #9fb3c8}
td.c{text-align:center;font-variant-numeric:tabular-nums}table.reg td{border-bottom:none;padding:.05em .8em}
table.reg{border-top:2px solid #333;border-bottom:2px solid #333}table.reg thead th{background:none}
table.reg thead tr:first-child th{border-bottom:none}
.findings-warnings{background:#fff4e5;border-left:5px solid #c25e00;padding:.3em 1em;margin:.6em 0;border-radius:3px}
.findings-warnings h3{margin:.4em 0;color:#8a3c00}.findings-warnings li{font-weight:600;color:#5a2a00}
ul.findings li{margin:.35em 0}ul.findings-missing li{color:#666;font-size:.9em}
table.facts th{background:none;font-weight:600}
table.facts td{white-space:normal}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.file{color:#888}
.note{font-size:.85em;color:#666}
.nqp-map-wrap{position:relative}
.controls{display:flex;gap:1.2em;align-items:center;flex-wrap:wrap;margin:.5em 0}
#nqp-period{width:260px;vertical-align:middle}
#nqp-map{width:100%;max-height:560px;display:block;background:#fafcff;border:1px solid #e3e8ee}
#nqp-canvas{display:block;background:#fafcff;border:1px solid #e3e8ee;max-width:100%}
#nqp-map path{stroke:#555;stroke-width:.5;fill:#d9d9d9;fill-rule:evenodd;vector-effect:non-scaling-stroke}
#nqp-map path:hover{stroke:#000;stroke-width:1.6}
#nqp-map path.nqp-base{fill:#d9d9d9;stroke:#9a9a9a}
#nqp-map path.nqp-line{fill:none;stroke:#3b6ea8;stroke-width:1.4}
#nqp-map .nqp-inset-bg{fill:#fff;stroke:none}
#nqp-map .nqp-inset-frame{fill:none;stroke:#333;stroke-width:1;vector-effect:non-scaling-stroke}
.legend{display:flex;flex-wrap:wrap;gap:.2em .8em;font-size:.8em;margin:.4em 0}
.legend span.sw{display:inline-block;width:14px;height:12px;border:1px solid #777;margin-right:4px;
vertical-align:middle}
.legend .bar{display:inline-block;width:180px;height:12px;border:1px solid #777;vertical-align:middle;
margin:0 6px}
.tip{position:fixed;display:none;pointer-events:none;background:rgba(255,255,255,.97);border:1px solid #888;
padding:.4em .6em;font-size:.8em;box-shadow:0 2px 6px rgba(0,0,0,.2);z-index:10;max-width:320px}
.tip div{white-space:nowrap}
footer{margin-top:3em;font-size:.8em;color:#888}
"""

MAP_JS = r"""
(function () {
  "use strict";
  var src = document.getElementById("nqp-map-data");
  if (!src) { return; }
  var data = JSON.parse(src.textContent);
  var svg = document.getElementById("nqp-map");
  var canvas = document.getElementById("nqp-canvas");
  var paths = svg ? Array.prototype.slice.call(svg.querySelectorAll("path[data-i]")) : [];
  var slider = document.getElementById("nqp-period");
  var out = document.getElementById("nqp-period-label");
  var select = document.getElementById("nqp-variable");
  var legend = document.getElementById("nqp-legend");
  var tip = document.getElementById("nqp-tip");
  var MISSING = "#d9d9d9";
  var STOPS = [[255, 255, 204], [199, 233, 180], [127, 205, 187], [65, 182, 196],
               [29, 145, 192], [34, 94, 168], [12, 44, 132]];
  function ramp(t) {
    t = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
    var i = Math.min(Math.floor(t), STOPS.length - 2), f = t - i, a = STOPS[i], b = STOPS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + f * (b[k] - a[k])); }).join(",") + ")";
  }
  function bytes(b64) {
    var s = atob(b64), u = new Uint8Array(s.length);
    for (var k = 0; k < s.length; k++) { u[k] = s.charCodeAt(k); }
    return u.buffer;
  }
  // a period's values: the JSON list, or the packed array (uint16 steps of the range, 65535 missing;
  // uint8 category codes, 255 missing) decoded once
  function row(v, p) {
    if (!v.packed) { return v.values[p] || []; }
    v._rows = v._rows || [];
    if (!v._rows[p]) {
      var r = [], k;
      if (v.kind === "categorical") {
        var c = new Uint8Array(bytes(v.packed[p]));
        for (k = 0; k < c.length; k++) { r.push(c[k] === 255 ? null : c[k]); }
      } else {
        var q = new Uint16Array(bytes(v.packed[p])), step = (v.hi - v.lo) / 65534;
        for (k = 0; k < q.length; k++) { r.push(q[k] === 65535 ? null : v.lo + q[k] * step); }
      }
      v._rows[p] = r;
    }
    return v._rows[p];
  }
  function range(v) {
    if (v._range) { return v._range; }
    if (v.packed) { v._range = [v.lo, v.hi]; return v._range; }
    var lo = Infinity, hi = -Infinity;
    v.values.forEach(function (row) { row.forEach(function (x) {
      if (x !== null && isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); } }); });
    v._range = [lo, hi];
    return v._range;
  }
  function colour(v, x) {
    if (x === null || x === undefined) { return MISSING; }
    if (v.kind === "categorical") { return v.colours[x] || MISSING; }
    var r = range(v);
    return ramp(r[1] > r[0] ? (x - r[0]) / (r[1] - r[0]) : 0.5);
  }
  function fmt(v, x) {
    if (x === null || x === undefined) { return "\u2013"; }
    if (v.kind === "categorical") { return String(v.categories[x]); }
    var a = Math.abs(x);
    return (a !== 0 && (a >= 1e5 || a < 1e-3)) ? x.toExponential(3) : x.toFixed(a >= 100 ? 1 : 3);
  }
  function swatch(text, fill) {
    var item = document.createElement("span");
    var sw = document.createElement("span");
    sw.className = "sw"; sw.style.background = fill;
    item.appendChild(sw); item.appendChild(document.createTextNode(text));
    legend.appendChild(item);
  }
  function drawLegend(v) {
    legend.textContent = "";
    if (v.kind === "categorical") {
      var seen = {};
      if (v.present) { v.present.forEach(function (k) { seen[k] = true; }); } else {
        v.values.forEach(function (row) { row.forEach(function (x) { if (x !== null) { seen[x] = true; } }); });
      }
      v.categories.forEach(function (c, k) { if (seen[k]) { swatch(String(c), v.colours[k]); } });
    } else {
      var r = range(v);
      var lo = document.createElement("span"); lo.textContent = fmt(v, r[0]);
      var bar = document.createElement("span"); bar.className = "bar";
      bar.style.background = "linear-gradient(to right," + [0, .17, .33, .5, .67, .83, 1].map(ramp).join(",") + ")";
      var hi = document.createElement("span"); hi.textContent = fmt(v, r[1]);
      var item = document.createElement("span");
      item.appendChild(lo); item.appendChild(bar); item.appendChild(hi);
      legend.appendChild(item);
      if (v.unit) { var u = document.createElement("span"); u.textContent = v.unit; legend.appendChild(u); }
    }
  }
  var map = canvas ? canvasMap() : null;
  function draw() {
    var v = data.variables[select.value];
    var p = parseInt(slider.value, 10);
    out.textContent = String(data.periods[p]);
    var vals = row(v, p);
    if (map) {
      map.draw(function (i) { return colour(v, vals[i]); });
    } else {
      paths.forEach(function (el) { el.style.fill = colour(v, vals[parseInt(el.getAttribute("data-i"), 10)]); });
    }
    drawLegend(v);
  }
  function line(text, bold) {
    var d = document.createElement(bold ? "strong" : "div");
    d.textContent = text;
    tip.appendChild(d);
  }
  function showRegion(i, evt) {
    var p = parseInt(slider.value, 10);
    tip.textContent = "";
    line(data.regions[i].name, true);
    line(data.labels.period + ": " + data.periods[p]);
    Object.keys(data.variables).forEach(function (k) {
      var v = data.variables[k];
      line(v.label + ": " + fmt(v, row(v, p)[i]));
    });
    tip.style.display = "block";
    var x = evt.clientX + 14, y = evt.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth) { x = evt.clientX - w - 10; }
    if (y + h > window.innerHeight) { y = evt.clientY - h - 10; }
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }
  function show(evt) { showRegion(parseInt(evt.currentTarget.getAttribute("data-i"), 10), evt); }
  function hide() { tip.style.display = "none"; }

  // ---- the canvas renderer of large layers: one Path2D per region, a grid of bounding boxes to find
  // the region under the pointer, the South China Sea inset drawn again through its transform
  function canvasMap() {
    var G = data.geometry, W = G.width, H = G.height, ctx = canvas.getContext("2d");
    function unpack(P) {
      if (!P) { return null; }
      var c = new Uint16Array(bytes(P.coords)), rings = new Uint32Array(bytes(P.rings));
      var parts = new Uint32Array(bytes(P.parts)), s = P.scale, out = [], boxes = [];
      for (var g = 0; g + 1 < parts.length; g++) {
        var path = new Path2D(), x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        for (var r = parts[g]; r < parts[g + 1]; r++) {
          for (var k = rings[r]; k < rings[r + 1]; k++) {
            var x = c[2 * k] / s, y = c[2 * k + 1] / s;
            if (k === rings[r]) { path.moveTo(x, y); } else { path.lineTo(x, y); }
            if (x < x0) { x0 = x; } if (x > x1) { x1 = x; } if (y < y0) { y0 = y; } if (y > y1) { y1 = y; }
          }
          if (P.closed !== false) { path.closePath(); }
        }
        out.push(path); boxes.push([x0, y0, x1, y1]);
      }
      return {paths: out, boxes: boxes};
    }
    var R = unpack(G.regions), B = unpack(G.base), L = unpack(G.line), I = G.inset;
    var n = R.paths.length, stroke = n <= 20000, k = 1, dpr = window.devicePixelRatio || 1, colours = null;
    var edges = null;
    if (stroke) { edges = new Path2D(); R.paths.forEach(function (p) { edges.addPath(p); }); }
    var NG = 96, grid = [], gi;
    for (gi = 0; gi < NG * NG; gi++) { grid.push([]); }
    R.boxes.forEach(function (b, i) {
      if (!(b[2] >= b[0])) { return; }
      var cx0 = Math.max(0, Math.floor(b[0] / W * NG)), cx1 = Math.min(NG - 1, Math.floor(b[2] / W * NG));
      var cy0 = Math.max(0, Math.floor(b[1] / H * NG)), cy1 = Math.min(NG - 1, Math.floor(b[3] / H * NG));
      for (var gy = cy0; gy <= cy1; gy++) { for (var gx = cx0; gx <= cx1; gx++) { grid[gy * NG + gx].push(i); } }
    });
    function size() {
      var wrap = canvas.parentNode.clientWidth || 800;
      var cssW = Math.min(wrap, 560 * W / H);
      k = cssW / W;
      canvas.style.width = cssW + "px"; canvas.style.height = (cssW * H / W) + "px";
      canvas.width = Math.round(cssW * dpr); canvas.height = Math.round(cssW * H / W * dpr);
    }
    function layer(which) {  // regions (all, or the inset's), outline and line in the current transform
      var j, list = which ? which.regions : null, lw = 0.5 / k / (which ? I.zoom : 1);
      if (B) {
        ctx.fillStyle = MISSING; ctx.strokeStyle = "#9a9a9a"; ctx.lineWidth = lw;
        (which ? which.base : B.paths.map(function (_, q) { return q; })).forEach(function (q) {
          ctx.fill(B.paths[q], "evenodd"); ctx.stroke(B.paths[q]); });
      }
      if (list) {
        for (j = 0; j < list.length; j++) { ctx.fillStyle = colours[list[j]]; ctx.fill(R.paths[list[j]], "evenodd"); }
      } else {
        for (j = 0; j < n; j++) { ctx.fillStyle = colours[j]; ctx.fill(R.paths[j], "evenodd"); }
      }
      if (stroke) { ctx.strokeStyle = "#555"; ctx.lineWidth = lw; ctx.stroke(edges); }
      if (L) { ctx.strokeStyle = "#3b6ea8"; ctx.lineWidth = 1.4 / k / (which ? I.zoom : 1);
        L.paths.forEach(function (p) { ctx.stroke(p); }); }
    }
    function insetTransform() {
      ctx.setTransform(k * dpr * I.zoom, 0, 0, k * dpr * I.zoom, k * dpr * (I.x - I.zoom * I.ox),
                       k * dpr * (I.y - I.zoom * I.oy));
    }
    function paint(colourOf) {
      if (colourOf) { colours = []; for (var i = 0; i < n; i++) { colours.push(colourOf(i)); } }
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.setTransform(k * dpr, 0, 0, k * dpr, 0, 0);
      layer(null);
      if (I) {
        ctx.save();
        ctx.beginPath(); ctx.rect(I.x, I.y, I.w, I.h); ctx.fillStyle = "#fff"; ctx.fill(); ctx.clip();
        insetTransform();
        layer(I);
        ctx.restore();
        ctx.setTransform(k * dpr, 0, 0, k * dpr, 0, 0);
        ctx.strokeStyle = "#333"; ctx.lineWidth = 1 / k; ctx.strokeRect(I.x, I.y, I.w, I.h);
      }
      canvas.setAttribute("data-drawn", String(n));
    }
    function regionAt(evt) {
      var rect = canvas.getBoundingClientRect();
      var cx = evt.clientX - rect.left, cy = evt.clientY - rect.top, x = cx / k, y = cy / k, j, list;
      if (I && x >= I.x && x <= I.x + I.w && y >= I.y && y <= I.y + I.h) {
        insetTransform();
        list = I.regions;
      } else {
        ctx.setTransform(k * dpr, 0, 0, k * dpr, 0, 0);
        var gx = Math.floor(x / W * NG), gy = Math.floor(y / H * NG);
        list = (gx >= 0 && gx < NG && gy >= 0 && gy < NG) ? grid[gy * NG + gx] : [];
      }
      for (j = list.length - 1; j >= 0; j--) {
        if (ctx.isPointInPath(R.paths[list[j]], cx * dpr, cy * dpr, "evenodd")) { return list[j]; }
      }
      return -1;
    }
    size();
    canvas.addEventListener("mousemove", function (evt) {
      var i = regionAt(evt);
      if (i < 0) { hide(); } else { showRegion(i, evt); }
    });
    canvas.addEventListener("mouseleave", hide);
    window.addEventListener("resize", function () { size(); paint(null); });
    return {draw: paint, regionAt: regionAt};
  }

  paths.concat(svg ? Array.prototype.slice.call(svg.querySelectorAll("use[data-i]")) : []).forEach(function (el) {
    el.addEventListener("mousemove", show);
    el.addEventListener("mouseleave", hide);
  });
  slider.addEventListener("input", draw);
  select.addEventListener("change", draw);
  draw();
})();
"""
