"""The ``transit`` command line."""

from __future__ import annotations

import argparse
import logging
import math
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
