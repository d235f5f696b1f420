"""The ``transit`` command line."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from .config import ConfigError, load_config
from .io import DataError

log = logging.getLogger("transit")

SUMMARY_COLUMNS = (
    ("si_at_rej_100", "SI@100"),
    ("si_at_rej_1000", "SI@1000"),
    ("max_sic", "maxSIC"),
    ("auc", "AUC"),
    ("closure_auc", "closure"),
)


def format_summary(result: dict[str, Any]) -> str:
    """A plain-text table of every method's metrics."""
    header = f"{'method':<12}" + "".join(f"{title:>10}" for _, title in SUMMARY_COLUMNS)
    lines = [header, "-" * len(header)]
    for name, metrics in result["methods"].items():
        cells = []
        for key, _ in SUMMARY_COLUMNS:
            value = metrics.get(key)
            ok = isinstance(value, (int, float)) and math.isfinite(value)
            cells.append(f"{value:>10.3f}" if ok else f"{'-':>10}")
        lines.append(f"{name:<12}" + "".join(cells))
    counts = ", ".join(f"{k} {v}" for k, v in result["n_events"].items())
    lines.append(f"events: {counts}")
    lines.append(f"total time {result['timings_s']['total']:.1f} s")
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import OutputExistsError, run_one

    overrides = [*args.set, *([f"seed={args.seed}"] if args.seed is not None else [])]
    config = load_config(args.config, overrides)
    out = Path(args.out) if args.out else Path("runs") / (
        f"{config.name}-seed{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    try:
        result = run_one(config, out, overwrite=args.overwrite)
    except OutputExistsError as exc:
        raise DataError(str(exc)) from None
    print(format_summary(result))
    print(f"results in {out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir} is not a run directory")
    print(write_report(run_dir))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from .generate import GenerateError
    from .generate.runner import run_generation
    from .generate.settings import DetectorSettings, GenerationSettings

    qcd_only = {"--pthat-min": args.pthat_min, "--mhat-min": args.mhat_min}
    signal_only = {"--m-a": args.m_a, "--m-b": args.m_b, "--m-c": args.m_c}
    other = "qcd" if args.process == "signal" else "signal"
    wrong = qcd_only if args.process == "signal" else signal_only
    given = [flag for flag, value in wrong.items() if value is not None]
    if given:
        raise GenerateError(f"{', '.join(given)}: only for {other}, not for {args.process}")
    detector = DetectorSettings(
        enabled=not args.no_detector,
        **{name: value for name in ("track_pt_min", "cell_size", "calo_stochastic",
                                    "calo_constant", "cell_e_min")
           if (value := getattr(args, name)) is not None},
    )  # fmt: skip
    physics = {name: value for name in ("pthat_min", "mhat_min", "m_a", "m_b", "m_c")
               if (value := getattr(args, name)) is not None}  # fmt: skip
    settings = GenerationSettings(
        process=args.process, events=args.events, seed=args.seed,
        chunk_events=args.chunk_events, mpi=args.mpi, detector=detector, **physics,
    )  # fmt: skip
    summary = run_generation(settings, args.out, workers=args.workers, resume=args.resume,
                             overwrite=args.overwrite)  # fmt: skip
    print(
        f"{summary['events']} {args.process} events in {args.out} (acceptance "
        f"{summary['acceptance']:.3f}, {summary['cross_section_accepted_pb']:.4g} pb after cuts)"
    )
    return 0


def _add_generate_parser(sub: argparse._SubParsersAction) -> None:
    from .generate.settings import DetectorSettings, GenerationSettings

    gen_defaults = GenerationSettings("qcd", 1)
    det = DetectorSettings()
    gen = sub.add_parser(
        "generate",
        help="generate an LHCO-like sample with Pythia 8 + FastJet (needs transit-ad[generate])",
        description="Generate QCD dijets or an A -> B C, B, C -> q qbar signal at 13 TeV in the "
        "official LHC Olympics features layout (pandas HDF5 key df, 15 columns, GeV). Chunked: "
        "an interrupted job continues with --resume and gives the same events.",
    )
    gen.add_argument("process", choices=("qcd", "signal"))
    gen.add_argument("--events", type=int, required=True,
                     help="events to write (after the pT(J1) > 1.2 TeV trigger)")
    gen.add_argument("--out", required=True, help="output file (.h5)")
    gen.add_argument("--seed", type=int, default=0, help="seed of the whole sample (default 0)")
    gen.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    gen.add_argument("--chunk-events", type=int, default=gen_defaults.chunk_events,
                     help="events per chunk, the unit of resuming and of seeding "
                     f"(default {gen_defaults.chunk_events}; part of the sample's identity)")
    gen.add_argument("--resume", action="store_true", help="continue an interrupted job")
    gen.add_argument("--overwrite", action="store_true", help="replace an existing output")
    gen.add_argument("--pthat-min", type=float,
                     help=f"qcd: PhaseSpace:pTHatMin in GeV (default {gen_defaults.pthat_min:g})")
    gen.add_argument("--mhat-min", type=float,
                     help="qcd: PhaseSpace:mHatMin in GeV (default off); shapes m_jj below "
                     "about mhat-min + 300 GeV")
    gen.add_argument("--m-a", type=float, help=f"signal: m_A in GeV (default {gen_defaults.m_a:g})")
    gen.add_argument("--m-b", type=float, help=f"signal: m_B in GeV (default {gen_defaults.m_b:g})")
    gen.add_argument("--m-c", type=float, help=f"signal: m_C in GeV (default {gen_defaults.m_c:g})")
    gen.add_argument("--mpi", action=argparse.BooleanOptionalAction, default=False,
                     help="Pythia multiparton interactions (default off: closer to the real "
                     "LHCO R&D features, see the README)")
    gen.add_argument("--no-detector", action="store_true",
                     help="no detector emulation: jets from all visible particles in |eta| < 2.5")
    gen.add_argument("--track-pt-min", type=float,
                     help=f"GeV, charged particles above it are tracks (default {det.track_pt_min:g})")
    gen.add_argument("--cell-size", type=float,
                     help=f"calorimeter cell size in eta and phi (default {det.cell_size:g})")
    gen.add_argument("--calo-stochastic", type=float,
                     help=f"a in sigma_E/E = a/sqrt(E) (+) b (default {det.calo_stochastic:g})")
    gen.add_argument("--calo-constant", type=float,
                     help=f"b in sigma_E/E = a/sqrt(E) (+) b (default {det.calo_constant:g})")
    gen.add_argument("--cell-e-min", type=float,
                     help=f"GeV, cells below it are dropped (default {det.cell_e_min:g})")
    gen.set_defaults(func=_cmd_generate)
def _cmd_scan(args: argparse.Namespace) -> int:
    from .scan.config import load_scan_config
    from .scan.executors import prepare_scan, run_scan
    from .scan.state import MANIFEST_FILE, point_status, run_dir

    scan = load_scan_config(args.config)
    if args.dry_run:
        scan_dir, points = prepare_scan(scan, args.out)
        for point in points:
            print(f"{point.index:>6} {point_status(run_dir(scan_dir, point)):<10} {point.name}")
        print(f"{len(points)} points; manifest in {scan_dir / MANIFEST_FILE}")
        return 0
    if not args.verbose:
        logging.getLogger("distributed").setLevel(logging.WARNING)
    outcome = run_scan(scan, args.out)
    print(f"scan {scan.name}: {outcome.finished_before + outcome.done}/{outcome.total} points "
          f"done ({outcome.finished_before} before this run), {len(outcome.failures)} failed")
    if outcome.failures:
        print(f"failures: {outcome.scan_dir / 'failures.json'}")
    print(f"table: transit collect {outcome.scan_dir}")
    return 1 if outcome.failures else 0


def _cmd_run_task(args: argparse.Namespace) -> int:
    from .scan.config import load_scan_config
    from .scan.executors import run_task

    index = args.index
    if index is None:
        task_id = os.environ.get("SLURM_ARRAY_TASK_ID")
        if task_id is None:
            raise ConfigError("give --index I, or run inside a SLURM job array "
                              "(SLURM_ARRAY_TASK_ID)")  # fmt: skip
        if not task_id.isdigit():
            raise ConfigError(f"SLURM_ARRAY_TASK_ID={task_id!r} is not a point index")
        index = int(task_id)
    outcome = run_task(load_scan_config(args.config), index, args.out)
    print(f"point {index} {outcome['name']}: {outcome['status']} ({outcome['dir']})")
    if outcome["status"] == "failed":
        print(f"transit: point {index} failed: {outcome['error']}", file=sys.stderr)
        return 1
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from .scan.collect import collect
    from .scan.state import read_sessions, searches_per_hour

    collection = collect(args.scan_dir)
    counts = ", ".join(f"{n} {status}" for status, n in collection.status.items())
    print(f"{sum(collection.status.values())} points: {counts}")
    for item in collection.incomplete:
        print(f"  {item['status']:<10} {item['name']}")
    for session in read_sessions(Path(args.scan_dir)):
        rate = searches_per_hour(session)
        print(f"session {session.get('started')}: {session.get('done')} run, "
              f"{session.get('failed')} failed, {session.get('wall_s')} s, "
              f"{session.get('at_once')} at once x n_workers {session.get('n_workers')}"
              + ("" if rate is None else f": {rate:.2f} searches per hour")
              + ("" if session.get("finished") else " (interrupted or still running)"))
    for path in collection.files:
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transit", description="Weakly-supervised resonant anomaly search with TRANSIT."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one search")
    run.add_argument("config", nargs="?", help="YAML config (default: the built-in sample)")
    run.add_argument("--out", help="run directory (default: runs/NAME-seedS-TIMESTAMP)")
    run.add_argument("--seed", type=int, help="override the config's seed")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field, e.g. --set injection.n_signal=1000")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the run in an existing output directory")
    run.set_defaults(func=_cmd_run)
    report = sub.add_parser("report", help="(re)write RUN_DIR/index.html from a run's results")
    report.add_argument("run_dir")
    report.set_defaults(func=_cmd_report)
    _add_generate_parser(sub)
    scan = sub.add_parser("scan", help="run every point of a scan config (resumable)")
    scan.add_argument("config", help="scan YAML: base run config, grid, executor, out")
    scan.add_argument("--out", help="scan directory (default: the config's out)")
    scan.add_argument("--dry-run", action="store_true",
                      help="write the manifest and list the points with their status; run none")
    scan.set_defaults(func=_cmd_scan)
    task = sub.add_parser("run-task", help="run one point of a scan (batch job arrays)")
    task.add_argument("config", help="scan YAML")
    task.add_argument("--index", type=int,
                      help="point index (default: $SLURM_ARRAY_TASK_ID)")
    task.add_argument("--out", help="scan directory (default: the config's out)")
    task.set_defaults(func=_cmd_run_task)
    collect = sub.add_parser("collect", help="one table, summary, plots and index of a scan")
    collect.add_argument("scan_dir")
    collect.set_defaults(func=_cmd_collect)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args))
    except (ConfigError, DataError) as exc:
        print(f"transit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
