"""``validate`` refuses every config that ``run`` refuses before computing (issue 16, acceptance): a catalogue of
configs, each run through both commands. Both exit 2 with the same message, and ``run`` creates no output folder
(a problem found inside a stage would exit 3 with the stage marked failed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_hostile_inputs import _geo, squares  # noqa: E402

#: (id, TOML added to a small study with boundaries, a part of the message)
CATALOGUE = [
    ("unknown-table", "[spatail]\n", "[spatail]"),
    ("unknown-key", "[haken]\nbootsrap = 9\n", "bootsrap"),
    ("bad-seed", "[run]\nseed = -1\n", "seed"),
    ("bad-workers", "[run]\nworkers = 0\n", "workers"),
    ("weighting-method", '[weighting]\nmethod = "critc"\n', "critc"),
    ("misspelt-statistic", '[spatial]\nstatistics = ["morann"]\n', "morann"),
    ("weights-parameter", '[spatial]\nweights = ["knn:n=4"]\n', "knn"),
    ("unknown-weights", '[spatial]\nweights = ["quen"]\n', "quen"),
    ("spatial-variable", '[spatial]\nvariables = ["gdp"]\n', "gdp"),
    ("islands", '[spatial]\nislands = "nowhere"\n', "islands"),
    ("haken-order", '[haken]\norder = ["A", "C"]\n', "C"),
    ("haken-se", '[haken]\nse = "robust"\n', "robust"),
    ("haken-effects", '[haken]\neffects = "time"\n', "time"),
    ("haken-bootstrap", "[haken]\nbootstrap = -5\n", "bootstrap"),
    ("haken-coevolution", '[haken]\ncoevolution = "nope"\n', "nope"),
    ("scenario-group", '[scenarios]\nshocks = [{ name = "x", group = "Nowhere", q1_growth = 1.1 }]\n', "Nowhere"),
    ("zones-clusters", "[zones]\nclusters = 99\n", "clusters"),
    ("split-without-scheme", "[spatial_haken]\nsplit_by_zone = true\n", "scheme"),
    ("spatial-haken-model", '[spatial_haken]\nmodels = ["sdx"]\n', "sdx"),
    ("spatial-haken-weights", '[spatial_haken]\nweights = ["rook:k=2"]\n', "rook"),
    ("sensitivity-methods", '[sensitivity]\nmethods = ["critc"]\n', "critc"),
    ("robustness-weights", '[robustness]\nweights = ["knn:k=0"]\n', "knn"),
    ("centres-column", '[centres]\nvariables = ["gdp"]\n', "gdp"),
    ("centres-years", "[centres]\nyears = [1999]\n", "1999"),
    ("detector-column", '[detector]\ndrivers = ["x9"]\n', "x9"),
    ("network-years", "[network]\ndetail_years = [2030]\n", "2030"),
    ("local-haken-bandwidth", '[local_haken]\nbandwidth = "wide"\n', "bandwidth"),
    ("report-format", '[report]\nformats = ["gif"]\n', "gif"),
    ("report-language", '[report]\nlanguage = "fr"\n', "fr"),
    ("scheme-file", '[regions]\nscheme = "missing.csv"\n', "missing.csv"),
    ("stage-disabled-wrongly", '[zones]\nenabled = "no"\n', "enabled"),
]


@pytest.mark.parametrize(("case", "extra", "expected"), CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_validate_refuses_what_run_refuses_before_computing(study, run_cli, case, extra, expected):
    _geo(study, squares(), "[haken]\nbootstrap = 0\n" + extra if not extra.startswith("[haken]") else extra)
    code_v, _, err_v = run_cli("validate", study.config)
    code_r, _, err_r = run_cli("run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code_r == 2, (case, err_r)
    assert code_v == 2, (case, err_v)
    assert expected in err_r, (case, err_r)
    first = err_r.strip().splitlines()[0]
    assert first in err_v, (case, first, err_v)
    assert "Traceback" not in err_r + err_v
    assert not study.out.exists()
