"""Calibrate the race model for one target race: nutpie (compiled once per process) or PyMC NUTS.

PyMC, PyTensor, nutpie and numba are imported inside the functions, never at module import, so
that ``configure_compile_cache`` can still set their environment after this module is imported.

nutpie's model is built by one of two backends ($NASCAR_DFS_NUTPIE_BACKEND, default ``auto``):
numba (core/model/compile_cache/: ~1 s when cached, but ~3 minutes of LLVM optimisation the first
time) or JAX (~10 s to compile, but each gradient ~2x dearer). ``auto`` takes numba when
its cache holds the model, else JAX for this fit while a detached process compiles the numba
model for the next ones (background_compile.py). Both sample the same posterior
(test_fit_backends.py); benchmarks/compile_options.py measures them side by side.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nascar_dfs.core.model.design import (
    Capacity,
    DesignIndex,
    HistoryLike,
    TrainingDesign,
    build_design,
    pace_draws,
)
from nascar_dfs.core.model.fitted import FitDiagnostics, FittedModel
from nascar_dfs.core.model.parameters import EFFECTS, HYPERPARAMETERS, OPTIONAL, Priors

if TYPE_CHECKING:
    import arviz as az

log = logging.getLogger(__name__)

Sampler = Literal["nutpie", "pymc"]


class FitError(RuntimeError):
    """The sampler's diagnostics broke a threshold; the message names every broken one."""

    def __init__(self, broken: list[str], diagnostics: FitDiagnostics) -> None:
        self.broken = broken
        self.diagnostics = diagnostics
        super().__init__(f"model fit rejected: {'; '.join(broken)}")


class CompileCacheError(RuntimeError):
    """PyTensor was imported before its compile cache could be configured."""


