"""Run one benchmark configuration over several seeds and summarise it as JSON.

    python benchmarks/run_benchmark.py configs/benchmarks/b1.yaml --seeds 0 1 2 \
        --set profile=fast --set injection.n_signal=3000 \
        --runs-dir runs/bench/b1_fast_n3000 --out benchmarks/results/b1_fast_n3000.json

Each seed is one ``transit run`` in its own process, timed by GNU time (wall, CPU, peak RSS of
the process tree as the kernel reports it). The summary holds every run's metrics, timings and
the mean and standard deviation over seeds. A seed whose run directory already holds a
result.json is not run again (delete the directory to redo it).

``--parallel K`` runs K seeds at once, each with ``n_workers`` = CPUs // K (one thread per
process, so the cores are never oversubscribed). ``--reuse FILE`` takes the runs of the seeds
that an earlier summary FILE holds (metrics, timings, GNU time) instead of running them again,
so that a summary can grow by seeds: e.g. ``--seeds 0 1 2 --reuse old.json`` with seed 0 in
old.json runs seeds 1 and 2 only. Timings of reused and new runs are measured under their own
``n_workers`` (recorded per run), so compare them with care.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

METRICS = ("si_at_rej_100", "si_at_rej_1000", "max_sic", "auc", "closure_auc",
           "sb1_to_sb2_auc", "sb2_to_sb1_auc")  # fmt: skip


def run_seed(config: str, seed: int, overrides: list[str], run_dir: Path) -> dict:
    result_file = run_dir / "result.json"
    time_file = run_dir.parent / f"{run_dir.name}.time"
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    if not result_file.exists():
        cmd = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(time_file),
               sys.executable, "-m", "transit.cli", "run", config, "--out", str(run_dir),
               "--overwrite", "--seed", str(seed)]  # fmt: skip
        for text in overrides:
            cmd += ["--set", text]
        subprocess.run(cmd, check=True)
    result = json.loads(result_file.read_text())
    if time_file.exists():
        wall, user, system, max_kb = time_file.read_text().split()[-4:]
        result["process"] = {"wall_s": float(wall), "cpu_s": float(user) + float(system),
                             "peak_rss_mb": int(max_kb) / 1024}  # fmt: skip
    return result


def summarise(results: list[dict]) -> dict:
    summary: dict = {}
    for name in results[0]["methods"]:
        summary[name] = {}
        for key in METRICS:
            values = [r["methods"][name].get(key) for r in results]
            values = [v for v in values if isinstance(v, (int, float))]
            if values:
                summary[name][key] = {"mean": float(np.mean(values)),
                                      "std": float(np.std(values)), "n": len(values)}  # fmt: skip
    stages = sorted({s for r in results for s in r["timings_s"]})
    summary["timings_s_median"] = {
        s: float(np.median([r["timings_s"][s] for r in results if s in r["timings_s"]]))
        for s in stages
    }
    processes = [r["process"] for r in results if "process" in r]
    if processes:
        summary["process_median"] = {
            k: float(np.median([p[k] for p in processes])) for k in processes[0]
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--parallel", type=int, default=1, metavar="K")
    parser.add_argument("--reuse", metavar="FILE")
    args = parser.parse_args()
    reused = {}
    if args.reuse:
        earlier = json.loads(Path(args.reuse).read_text())["runs"]
        reused = {r["seed"]: r for r in earlier if r["seed"] in args.seeds}
    overrides = list(args.set)
    if args.parallel > 1:  # first, so that an explicit --set n_workers=... still wins
        overrides.insert(0, f"n_workers={max(1, len(os.sched_getaffinity(0)) // args.parallel)}")
    to_run = [s for s in args.seeds if s not in reused]
    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        fresh = dict(zip(to_run, pool.map(
            lambda s: run_seed(args.config, s, overrides, Path(args.runs_dir) / f"seed{s}"),
            to_run)))  # fmt: skip
    runs = [reused[s] if s in reused else fresh[s] for s in args.seeds]
    report = {
        "config": args.config,
        "overrides": args.set,
        "seeds": args.seeds,
        "reused_from": {"file": args.reuse, "seeds": sorted(reused)} if reused else None,
        "summary": summarise(runs),
        "runs": [{k: r.get(k) for k in ("seed", "methods", "bump_hunt", "timings_s", "n_events",
                                        "peak_rss_mb", "n_workers", "process")} for r in runs],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    for name, metrics in report["summary"].items():
        if name.endswith("_median"):
            continue
        cells = [f"{k}={v['mean']:.3f}+-{v['std']:.3f}" for k, v in metrics.items()]
        print(f"{name:<11}", " ".join(cells))
    print("timings (median s):", report["summary"]["timings_s_median"])
    print("process (median):", report["summary"].get("process_median"))


if __name__ == "__main__":
    main()
