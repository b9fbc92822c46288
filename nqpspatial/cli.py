"""Command-line interface: ``nqpspatial run | validate | plugins``.

Exit codes: 0 success (including runs whose findings are negative), 1
unexpected internal error, 2 input, config or output-folder problem (a
folder locked by another run and a config naming a plugin that fails to
load included), 3 completed with failed stages (a plugin raised; the other
stages' results are written), 128 + n when stopped by signal n (130 Ctrl-C,
143 SIGTERM, 129 SIGHUP).  Tracebacks are shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from ._version import __version__

__all__ = ["main"]


EXIT_CODES = (
    "exit codes: 0 success; 1 internal error (please report it); 2 input, config or output-folder "
    "problem (including an output folder locked by another run and a plugin that fails to load); "
    "3 completed with failed stages (their plugin raised; every other stage's results are written); "
    "128 + n when stopped by signal n (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nqpspatial",
        description="Spatial co-evolution analysis of two regional "
        "subsystems (indicator weighting, Haken model, spatial statistics).",
        epilog=EXIT_CODES,
    )
    p.add_argument("--version", action="version", version=f"nqpspatial {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("run", help="run a study (no CONFIG: the bundled demo study)", epilog=EXIT_CODES)
    r.add_argument("config", nargs="?", help="TOML config file")
    r.add_argument("--out", help="output folder (default: output/<name>)")
    r.add_argument(
        "--force",
        action="store_true",
        help="replace the results of an earlier run in the output folder (only the files listed in its "
        "manifest.json are removed; a folder nqpspatial did not write is refused)",
    )
    r.add_argument("--seed", type=int, help="random seed (overrides [run] seed)")
    r.add_argument("--quiet", action="store_true", help="print nothing but errors")
    r.add_argument("--no-report", action="store_true", help="skip figures and the HTML report")
    r.add_argument("--workers", type=int, help="start a local Dask cluster with N workers for Monte Carlo work")
    r.add_argument("--scheduler", help="address of a running Dask scheduler")
    r.add_argument("--debug", action="store_true", help="show tracebacks")
    v = sub.add_parser(
        "validate", help="check a config, its data and (with --out) the output folder", epilog=EXIT_CODES
    )
    v.add_argument("config", help="TOML config file")
    v.add_argument("--out", help="also check this output folder (nothing is written)")
    v.add_argument("--force", action="store_true", help="check the folder as `run --force` would")
    v.add_argument("--debug", action="store_true", help="show tracebacks")
    pl = sub.add_parser("plugins", help="list installed plugins")
    pl.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv=None) -> int:
    """Entry point of the ``nqpspatial`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code.
    """
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    from .errors import InputError, PluginError
    from .outdir import Interrupted, raise_on_signals

    try:
        with raise_on_signals():
            return _command(args)
    except InputError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PluginError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"plugin error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        done = (
            "the run had finished: its results are in the output folder"
            if exc.committed
            else "nothing was written; the output folder is as it was"
        )
        print(f"stopped by {exc.name} ({done})", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C); nothing was written, the output folder is as it was", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI turns any crash into one line
        if args.debug:
            traceback.print_exc()
        else:
            where = ""
            tb = traceback.extract_tb(exc.__traceback__)
            if tb:
                where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})"
            print(
                f"internal error: {type(exc).__name__}: {exc}{where}. Please report it; rerun with --debug "
                "for the traceback.",
                file=sys.stderr,
            )
        return 1


def _command(args) -> int:
    """Run one subcommand and return its exit code (errors propagate to :func:`main`)."""
    from .errors import InputError

    if getattr(args, "out", None) is not None and not args.out.strip():
        raise InputError("--out is empty. Name a folder, e.g. --out results.", source="command line")
    return {"run": _run, "validate": _validate, "plugins": _plugins}[args.command](args)


def _run(args) -> int:
    from .config import check_seed, check_workers
    from .pipeline import run

    seed = None if args.seed is None else check_seed(args.seed, "--seed", "command line")
    workers = None if args.workers is None else check_workers(args.workers, "--workers", "command line")
    result = run(
        args.config,
        out=args.out,
        force=args.force,
        seed=seed,
        quiet=args.quiet,
        report=not args.no_report,
        workers=workers,
        scheduler=args.scheduler,
    )
    if not result.failed:
        return 0
    for s in result.info["stages"]:
        if s["status"] != "failed":
            continue
        plugin = s.get("plugin") or {}
        origin = (
            (
                f" (plugin from package {plugin.get('package', '')} {plugin.get('version', '')}, entry point "
                f"'{plugin.get('entry_point', '')}')"
            )
            if plugin
            else ""
        )
        print(f"failed stage {s['name']}{origin}: {s.get('error', '')}", file=sys.stderr)
        if args.debug and result.tracebacks.get(s["name"]):
            print(result.tracebacks[s["name"]], file=sys.stderr)
    where = f" in {result.out_dir}" if result.out_dir is not None else ""
    print(
        f"completed with failed stages: {', '.join(result.failed)}; the other stages' results are written{where} "
        "(exit code 3)",
        file=sys.stderr,
    )
    return 3


def _validate(args) -> int:
    from .pipeline import validate

    facts = validate(args.config, out=args.out, force=args.force)
    print(
        f"{args.config}: OK ({facts['regions']} regions, {facts['periods']} periods, subsystems "
        f"{', '.join(facts['subsystems'])})" + (f"; output folder {args.out}: OK" if args.out else "")
    )
    return 0


def _plugins(args) -> int:
    from . import registry

    rows = registry.describe()
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        print(f"{r['kind']:<12} {r['name']:<{width}}  {r['package']} {r['version']}  {r['entry_point']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