@dataclass(frozen=True)
class FitConfig:
    """Sampler settings, training window and the diagnostics a fit must meet."""

    chains: int = 2
    # 500 tuning draws: bulk ESS 465-547 over the hyperparameters on 3 targets of 2024 (1000: 438-696)
    tune: int = 500
    draws: int = 1000
    seed: int = 0
    cores: int = 2
    window_seasons: float = 3.0  # 3 x 36 most recent points races before the target
    half_life_seasons: float = 1.0  # a race one season (36 races) older weighs half as much
    max_divergences: int = 5
    max_rhat: float = 1.05  # over the hyperparameters
    min_ess_bulk: float = 200.0  # over the hyperparameters
    sampler: Sampler = "nutpie"
    retries: int = 1  # sample as many chains again when r_hat/ESS (not divergences) miss
    priors: Priors = field(default_factory=Priors)

    def __post_init__(self) -> None:
        if self.chains < 1 or self.draws < 1 or self.tune < 0 or self.cores < 1 or self.retries < 0:
            raise ValueError("chains, draws and cores must be >= 1, tune and retries >= 0")
        if self.sampler not in ("nutpie", "pymc"):
            raise ValueError(f"sampler must be 'nutpie' or 'pymc', got {self.sampler!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- compile cache -----------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """$NASCAR_DFS_CACHE_DIR/pytensor or ~/.cache/nascar-dfs/pytensor, plus a layout tag.

    The tag changes when the compile settings do: a cache filled with NUMBA_OPT=0 holds graph code
    ~37x slower per gradient (measured: 20.6 vs 0.56 ms), and numba would keep reusing it.
    """
    root = os.environ.get("NASCAR_DFS_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "nascar-dfs"
    return base / "pytensor" / _CACHE_LAYOUT


_CACHE_LAYOUT = "o3-graph"


def configure_compile_cache(base_dir: str | Path | None = None) -> Path:
    """Point PyTensor's on-disk compile cache (and its numba cache) at a persistent directory.

    Call it first thing in a process (CLI, Dagster op): pytensor reads the setting when imported.
    Raises ``CompileCacheError`` if pytensor is already imported with another cache dir.

    NUMBA_OPT is deliberately left alone (level 0 compiles faster): at level 0 numba also compiles the
    model's graph code, which then lands in the cache, and one gradient took 20.6 ms instead of
    0.56 ms. Level 0 only pays when the graph code is already cached at full optimisation.
    """
    base = Path(base_dir) if base_dir is not None else default_cache_dir()
    base = base.expanduser().resolve()
    if "pytensor" in sys.modules:
        current = Path(sys.modules["pytensor"].config.base_compiledir).expanduser().resolve()
        if current != base:
            raise CompileCacheError(
                f"pytensor was imported with base_compiledir={current}, not {base}; "
                "call configure_compile_cache() before anything imports pymc/pytensor"
            )
        return base
    base.mkdir(parents=True, exist_ok=True)
    flags = _parse_flags(os.environ.get("PYTENSOR_FLAGS", ""))
    flags["base_compiledir"] = str(base)
    os.environ["PYTENSOR_FLAGS"] = ",".join(f"{k}={v}" for k, v in flags.items())
    return base


def ensure_compile_cache() -> None:
    """Configure the persistent cache unless the process already chose one (or imported pytensor).

    A Dagster run worker (a run pod, ``dagster dev``) imports the model without having called
    ``configure_compile_cache``; without this its cache would be the default ``~/.pytensor``, lost
    with the pod, and every calibration would pay the cold compile.
    """
    if "pytensor" in sys.modules or "base_compiledir" in _parse_flags(os.environ.get("PYTENSOR_FLAGS", "")):
        return
    configure_compile_cache()


def import_fitting_stack() -> None:
    """Import PyMC (with PyTensor, ArviZ, SciPy) and nutpie with the cyclic garbage collector paused,
    then freeze what is loaded, in a process that has not imported them yet.

    Their ~250k long-lived objects set off full collections during the import that find next to
    nothing (0.6-0.7 s of its ~2.4 s on 2 cores), and the interpreter's exit walks them all once
    more (~0.7 s): together ~1.3 s of a warm calibration in a fresh process (benchmarks/refit.py).
    Frozen objects are left out of every later collection, which suits module state that lives as
    long as the process; what is allocated afterwards is collected as usual.
    """
    if "pymc" in sys.modules:
        return
    ensure_compile_cache()
    enabled = gc.isenabled()
    gc.disable()
    try:
        import pymc  # noqa: F401

        with contextlib.suppress(ImportError):  # without nutpie the fit falls back to PyMC's NUTS
            import nutpie  # noqa: F401
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def _parse_flags(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    return {k.strip(): v.strip() for k, v in (p if len(p) == 2 else (p[0], "") for p in pairs)}


# compiled nutpie models of this process, by (capacity, priors): refits swap the data in
_COMPILED: dict[tuple[Capacity, Priors], Any] = {}
# JAX models of this process, used (in auto) until the numba model is in the cache
_COMPILED_JAX: dict[tuple[Capacity, Priors], Any] = {}


# --- fitting -----------------------------------------------------------------------------------


def fit_model(history: HistoryLike, race_id: str, config: FitConfig | None = None) -> FittedModel:
    """Fit the race model on the points races before ``race_id`` and check its diagnostics.

    Raises ``FitError`` (naming the thresholds) rather than returning a model that did not converge.
    """
    config = config or FitConfig()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    design = build_design(history, race_id, config.window_seasons, config.half_life_seasons)
    capacity = design.capacity()
    timings["design"] = time.perf_counter() - started

    # The dominance estimate does not depend on the draws: it runs on a spare core meanwhile (the
    # compile and the Python parts of sampling leave one idle) instead of after the sampler.
    pool = ThreadPoolExecutor(max_workers=1)
    dominance_future = pool.submit(_dominance, history, race_id)
    pool.shutdown(wait=False)  # the one task still runs; the thread ends with it
    run: _SamplerRun | None = None
    for attempt in range(config.retries + 1):
        # A slow-mixing scale usually passes with more draws: a retry samples as many chains again
        # (the next seed, the compiled model reused) and pools them with the earlier ones (or replaces
        # them: _pool_or_replace), which costs one more run of tune + draws instead of tune + twice
        # the draws from scratch.
        more = _sample(design, capacity, replace(config, seed=config.seed + attempt), timings)
        if run is None:
            run = more
            diagnostics = _diagnose(run, design, timings, attempt)
        else:
            run, diagnostics = _pool_or_replace(run, more, design, config, timings, attempt)
        broken = _broken_thresholds(diagnostics, config)
        if not broken:
            break
        if diagnostics.divergences > config.max_divergences:
            break  # more draws do not cure divergences
    assert run is not None  # retries >= 0: the loop ran
    if broken:
        raise FitError(broken, diagnostics)

    started = time.perf_counter()
    draws = _posterior_draws(run.idata, design.index)
    if "pace_coef" in draws:
        draws.update(pace_draws(design, len(draws["pace_coef"])))
    dominance = dominance_future.result()
    timings["finalize"] = time.perf_counter() - started
    return FittedModel(
        race_id=race_id,
        track_type=design.target_track_type,
        index=design.index,
        draws=draws,
        diagnostics=diagnostics,
        config=config.to_dict(),
        dominance=dominance,
        likelihood=config.priors.likelihood,
    )


def _pool_or_replace(
    run: _SamplerRun,
    more: _SamplerRun,
    design: TrainingDesign,
    config: FitConfig,
    timings: dict[str, float],
    attempt: int,
) -> tuple[_SamplerRun, FitDiagnostics]:
    """The earlier chains pooled with the retry's, unless that pool misses the thresholds and the
    retry's chains alone meet them: a chain stuck in the earlier sample (2024-cup-las-vegas-2: bulk
    ESS 6 on sd_team in one chain) drags any pool it is in below the threshold."""
    pooled = run.pooled_with(more)
    diagnostics = _diagnose(pooled, design, timings, attempt)
    if _broken_thresholds(diagnostics, config):
        alone = _diagnose(more, design, timings, attempt)
        if not _broken_thresholds(alone, config):
            return more, alone
    return pooled, diagnostics


def _add_time(timings: dict[str, float], phase: str, started: float) -> None:
    """Accumulate (a retry samples again) the seconds since ``started`` under ``phase``."""
    timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - started


def _diagnose(
    run: _SamplerRun, design: TrainingDesign, timings: dict[str, float], retries: int
) -> FitDiagnostics:
    started = time.perf_counter()
    divergences, (max_rhat, rhat_name), (min_ess, ess_name), tree_size = _convergence(run.idata)
    _add_time(timings, "diagnostics", started)
    sizes = run.idata.posterior.sizes
    return FitDiagnostics(
        sampler=run.sampler,
        chains=int(sizes["chain"]),
        draws=int(sizes["draw"]),
        divergences=divergences,
        max_rhat=max_rhat,
        min_ess_bulk=min_ess,
        n_races=design.n_races,
        n_drivers=len(design.index.drivers),
        mean_tree_size=tree_size,
        worst_rhat_parameter=rhat_name,
        worst_ess_parameter=ess_name,
        timings=timings,
        compile_cached=run.compile_cached,
        fallback_reason=run.fallback_reason,
        retries=retries,
    )


@dataclass
class _SamplerRun:
    idata: az.InferenceData
    sampler: str
    compile_cached: bool = False
    fallback_reason: str | None = None

    def pooled_with(self, more: _SamplerRun) -> _SamplerRun:
        """These chains and ``more``'s as one sample; ``more`` alone if another sampler drew it (a
        fallback to PyMC mid-fit: their sample stats differ)."""
        if more.sampler != self.sampler:
            return more
        import arviz as az

        return replace(self, idata=az.concat(self.idata, more.idata, dim="chain"))


def _sample(
    design: TrainingDesign, capacity: Capacity, config: FitConfig, timings: dict[str, float]
) -> _SamplerRun:
    import_fitting_stack()
    fallback_reason = None
    if config.sampler == "nutpie":
        try:
            compiled = _compiled_nutpie(design, capacity, config.priors, timings)
        except Exception as exc:  # any import/compile failure: PyMC's NUTS still gives a valid fit
            fallback_reason = f"nutpie unavailable: {type(exc).__name__}: {exc}"
            log.warning("%s; falling back to PyMC NUTS", fallback_reason)
        else:
            started = time.perf_counter()
            idata = _run_nutpie(compiled.model, config)
            _add_time(timings, "sample", started)
            if compiled.fill_numba_cache:
                # after sampling, whose cores the compile would otherwise take (measured at load ~15,
                # both niced: the JAX fit 48 s alone, 83 s beside the compile)
                _start_background_compile(design, capacity, config.priors)
            return _SamplerRun(idata, "nutpie", compile_cached=compiled.reused)
    idata = _run_pymc(design, capacity, config, timings)
    return _SamplerRun(idata, "pymc", fallback_reason=fallback_reason)


@dataclass(frozen=True)
class _NutpieModel:
    model: Any
    reused: bool  # taken from this process's or the disk cache, not compiled by this fit
    fill_numba_cache: bool  # auto sampled JAX: the numba model to compile in the background


def _compiled_nutpie(
    design: TrainingDesign, capacity: Capacity, priors: Priors, timings: dict[str, float]
) -> _NutpieModel:
    key = (capacity, priors)
    data = design.padded(capacity).data_arrays()
    backend = nutpie_backend()
    if key in _COMPILED and backend != "jax":
        started = time.perf_counter()
        compiled = _with_data(_COMPILED[key], data)
        _add_time(timings, "build", time.perf_counter())
        _add_time(timings, "compile", started)
        return _NutpieModel(compiled, reused=True, fill_numba_cache=False)
    from nascar_dfs.core.model.plackett_luce import build_model

    started = time.perf_counter()
    model = build_model(design, capacity, priors)
    _add_time(timings, "build", started)
    started = time.perf_counter()
    compiled = None if backend == "jax" else _compile_numba(model, compile_on_miss=backend == "numba")
    reused = fill = False
    if compiled is not None:
        _COMPILED[key] = compiled
    elif key in _COMPILED_JAX:  # the numba model not (yet, in auto) cached: this process's JAX model
        compiled = _with_data(_COMPILED_JAX[key], data)
        reused = True
    else:
        # the numba model is not cached: JAX's compile (~10 s, not ~3 min) for this fit, and the
        # numba one compiled by a background process for the fits after it
        try:
            compiled = _COMPILED_JAX[key] = _compile_nutpie_jax(model)
        except Exception as exc:  # a jax/pytensor mismatch: auto still has the numba compile
            if backend != "auto":
                raise
            log.warning("JAX compile failed (%s: %s); compiling the numba model", type(exc).__name__, exc)
            compiled = _COMPILED[key] = _compile_numba(model, compile_on_miss=True)
        else:
            fill = backend == "auto"
    _add_time(timings, "compile", started)
    return _NutpieModel(compiled, reused=reused, fill_numba_cache=fill)


def _start_background_compile(design: TrainingDesign, capacity: Capacity, priors: Priors) -> None:
    import pytensor

    from nascar_dfs.core.model.background_compile import fill_numba_cache

    fill_numba_cache(Path(pytensor.config.base_compiledir), design, capacity, priors)


NutpieBackend = Literal["auto", "numba", "jax"]


def nutpie_backend() -> NutpieBackend:
    """$NASCAR_DFS_NUTPIE_BACKEND: ``auto`` (default: numba when cached or jax missing, else jax)."""
    value = os.environ.get("NASCAR_DFS_NUTPIE_BACKEND", "auto")
    if value not in ("auto", "numba", "jax"):
        raise ValueError(f"NASCAR_DFS_NUTPIE_BACKEND must be auto, numba or jax, got {value!r}")
    if value == "auto" and importlib.util.find_spec("jax") is None:
        return "numba"
    return value  # type: ignore[return-value]


def _compile_numba(model: Any, compile_on_miss: bool) -> Any:
    """The numba model from the compile cache (compiled and stored on a miss if asked), or None."""
    from nascar_dfs.core.model.compile_cache import compile_nutpie_cached, fast_nutpie_compile

    try:
        compiled, from_disk = compile_nutpie_cached(model, compile_on_miss=compile_on_miss)
    except Exception as exc:  # an unexpected graph or a nutpie/numba upgrade: nutpie's own compile
        if not compile_on_miss:
            log.warning("cached nutpie compile unavailable (%s: %s); using JAX", type(exc).__name__, exc)
            return None
        log.warning("cached nutpie compile unavailable (%s: %s); compiling afresh", type(exc).__name__, exc)
        import nutpie

        with fast_nutpie_compile():
            return nutpie.compile_pymc_model(model, backend="numba")
    if compiled is not None:
        log.info("nutpie model %s", "loaded from the compile cache" if from_disk else "compiled and cached")
    return compiled


def _with_data(compiled: Any, data: dict[str, Any]) -> Any:
    """The compiled model on this race's data; arrays the graph does not read (loop data) are not
    inputs. nutpie's numba model and its Python-function (JAX) model name their inputs differently."""
    shared = getattr(compiled, "shared_data", None)
    known = set(shared if shared is not None else compiled._shared_data)
    return compiled.with_data(**{k: v for k, v in data.items() if k in known})


