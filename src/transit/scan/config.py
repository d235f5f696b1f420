"""Scan configuration: a base run config, a grid over its fields, an executor and an output dir.

```yaml
name: b1_injection
base: configs/benchmarks/b1.yaml     # a run config file (relative to the current directory)
set: [profile=fast]                  # or inline: base: {name: ..., data: {...}, ...}
grid:                                # see transit.scan.grid
  product: {injection.n_signal: [0, 1000, 3000], seed: [0, 1, 2]}
executor: {kind: processes, tasks: 0, retries: 1}
out: runs/scans/b1_injection         # default: runs/scans/NAME
```

Unknown keys are errors, as in run configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, apply_overrides, build_dataclass

EXECUTOR_KINDS = ("inline", "processes", "dask")
#: Batch-system clusters of dask-jobqueue, by the name used in ``executor.cluster.kind``.
JOBQUEUE_CLUSTERS = {
    "slurm": "SLURMCluster",
    "htcondor": "HTCondorCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
}
#: LocalCluster arguments the scan sets itself from ``executor.tasks``.
RESERVED_LOCAL_OPTIONS = ("n_workers", "threads_per_worker", "processes", "resources")


@dataclass(frozen=True)
class ClusterConfig:
    """The Dask cluster of ``executor.kind: dask``.

    ``kind: local`` is a ``distributed.LocalCluster`` on this machine (``executor.tasks`` worker
    processes, one point at a time each). The other kinds are dask-jobqueue clusters
    (``JOBQUEUE_CLUSTERS``) of ``jobs`` batch jobs; ``options`` are the keyword arguments of the
    cluster class (``cores``, ``processes``, ``memory``, ``walltime``, ``queue``, ...), passed as
    they are. Each job runs ``processes`` (default 1) worker processes, each one point at a
    time with ``cores // processes`` cores.
    """

    kind: str = "local"
    jobs: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kinds = ("local", *JOBQUEUE_CLUSTERS)
        if self.kind not in kinds:
            raise ConfigError(f"executor.cluster.kind {self.kind!r}: use one of {', '.join(kinds)}")
        if self.jobs < 1:
            raise ConfigError(f"executor.cluster.jobs must be >= 1, got {self.jobs}")
        if self.kind == "local":
            if self.jobs != 1:
                raise ConfigError("executor.cluster.jobs is for batch clusters; a local cluster "
                                  "runs executor.tasks workers")  # fmt: skip
            reserved = sorted(set(self.options) & set(RESERVED_LOCAL_OPTIONS))
            if reserved:
                raise ConfigError(f"executor.cluster.options {reserved} are set by the scan "
                                  "(use executor.tasks)")  # fmt: skip
        else:
            cores = self.options.get("cores")
            if not isinstance(cores, int) or isinstance(cores, bool) or cores < 1:
                raise ConfigError(f"executor.cluster.options.cores: a {self.kind} cluster needs "
                                  "the cores of one job (an integer >= 1)")  # fmt: skip
            processes = self.options.get("processes", 1)
            if not isinstance(processes, int) or not 1 <= processes <= cores:
                raise ConfigError("executor.cluster.options.processes must be an integer "
                                  f"between 1 and cores ({cores})")  # fmt: skip

    @property
    def batch(self) -> bool:
        return self.kind != "local"


@dataclass(frozen=True)
class ExecutorConfig:
    """Where the points run.

    ``kind``: ``inline`` (one after another in this process), ``processes`` (a local process
    pool) or ``dask`` (``cluster``; a LocalCluster when omitted). ``tasks``: points run at once
    on this machine (0 = one per allotted CPU); each point's ``n_workers`` (when the run config
    leaves it at 0) is ``max(1, cores // tasks)`` so that points never oversubscribe the cores.
    ``retries``: further attempts for a point that raised or whose worker died; errors of the
    input (ConfigError, DataError) are not retried.
    """

    kind: str = "processes"
    tasks: int = 0
    retries: int = 1
    cluster: ClusterConfig | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXECUTOR_KINDS:
            raise ConfigError(f"executor.kind {self.kind!r}: use one of "
                              f"{', '.join(EXECUTOR_KINDS)}")  # fmt: skip
        if self.tasks < 0 or self.retries < 0:
            raise ConfigError("executor.tasks and executor.retries must be >= 0")
        if self.cluster is not None and self.kind != "dask":
            raise ConfigError(f"executor.cluster is for kind: dask, not {self.kind}")
        if self.kind == "inline" and self.tasks not in (0, 1):
            raise ConfigError("executor.tasks: an inline executor runs one point at a time")
        if self.cluster is not None and self.cluster.batch and self.tasks:
            raise ConfigError("executor.tasks is for local executors; a batch cluster runs "
                              "cluster.jobs x cluster.options.processes points at once")  # fmt: skip


@dataclass(frozen=True)
class ScanConfig:
    """A whole scan; ``base`` holds the run config values every point starts from."""

    name: str
    base: dict[str, Any]
    grid: dict[str, Any]
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    out: str | None = None

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / "scans" / self.name


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{what} {path} must hold a mapping at the top level")
    return values


def scan_config_from_dict(values: dict[str, Any]) -> ScanConfig:
    """Resolve ``base`` (a run config path or mapping) and ``set``, then check every key."""
    values = dict(values)
    if "base" not in values:
        raise ConfigError("scan config: 'base' is missing (a run config path or mapping)")
    base = values["base"]
    if isinstance(base, str):
        base = _read_yaml(Path(base), "base run config")
    elif not isinstance(base, dict):
        raise ConfigError(f"base: expected a run config path or mapping, got {base!r}")
    overrides = values.pop("set", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError("set: expected a list of dotted.key=value strings")
    values["base"] = apply_overrides(base, overrides)
    if "grid" not in values:
        raise ConfigError("scan config: 'grid' is missing")
    values.setdefault("name", "scan")
    return build_dataclass(ScanConfig, values)


def load_scan_config(path: str | Path) -> ScanConfig:
    """Read a scan YAML; its name defaults to the file name without suffix."""
    values = _read_yaml(Path(path), "scan config")
    values.setdefault("name", Path(path).stem)
    return scan_config_from_dict(values)
