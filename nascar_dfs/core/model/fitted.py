"""A calibrated race model: posterior draws + index, saved/loaded atomically, evaluated for a field."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nascar_dfs.core.field import Field
from nascar_dfs.core.model.design import DesignIndex, standardize_starts
from nascar_dfs.core.model.parameters import LIKELIHOODS
from nascar_dfs.core.model.types import FieldParams

_DRAWS_FILE = "draws.npz"
_META_FILE = "model.json"
# 2: draws may hold "pace_coef" (draw, track type) and "recent_pace" (draw, driver; the drivers'
# recent pace before the target, the same in every row), whose product field_params adds to the
# log-worth; a version-1 directory (no pace) still loads and evaluates as before.
# 3: the finishing-order likelihood is recorded ("likelihood": "reverse" or "forward") and joins the
# content version, so a reverse-PL fit never passes for a forward one; formats 1-2 are forward.
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)


@dataclass(frozen=True)
class FitDiagnostics:
    """How the sampler did, and where the time went (seconds)."""

    sampler: str  # "nutpie" or "pymc"
    chains: int
    draws: int
    divergences: int
    max_rhat: float  # over the hyperparameters
    min_ess_bulk: float  # over the hyperparameters
    n_races: int
    n_drivers: int
    mean_tree_size: float  # leapfrog steps per draw: how hard the posterior is to explore
    worst_rhat_parameter: str = ""
    worst_ess_parameter: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # build/compile/sample/diagnostics
    compile_cached: bool = False  # True when an in-process compiled model was reused
    fallback_reason: str | None = None  # why nutpie was not used, when it was asked for
    retries: int = 0  # times as many chains were sampled again (pooled, or replacing the earlier)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitDiagnostics:
        return cls(**data)


@dataclass(frozen=True)
class FittedModel:
    """Posterior of the race model trained for one target race.

    ``draws`` maps a quantity of ``plackett_luce.EFFECTS`` to a float32 array whose first axis is the
    posterior draw (chains flattened) and whose other axes follow ``index``.
    """

    race_id: str
    track_type: str
    index: DesignIndex
    draws: dict[str, np.ndarray]
    diagnostics: FitDiagnostics
    config: dict[str, Any]
    dominance: dict[str, Any]
    version: str = ""
    likelihood: str = "forward"  # finishing-order likelihood of the fit (Priors.likelihood)

    def __post_init__(self) -> None:
        if self.track_type not in self.index.track_types:
            raise ValueError(f"unknown track type {self.track_type!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {self.likelihood!r}; expected one of {LIKELIHOODS}")
        sizes = {len(a) for a in self.draws.values()}
        if len(sizes) != 1:
            raise ValueError("every posterior quantity must have the same number of draws")
        computed = content_version(self.draws, self.index, self.likelihood)
        if self.version and self.version != computed:
            raise ValueError(f"model content does not match its version {self.version} (got {computed})")
        object.__setattr__(self, "version", computed)

    @property
    def n_draws(self) -> int:
        return len(next(iter(self.draws.values())))

    # --- evaluation -------------------------------------------------------------------------

    def field_params(self, field: Field, n_draws: int | None = None, seed: int = 0) -> FieldParams:
        """Per-draw log-worth and DNF probability of the field's drivers at its track type and starts.

        Drivers, teams the model never saw get population draws (normal with the sampled scale); an
        unseen manufacturer gets 0. Same model, field, n_draws and seed -> same arrays.
        """
        if field.track_type not in self.index.track_types:
            raise ValueError(f"field track type {field.track_type!r} is not one of {self.index.track_types}")
        rng = np.random.default_rng(seed)
        rows = self._draw_rows(n_draws, rng)
        t = self.index.track_types.index(field.track_type)
        d = _codes(field.drivers, self.index.drivers)
        tm = _codes(field.teams, self.index.teams)
        mk = _codes(field.manufacturers, self.index.manufacturers)
        g = self.draws
        skill = self._known_or_population(g["skill"][rows], d, g["sd_skill"][rows], rng)
        driver_track = self._known_or_population(
            g["driver_track"][rows, :, t], d, g["sd_driver_track"][rows], rng
        )
        team = self._known_or_population(g["team_effect"][rows], tm, g["sd_team"][rows], rng)
        make = np.where(mk >= 0, g["make_track"][rows, :, t][:, np.maximum(mk, 0)], 0.0)
        log_worth = skill + driver_track + team + make
        start_slope = None
        if field.starts is None:  # unknown grid: the kernel simulates it and adds the start term
            start_slope = g["start_slope"][rows][:, t].astype(np.float64)
        else:
            log_worth = log_worth + g["start_slope"][rows][:, [t]] * standardize_starts(
                field.starts, field.size
            )
        if "pace_coef" in g:  # an unseen driver has no recent pace: the population's, 0
            pace = np.where(d >= 0, g["recent_pace"][rows][:, np.maximum(d, 0)], 0.0)
            log_worth = log_worth + g["pace_coef"][rows][:, [t]] * pace
        dnf_driver = self._known_or_population(g["dnf_driver"][rows], d, g["sd_dnf_driver"][rows], rng)
        dnf_prob = 1.0 / (1.0 + np.exp(-(g["dnf_rate"][rows][:, [t]] + dnf_driver)))
        return FieldParams(
            log_worth=log_worth.astype(np.float64),
            dnf_prob=dnf_prob.astype(np.float64),
            start_slope=start_slope,
            likelihood=self.likelihood,
        )

    def _draw_rows(self, n_draws: int | None, rng: np.random.Generator) -> np.ndarray:
        total = self.n_draws
        if n_draws is None:
            return np.arange(total)
        if n_draws <= 0:
            raise ValueError(f"n_draws must be positive, got {n_draws}")
        return np.sort(rng.choice(total, size=n_draws, replace=n_draws > total))

    @staticmethod
    def _known_or_population(
        effect: np.ndarray, codes: np.ndarray, scale: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """(S, n) effect of each code; code -1 (unseen) draws from N(0, scale) per posterior draw."""
        known = effect[:, np.maximum(codes, 0)]
        fresh = rng.standard_normal(known.shape) * scale[:, None]
        return np.where(codes >= 0, known, fresh)

    # --- persistence ------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model as a directory (draws.npz + model.json), replacing any old one atomically."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            np.savez(staging / _DRAWS_FILE, **self.draws)
            (staging / _META_FILE).write_text(json.dumps(self._meta(), indent=2, sort_keys=True))
            _swap_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | Path) -> FittedModel:
        """Read a model written by ``save``; raises if files are missing or the content hash is off."""
        source = Path(path)
        meta_path, draws_path = source / _META_FILE, source / _DRAWS_FILE
        if not meta_path.is_file() or not draws_path.is_file():
            raise FileNotFoundError(f"{source} is not a saved model (needs {_META_FILE} and {_DRAWS_FILE})")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") not in READABLE_FORMATS:
            raise ValueError(f"{source}: unsupported model format {meta.get('format')!r}")
        with np.load(draws_path) as npz:
            draws = {name: npz[name] for name in npz.files}
        return cls(
            race_id=meta["race_id"],
            track_type=meta["track_type"],
            index=DesignIndex(**{k: tuple(v) for k, v in meta["index"].items()}),
            draws=draws,
            diagnostics=FitDiagnostics.from_dict(meta["diagnostics"]),
            config=meta["config"],
            dominance=meta["dominance"],
            version=meta["version"],
            likelihood=meta.get("likelihood", "forward"),
        )

    def _meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "race_id": self.race_id,
            "track_type": self.track_type,
            "index": {k: list(v) for k, v in asdict(self.index).items()},
            "diagnostics": self.diagnostics.to_dict(),
            "config": self.config,
            "dominance": self.dominance,
            "version": self.version,
            "likelihood": self.likelihood,
        }


def content_version(draws: dict[str, np.ndarray], index: DesignIndex, likelihood: str = "forward") -> str:
    """Short sha256 of the draws, the index and the likelihood: equal models, equal versions.

    A forward fit hashes as before format 3, so stored forward models keep their versions.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(asdict(index), sort_keys=True).encode())
    if likelihood != "forward":
        digest.update(f"likelihood={likelihood}".encode())
    for name in sorted(draws):
        array = np.ascontiguousarray(draws[name], dtype=np.float32)
        digest.update(name.encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _codes(names: tuple[str, ...], known: tuple[str, ...]) -> np.ndarray:
    lookup = {name: i for i, name in enumerate(known)}
    return np.array([lookup.get(n, -1) for n in names], dtype=np.int64)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an existing target is moved aside first, then deleted."""
    if not target.exists():
        os.replace(staging, target)
        return
    if not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a model directory")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