_ONE_XLA_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _compile_nutpie_jax(model: Any) -> Any:
    """nutpie's JAX backend, XLA's machine code kept in JAX's persistent compilation cache."""
    if "jax" not in sys.modules:
        # one XLA thread per call: nutpie's chains already run in parallel, one thread each (on 2
        # cores, 0.42 ms per gradient instead of 0.67 at load 6)
        os.environ.setdefault("XLA_FLAGS", _ONE_XLA_THREAD)
    import jax
    import nutpie
    import pytensor

    from nascar_dfs.core.model.pl_op import register_jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_compilation_cache_dir", str(Path(pytensor.config.base_compiledir) / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    register_jax()
    # static shapes, not frozen values: the data stay inputs of the XLA program (one program per
    # capacity, so another race of the same capacity hits the cache), but JAX needs every shape known
    return nutpie.compile_pymc_model(
        _static_data_shapes(model), backend="jax", gradient_backend="pytensor", freeze_model=False
    )


def _static_data_shapes(model: Any) -> Any:
    """The model with each pm.Data a shared variable of its value's (static) shape."""
    import pytensor
    from pymc.model.fgraph import fgraph_from_model, model_from_fgraph
    from pytensor.compile import SharedVariable

    fgraph, memo = fgraph_from_model(model)
    replacements = {}
    for datum in model.data_vars:
        if isinstance(datum, SharedVariable):
            value = datum.get_value()
            shared = pytensor.shared(value, name=datum.name, shape=value.shape)
            replacements[memo[datum].owner.inputs[0]] = shared
    fgraph.replace_all(list(replacements.items()), import_missing=True)
    return model_from_fgraph(fgraph, mutate_fgraph=True)


