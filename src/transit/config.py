"""Run configuration: frozen dataclasses, read from YAML, written as JSON.

Every run is reproducible from its resolved configuration and seed. Unknown keys are an
error (a typo must never be silently ignored), and ``--set dotted.key=value`` overrides
any field from the command line.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BUILTIN_PREFIX = "builtin:"

#: Named feature sets (method.md §2). jet 1 is the lighter jet.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "lhco4": ("mj1", "delta_mj", "tau21_j1", "tau21_j2"),
    "lhco5": ("mj1", "delta_mj", "tau21_j1", "tau21_j2", "delta_R"),
}

#: Methods that build a background template and are scored with CWoLa against SR data.
TEMPLATE_METHODS = ("cwola_sb", "transit", "flow")
#: Reference classifiers that need truth (an extra background sample or labels).
REFERENCE_METHODS = ("iad", "supervised")
#: Methods computed from the TRANSIT latent space (needs the transit template to be trained).
LATENT_METHODS = ("latransit",)
#: Every method, in the order a run computes them (templates before the latents that need them).
#: The position also seeds each method's random stream, so new methods go at the end.
KNOWN_METHODS = ("cwola_sb", "transit", "latransit", "iad", "supervised", "flow")

PROFILES = ("paper", "paper_exact", "fast", "test")


class ConfigError(ValueError):
    """A configuration that cannot be run; the message names the field and the fix."""


@dataclass(frozen=True)
class SourceConfig:
    """One table of events on disk.

    ``format``: ``lhco`` (official LHCO features HDF5, pandas key ``df``, GeV), ``arrays``
    (npz with a ``columns`` array and 2-D arrays, e.g. the real LHCO signal-region arrays),
    ``table`` (any HDF5/npy/npz/parquet/csv table with named columns) or ``auto`` (decided
    from the file's content). ``key`` selects the pandas key / npz array. ``mass_unit`` is
    the unit of every mass-like column in the file (``GeV`` or ``TeV``).
    """

    path: str
    format: str = "auto"
    key: str | None = None
    mass_column: str = "mjj"
    label_column: str | None = "label"
    mass_unit: str = "GeV"

    def __post_init__(self) -> None:
        if self.format not in ("auto", "lhco", "arrays", "table"):
            raise ConfigError(f"format {self.format!r}: use auto, lhco, arrays or table")
        if self.mass_unit not in ("GeV", "TeV"):
            raise ConfigError(f"mass_unit {self.mass_unit!r}: use GeV or TeV")


@dataclass(frozen=True)
class RegionsConfig:
    """Signal region and sideband windows in GeV, each half-open ``[lo, hi)``."""

    sr: tuple[float, float] = (3300.0, 3700.0)
    sb: tuple[tuple[float, float], ...] = ((3000.0, 3300.0), (3700.0, 4600.0))


@dataclass(frozen=True)
class InjectionConfig:
    """Signal injection (method.md §2).

    ``pool: data``: the labelled signal rows of the data file are removed and ``n_signal`` of
    them, drawn at random with the run's seed, are put back (benchmark B1).
    ``pool: extra_signal``: the data are kept as they are and ``n_signal`` events drawn from
    ``extra_signal`` are added (benchmark B2). Either way the pool rows not injected that fall
    in the SR are the evaluation signal, never seen by any template or classifier fit.
    """

    n_signal: int = 3000
    pool: str = "data"

    def __post_init__(self) -> None:
        if self.pool not in ("data", "extra_signal"):
            raise ConfigError(f"injection.pool {self.pool!r}: use data or extra_signal")
        if self.n_signal < 0:
            raise ConfigError(f"injection.n_signal must be >= 0, got {self.n_signal}")


@dataclass(frozen=True)
class CwolaConfig:
    """k-fold x ensemble of HistGradientBoostingClassifier (method.md §7)."""

    n_folds: int = 5
    n_members: int = 5
    max_iter: int = 250
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    validation_fraction: float = 0.1
    closure_members: int = 1

    def __post_init__(self) -> None:
        if self.n_folds < 2:
            raise ConfigError(f"cwola.n_folds must be >= 2, got {self.n_folds}")
        if self.n_members < 1 or self.closure_members < 1:
            raise ConfigError("cwola.n_members and cwola.closure_members must be >= 1")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError("cwola.validation_fraction must lie in (0, 0.5)")


@dataclass(frozen=True)
class TransitConfig:
    """TRANSIT template settings (method.md §4-§6).

    The training recipe is the run's ``profile`` (``paper``, ``paper_exact``, ``fast``,
    ``test``; see ``transit.transport.train.profile``); the fields set here (not None) replace
    the profile's value: ``epochs``, ``batch_size``, ``lr``, ``disc_lr_factor`` (discriminator
    learning rate / generator learning rate) and ``zero_init_scales`` (start every residual
    block as the identity; the authors start the scales at 1). ``feature_transform``:
    the feature scaling, ``logit`` (the authors') or ``gauss`` (empirical CDF -> normal).
    """

    template_factor: float = 4.0
    latent_dim: int = 8
    width: int = 128
    n_blocks: int = 2
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    zero_init_scales: bool | None = None
    disc_lr_factor: float | None = None
    feature_transform: str = "logit"

    def __post_init__(self) -> None:
        if self.feature_transform not in ("logit", "gauss"):
            raise ConfigError(
                f"transit.feature_transform {self.feature_transform!r}: use logit or gauss"
            )

    def training_overrides(self) -> dict[str, Any]:
        values = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                  "zero_init_scales": self.zero_init_scales,
                  "disc_lr_factor": self.disc_lr_factor}  # fmt: skip
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class FlowConfig:
    """The flow template (``flow``, CATHODE-style, for comparison; see ``transit.flow``): a
    neural spline flow with ``transforms`` autoregressive transforms of two hidden layers of
    ``hidden`` units and ``bins`` spline bins, trained with AdamW (``lr``, cosine decay over
    ``epochs``) on batches of ``batch_size``, keeping the best epoch on a 10% validation split
    and stopping after ``patience`` epochs without improvement."""

    transforms: int = 4
    hidden: int = 128
    bins: int = 8
    epochs: int = 60
    batch_size: int = 512
    lr: float = 1e-3
    patience: int = 10
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if min(self.transforms, self.hidden, self.bins, self.epochs, self.batch_size) < 1:
            raise ConfigError("flow.transforms, hidden, bins, epochs and batch_size must be >= 1")
        if not 0.0 < self.val_fraction < 0.5:
            raise ConfigError("flow.val_fraction must lie in (0, 0.5)")


@dataclass(frozen=True)
class RunConfig:
    """Everything one search needs."""

    data: SourceConfig
    name: str = "search"
    seed: int = 0
    profile: str = "paper"
    features: str | tuple[str, ...] = "lhco5"
    regions: RegionsConfig = field(default_factory=RegionsConfig)
    injection: InjectionConfig = field(default_factory=InjectionConfig)
    methods: tuple[str, ...] = ("transit", "latransit")
    extra_background: SourceConfig | None = None
    extra_signal: SourceConfig | None = None
    cwola: CwolaConfig = field(default_factory=CwolaConfig)
    transit: TransitConfig = field(default_factory=TransitConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    n_workers: int = 0

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ConfigError(f"profile {self.profile!r}: use one of {', '.join(PROFILES)}")
        unknown = [m for m in self.methods if m not in KNOWN_METHODS]
        if unknown:
            raise ConfigError(
                f"unknown method(s) {unknown}; known: {', '.join(KNOWN_METHODS)}"
            )
        if not self.methods:
            raise ConfigError("methods is empty: name at least one method")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"methods {list(self.methods)} names a method twice")
        if "latransit" in self.methods and "transit" not in self.methods:
            raise ConfigError("latransit uses the TRANSIT encoder: add 'transit' to methods")
        if "iad" in self.methods and self.extra_background is None:
            raise ConfigError("method 'iad' needs extra_background (independent SR background)")
        if self.injection.pool == "extra_signal" and self.extra_signal is None:
            raise ConfigError("injection.pool is extra_signal but no extra_signal source is set")
        if self.n_workers < 0:
            raise ConfigError("n_workers must be >= 0 (0 = the CPUs allotted to this process)")
        self.feature_names()  # validates the feature set name

    def feature_names(self) -> tuple[str, ...]:
        """The feature columns, resolving a named set such as ``lhco4``."""
        if isinstance(self.features, str):
            if self.features not in FEATURE_SETS:
                raise ConfigError(
                    f"features {self.features!r}: name a set ({', '.join(FEATURE_SETS)}) "
                    "or give a list of column names"
                )
            return FEATURE_SETS[self.features]
        if len(self.features) == 0:
            raise ConfigError("features is an empty list")
        return tuple(self.features)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def _convert(value: Any, hint: Any, where: str) -> Any:
    """Convert a YAML value to the annotated type, recursing into dataclasses and tuples."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: invalid value {value!r}")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return build_dataclass(hint, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {list(value)}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {hint!r}")  # pragma: no cover


def build_dataclass(cls: Any, values: dict[str, Any], where: str = "") -> Any:
    """Build the (frozen) dataclass ``cls`` from a mapping, converting and checking every value;
    unknown keys and wrong types raise :class:`ConfigError` naming the key."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"allowed here: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = _convert(value, hints[name], f"{where}.{name}" if where else name)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``dotted.key=value``; the value is read as YAML (``3``, ``[1, 2]``, ``null``)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected dotted.key=value")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"--set {text!r}: empty key")
    return key.strip().split("."), yaml.safe_load(raw)


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``values`` with each ``dotted.key=value`` applied."""
    result = json.loads(json.dumps(values))
    for text in overrides:
        path, value = parse_override(text)
        set_dotted(result, path, value, f"--set {text!r}")
    return result


def set_dotted(values: dict[str, Any], path: list[str], value: Any, where: str) -> None:
    """Set ``values[path[0]][path[1]]... = value`` in place, creating missing mappings;
    ``where`` names the setting in the error raised when a step is not a mapping."""
    node = values
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: {part} is not a mapping")
        node = child
    node[path[-1]] = value


def _dataclass_of(hint: Any) -> Any:
    """The dataclass a field holds (``X`` or ``X | None``), else None."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    classes = [o for o in options if dataclasses.is_dataclass(o)]
    return classes[0] if classes else None


def check_field(dotted: str) -> None:
    """Raise :class:`ConfigError` unless ``dotted`` (e.g. ``injection.n_signal``) names a field
    of :class:`RunConfig`."""
    cls: Any = RunConfig
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        parent = ".".join(parts[:i])
        if cls is None:
            raise ConfigError(f"{dotted!r} is not a run config field: {parent} has no sub-fields")
        names = sorted(f.name for f in dataclasses.fields(cls))
        if part not in names:
            inside = f" in {parent}" if parent else ""
            raise ConfigError(f"{dotted!r} is not a run config field: no {part!r}{inside}; "
                              f"allowed there: {', '.join(names)}")  # fmt: skip
        cls = _dataclass_of(typing.get_type_hints(cls)[part])


def config_from_dict(values: dict[str, Any]) -> RunConfig:
    return build_dataclass(RunConfig, values)


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None
) -> RunConfig:
    """Read a YAML config (the built-in default when ``path`` is None) and apply overrides."""
    if path is None:
        text = default_config_path().read_text()
    else:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        text = path.read_text()
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return config_from_dict(apply_overrides(values, overrides or []))


def default_config_path() -> Path:
    return Path(__file__).parent / "configs" / "default.yaml"
