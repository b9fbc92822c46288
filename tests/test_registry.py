"""Plugin registry: lazy discovery, errors naming the plugin, duplicates, in-process registration,
and a real third-party plugin package (tests/plugin_pkg) installed into a temporary folder."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from nqpspatial import registry
from nqpspatial.errors import ConfigError, InputError, PluginError


class _Const:
    """A co-evolution strategy plugin: h = 0.5 everywhere."""

    name = "const"
    normalized = True

    def supports(self, case):
        return True

    def __call__(self, q1, potential):
        return q1 * 0 + 0.5


def test_listing_does_not_import(installed_plugin):
    assert "example_counts" in registry.names("analyses")
    assert "alphabet-halves" in registry.names("schemes")
    assert "nqp_example_plugin" not in sys.modules
    info = registry.available("analyses")["example_counts"]
    assert (info.package, info.version) == ("nqp-example-plugin", "0.3.1")


def test_broken_plugin_error_names_it(installed_plugin):
    with pytest.raises(PluginError) as exc:
        registry.get("coevolution", "broken")
    msg = str(exc.value)
    assert "nqp-example-plugin 0.3.1" in msg
    assert "broken = nqp_example_plugin.broken:strategy" in msg
    assert "nqpspatial.coevolution" in msg and "broken on purpose" in msg


def test_unknown_plugin_suggests():
    with pytest.raises(InputError, match="no analyses plugin named 'hakn'"):
        registry.get("analyses", "hakn")


def test_third_party_plugin_passes_contract(installed_plugin):
    from nqpspatial.testing import check_plugin

    check_plugin("analyses", registry.get("analyses", "example_counts"))
    check_plugin("schemes", registry.get("schemes", "alphabet-halves"))


def test_third_party_plugin_from_python_api(installed_plugin, tmp_path):
    import nqpspatial
    from conftest import Study

    study = Study(tmp_path).write(
        extra="[haken]\nenabled = false\n[spatial]\nenabled = false\n"
        "[example_counts]\nmultiplier = 3\n"
        '[regions]\nscheme = "alphabet-halves"\n'
    )
    result = nqpspatial.run(study.config, out=tmp_path / "out", quiet=True)
    counts = result.table("example_counts")
    assert counts["scaled"].tolist() == [18] * 6  # 6 regions x multiplier 3
    assert result.info["stages"][-1]["name"] in {s["name"] for s in result.info["stages"]}


def test_third_party_plugin_from_config_file_cli(installed_plugin, tmp_path):
    from conftest import Study

    study = Study(tmp_path).write(
        extra="[haken]\nenabled = false\n[spatial]\nenabled = false\n[example_counts]\nmultiplier = 2\n"
    )
    env = dict(os.environ, PYTHONPATH=str(installed_plugin))
    proc = subprocess.run(
        [
            sys.executable,
            "-P",
            "-m",
            "nqpspatial.cli",
            "run",
            str(study.config),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "out" / "tables" / "example_counts.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[1] == "2015,6,12"
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "nqpspatial.cli", "plugins"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0
    line = [l for l in proc.stdout.splitlines() if "example_counts" in l][0]
    assert "nqp-example-plugin 0.3.1" in line


def test_plugin_config_keys_are_checked(installed_plugin, tmp_path):
    from conftest import Study

    study = Study(tmp_path).write(extra="[example_counts]\nmultiplyer = 2\n")
    from nqpspatial.cli import main

    assert main(["validate", str(study.config)]) == 2


def test_duplicate_names_warn_and_choose_deterministically(installed_plugin, tmp_path):
    other = tmp_path / "other"
    dist = other / "nqp_zother-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nqp-zother\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[nqpspatial.analyses]\nexample_counts = nqp_zother:stage\n")
    sys.path.insert(0, str(other))
    importlib.invalidate_caches()
    registry.refresh()
    try:
        with pytest.warns(registry.PluginWarning, match="using nqp-example-plugin 0.3.1"):
            info = registry.available("analyses")["example_counts"]
        assert info.package == "nqp-example-plugin"
    finally:
        sys.path.remove(str(other))
        importlib.invalidate_caches()
        registry.refresh()


def test_registered_context_manager():
    with registry.registered("coevolution", "const", _Const()) as s:
        assert registry.get("coevolution", "const") is s
        assert "const" in registry.names("coevolution")
    assert "const" not in registry.names("coevolution")
    with pytest.raises(PluginError, match="missing attribute 'run'"):
        with registry.registered("analyses", "bad", object()):
            pass


def test_registry_checks_every_attribute_the_pipeline_reads():
    """A statistic without ``bivariate`` or a strategy without ``normalized`` is refused with its name
    (the spatial stage and the co-evolution code read them; a missing one would be an AttributeError)."""
    import pandas as pd

    class Statistic:
        name = "nobiv"
        table = "nobiv"

        def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None):
            return pd.DataFrame({"year": list(values.columns)})

    class Strategy:
        name = "nonorm"

        def supports(self, case):
            return True

        def __call__(self, q1, potential):
            return q1 * 0

    with pytest.raises(PluginError, match="'nobiv' breaks the contract: missing attribute 'bivariate'"):
        with registry.registered("statistics", "nobiv", Statistic()):
            pass
    with pytest.raises(PluginError, match="'nonorm' breaks the contract: missing attribute 'normalized'"):
        with registry.registered("coevolution", "nonorm", Strategy()):
            pass


def test_coevolution_plugin_is_usable_from_the_config(tmp_path):
    """A strategy registered as a plugin (with the contract's ``__call__(q1, potential)``, no
    ``domain`` keyword) is accepted by ``[haken] coevolution`` and gives the h column."""
    import pandas as pd

    import nqpspatial
    import nqpspatial.demo as demo
    from nqpspatial.testing import check_plugin

    check_plugin("coevolution", _Const())
    # the demo's latent series (SYNTHETIC): q1 is an order parameter with a stable point
    latent = pd.read_csv(demo.demo_file("latent.csv"), comment="#")[["region", "year", "q1", "q2"]]
    latent.to_csv(tmp_path / "latent.csv", index=False)
    (tmp_path / "study.toml").write_text(
        'name = "plugin strategy"\n[data]\npanel = "latent.csv"\nindices = true\n[geometry]\nenabled = false\n'
        '[haken]\nbootstrap = 0\ncoevolution = "const"\n',
        encoding="utf-8",
    )
    with registry.registered("coevolution", "const", _Const()):
        res = nqpspatial.run(tmp_path / "study.toml", write=False, quiet=True, report=False)
    coev = res.table("coevolution")
    assert (coev["strategy"] == "const").all() and (coev["h"] == 0.5).all()
    with pytest.raises(ConfigError, match="const"):  # unknown once it is no longer registered
        nqpspatial.run(tmp_path / "study.toml", write=False, quiet=True, report=False)


def test_first_party_plugins_pass_their_contract():
    from nqpspatial.testing import check_plugin

    checked = 0
    for kind in registry.KINDS:
        for name, info in registry.available(kind).items():
            if getattr(info, "package", None) == "nqpspatial":
                check_plugin(kind, registry.get(kind, name))
                checked += 1
    assert checked >= 1