def _run_nutpie(compiled: Any, config: FitConfig) -> az.InferenceData:
    import nutpie

    return nutpie.sample(
        compiled,
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        cores=min(config.cores, config.chains),
        seed=config.seed,
        progress_bar=False,
    )


def _run_pymc(
    design: TrainingDesign, capacity: Capacity, config: FitConfig, timings: dict[str, float]
) -> az.InferenceData:
    import pymc as pm

    from nascar_dfs.core.model.plackett_luce import build_model

    started = time.perf_counter()
    model = build_model(design, capacity, config.priors)
    _add_time(timings, "build", started)
    _add_time(timings, "compile", time.perf_counter())  # PyMC compiles inside pm.sample
    started = time.perf_counter()
    with model:
        idata = pm.sample(
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            cores=min(config.cores, config.chains),
            random_seed=config.seed,
            progressbar=False,
            compute_convergence_checks=False,
        )
    _add_time(timings, "sample", started)
    return idata


def _convergence(idata: az.InferenceData) -> tuple[int, tuple[float, str], tuple[float, str], float]:
    """Divergent transitions, worst r_hat and bulk ESS over the hyperparameters, mean tree size."""
    import arviz as az

    names = [v for v in HYPERPARAMETERS if v in idata.posterior or v not in OPTIONAL]
    posterior = idata.posterior[names]
    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    rhat = az.rhat(posterior)
    ess = az.ess(posterior, method="bulk")
    # NaN (one chain) must win the max so the threshold check sees it
    max_rhat = max(((float(np.max(rhat[v].values)), v) for v in names), key=_nan_first)
    min_ess = min((float(np.min(ess[v].values)), v) for v in names)
    stats = idata.sample_stats
    steps = stats["n_steps"] if "n_steps" in stats else stats["tree_size"]
    return divergences, max_rhat, min_ess, float(np.asarray(steps).mean())


def _nan_first(item: tuple[float, str]) -> float:
    return np.inf if np.isnan(item[0]) else item[0]


def _broken_thresholds(diag: FitDiagnostics, config: FitConfig) -> list[str]:
    broken = []
    if diag.divergences > config.max_divergences:
        broken.append(f"max_divergences: {diag.divergences} divergent transitions > {config.max_divergences}")
    if not diag.max_rhat <= config.max_rhat:  # NaN (e.g. one chain) counts as broken
        worst = diag.worst_rhat_parameter
        broken.append(f"max_rhat: r_hat {diag.max_rhat:.3f} ({worst}) > {config.max_rhat}")
    if not diag.min_ess_bulk >= config.min_ess_bulk:
        worst = diag.worst_ess_parameter
        broken.append(f"min_ess_bulk: bulk ESS {diag.min_ess_bulk:.0f} ({worst}) < {config.min_ess_bulk:g}")
    return broken


def _posterior_draws(idata: az.InferenceData, index: DesignIndex) -> dict[str, np.ndarray]:
    """Draws of every effect, chains flattened, padding trimmed, as float32."""
    sizes = {
        "drivers": len(index.drivers),
        "teams": len(index.teams),
        "manufacturers": len(index.manufacturers),
        "track_types": len(index.track_types),
    }
    draws = {}
    for name, axes in EFFECTS.items():
        if name in OPTIONAL and name not in idata.posterior:
            continue
        values = np.asarray(idata.posterior[name].values)
        values = values.reshape((-1, *values.shape[2:]))
        trim = (slice(None), *(slice(0, sizes[a]) for a in axes))
        draws[name] = np.ascontiguousarray(values[trim], dtype=np.float32)
    return draws


def _dominance(history: HistoryLike, race_id: str) -> dict[str, Any]:
    from nascar_dfs.core.scenarios.dominance import estimate_dominance

    return estimate_dominance(history, race_id).to_dict()
