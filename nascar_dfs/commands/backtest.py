"""`nascar-dfs backtest`: walk-forward backtest of the race model against the naive baseline."""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nascar_dfs.cli import CliError

if TYPE_CHECKING:
    from nascar_dfs.core.evaluation.backtest import BacktestReport, Summary

HELP = (
    "Refit the model before every points race of a season, simulate each race and score model and "
    "naive baseline (CRPS of finish and DK points, 80%% coverage, PIT); prints one JSON document with --json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, type=Path, help="folder in the shared data layout")
    parser.add_argument("--season", required=True, type=int, help="season to backtest; earlier ones train")
    parser.add_argument("--last", type=int, default=None, help="only the season's last N races")
    parser.add_argument("--scenarios", type=int, default=2000, help="simulated races per race (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="race k is simulated with seed + k")
    parser.add_argument("--tune", type=int, default=None, help="sampler tuning steps per chain")
    parser.add_argument("--draws", type=int, default=None, help="posterior draws per chain")
    parser.add_argument(
        "--refit-every",
        type=int,
        default=1,
        help="refit before every k-th race only (default 1: before every race); cheaper, staler",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="rewrite this JSON file with the races done so far after every race (long runs)",
    )


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The backtest's progress callback hands over one line per race, "[k/N] race ...", failed or scored
# (nascar_dfs/core/evaluation/backtest.py); the count in it is all an estimate needs.
_RACE_COUNT = re.compile(r"^\[(\d+)/(\d+)\]")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class RaceProgress:
    """Per-race progress on stderr with the time elapsed and an estimate of the time left: the mean
    time per race so far times the races still to go (races cost alike: one fit and one simulation
    each). stdout stays for the report, so `--json` output is one clean document."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()

    def __call__(self, message: str) -> None:
        found = _RACE_COUNT.match(message)
        if found is None:
            _progress(message)
            return
        done, total = int(found.group(1)), int(found.group(2))
        elapsed = self._clock() - self._started
        left = elapsed / done * (total - done) if done else 0.0
        estimate = "done" if done >= total else f"about {_duration(left)} left"
        _progress(f"{message} | elapsed {_duration(elapsed)}, {estimate}")


def _checkpoint_writer(path: Path) -> Callable[[BacktestReport], None]:
    def write(report: BacktestReport) -> None:
        # write-then-rename, so a reader never sees half a document
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(report.to_json(), encoding="utf-8")
        partial.replace(path)

    return write


def _fit_config(args: argparse.Namespace) -> Any:
    from nascar_dfs.core.model.fit import FitConfig

    overrides = {k: getattr(args, k) for k in ("tune", "draws") if getattr(args, k) is not None}
    return FitConfig(**overrides) if overrides else None


def run(args: argparse.Namespace) -> int:
    if not args.data_dir.is_dir():
        raise CliError(f"data folder {args.data_dir} does not exist")
    if args.last is not None and args.last < 1:
        raise CliError(f"--last must be at least 1, got {args.last}")
    if args.checkpoint is not None and not args.checkpoint.parent.is_dir():
        raise CliError(f"checkpoint folder {args.checkpoint.parent} does not exist")
    if args.refit_every < 1:
        raise CliError(f"--refit-every must be at least 1, got {args.refit_every}")
    if args.scenarios < 2:
        raise CliError(f"--scenarios must be at least 2, got {args.scenarios}")

    # None of these import pytensor: the compile cache is configured below, before the model is.
    from nascar_dfs.core.data.errors import DataValidationError
    from nascar_dfs.core.data.history import load_history
    from nascar_dfs.core.evaluation.backtest import ForecastFailed, run_backtest, season_races

    try:
        history = load_history(args.data_dir)
    except (DataValidationError, FileNotFoundError) as exc:
        raise CliError(f"cannot read {args.data_dir}: {exc}") from exc
    try:
        races = season_races(history, args.season, args.last)
    except ValueError as exc:
        raise CliError(str(exc)) from exc

    # PyTensor reads its cache location when first imported, so this comes before any model import.
    from nascar_dfs.core.model.fit import configure_compile_cache

    configure_compile_cache()
    # nutpie's wrapper functions cannot be disk-cached and numba says so once per function and
    # race; the warnings drown the progress lines without telling the user anything actionable.
    warnings.filterwarnings("ignore", message=".*Cannot cache compiled function")
    _progress(f"backtesting {len(races)} races of {args.season} with {args.scenarios} scenarios each")
    progress = RaceProgress()
    try:
        report = run_backtest(
            history,
            args.season,
            last=args.last,
            scenarios=args.scenarios,
            fit_config=_fit_config(args),
            seed=args.seed,
            progress=progress,
            refit_every=args.refit_every,
            checkpoint=None if args.checkpoint is None else _checkpoint_writer(args.checkpoint),
        )
    except ForecastFailed as exc:
        raise CliError(f"no race could be fitted: {exc}") from exc
    print(report.to_json() if args.json else render_table(report))
    if report.failed:
        _progress(f"{len(report.failed)} race(s) could not be fitted: see 'failed' in the report")
        return 1
    return 0


def _summary_line(label: str, s: Summary) -> str:
    return (
        f"{label:<16} {s.races:>5} {s.model_finish_crps:>8.3f} {s.baseline_finish_crps:>8.3f} "
        f"{100 * s.finish_improvement:>7.1f}% {s.model_dk_crps:>8.3f} {s.baseline_dk_crps:>8.3f} "
        f"{100 * s.dk_improvement:>7.1f}% {100 * s.model_dk_coverage:>6.1f}% "
        f"{100 * s.baseline_dk_coverage:>6.1f}%"
    )


def _candidate_rows(o: Summary) -> dict[str, tuple[float, float, float, float, float]]:
    """Finish, its improvement on the 12-race replay, DK, its improvement, DK cov80 per forecast."""
    return {
        "model": (
            o.model_finish_crps,
            o.finish_improvement,
            o.model_dk_crps,
            o.dk_improvement,
            o.model_dk_coverage,
        ),
        "ranked replay": (
            o.replay_finish_crps,
            o.replay_finish_improvement,
            o.replay_dk_crps,
            o.replay_dk_improvement,
            o.replay_dk_coverage,
        ),
        "chosen (per track type)": (
            o.chosen_finish_crps,
            o.chosen_finish_improvement,
            o.chosen_dk_crps,
            o.chosen_dk_improvement,
            o.chosen_dk_coverage,
        ),
        "12-race replay (base)": (
            o.baseline_finish_crps,
            0.0,
            o.baseline_dk_crps,
            0.0,
            o.baseline_dk_coverage,
        ),
    }


def render_table(report: BacktestReport) -> str:
    """Readable summary: one line per race, per track type and overall."""
    lines = [
        f"{'race':<28} {'type':<14} {'fin m':>7} {'fin b':>7} {'dk m':>7} {'dk b':>7} "
        f"{'cov80':>6} {'fit s':>6}"
    ]
    for r in report.races:
        lines.append(
            f"{r.race_id:<28} {r.track_type:<14} {r.model_finish_crps:>7.2f} {r.baseline_finish_crps:>7.2f} "
            f"{r.model_dk_crps:>7.2f} {r.baseline_dk_crps:>7.2f} {100 * r.model_dk_coverage:>5.0f}% "
            f"{r.fit_seconds:>6.1f}"
        )
    lines.append("")
    lines.append(
        f"{'':<16} {'races':>5} {'fin m':>8} {'fin b':>8} {'improve':>8} {'dk m':>8} {'dk b':>8} "
        f"{'improve':>8} {'cov m':>7} {'cov b':>7}"
    )
    for track_type, summary in report.by_track_type.items():
        lines.append(_summary_line(track_type, summary))
    lines.append(_summary_line("overall", report.overall))
    o = report.overall
    lines.append("")
    lines.append(
        "model finish PIT deciles: " + " ".join(f"{v:.3f}" for v in o.model_finish_pit_deciles or [])
    )
    lines.append("model DK PIT deciles: " + " ".join(f"{v:.3f}" for v in o.model_dk_pit_deciles or []))
    lines.append(
        f"smoothed replay: finish {o.smoothed_finish_crps:.3f} "
        f"(model {100 * o.finish_improvement_vs_smoothed:.1f}% better), DK {o.smoothed_dk_crps:.3f} "
        f"({100 * o.dk_improvement_vs_smoothed:.1f}%), "
        f"DK cov80 {o.smoothed_dk_coverage:.3f}"
    )
    lines.append(
        f"laps led CRPS: model {o.model_laps_led_crps:.3f} vs replay {o.baseline_laps_led_crps:.3f} "
        f"({100 * o.laps_led_improvement:.1f}%); fastest laps: {o.model_fastest_laps_crps:.3f} vs "
        f"{o.baseline_fastest_laps_crps:.3f} ({100 * o.fastest_laps_improvement:.1f}%)"
    )
    lines.append(
        "classic CRPS estimator (context, not the targets): "
        f"finish {100 * o.finish_improvement_classic:.1f}%, DK {100 * o.dk_improvement_classic:.1f}%"
    )
    lines.append(
        f"fit time: {o.total_fit_seconds:.1f} s total, {o.mean_fit_seconds:.1f} s per race; "
        f"wall {report.wall_seconds:.1f} s"
    )
    lines.append("")
    lines.append(
        f"{'forecast (fair CRPS)':<24} {'finish':>8} {'vs base':>8} {'DK':>8} {'vs base':>8} {'cov80':>7}"
    )
    for label, (fin, fin_i, dk, dk_i, cov) in _candidate_rows(o).items():
        lines.append(
            f"{label:<24} {fin:>8.3f} {100 * fin_i:>7.1f}% {dk:>8.3f} {100 * dk_i:>7.1f}% {cov:>7.3f}"
        )
    for track_type, summary in report.by_track_type.items():
        lines.append(
            f"chosen on {track_type:<14} finish {100 * summary.chosen_finish_improvement:>5.1f}%, "
            f"DK {100 * summary.chosen_dk_improvement:>5.1f}%, chosen "
            + ", ".join(f"{name} {count}" for name, count in summary.chosen_counts.items())
        )
    lines.append(
        "chosen finish PIT deciles: " + " ".join(f"{v:.3f}" for v in o.chosen_finish_pit_deciles or [])
    )
    lines.append("chosen DK PIT deciles: " + " ".join(f"{v:.3f}" for v in o.chosen_dk_pit_deciles or []))
    verdicts = {k: "met" if v else "MISSED" for k, v in report.targets.items() if k.endswith("_met")}
    lines.append(
        f"targets: finish {verdicts['finish_improvement_met']} | DK {verdicts['dk_improvement_met']} "
        f"| coverage {verdicts['dk_coverage_met']} | PIT deciles {verdicts['pit_deciles_met']}"
    )
    lines.append(
        f"chosen targets: finish {verdicts['chosen_finish_improvement_met']} | DK "
        f"{verdicts['chosen_dk_improvement_met']} | coverage {verdicts['chosen_dk_coverage_met']} "
        f"| PIT deciles {verdicts['chosen_pit_deciles_met']}"
    )
    for failure in report.failed:
        lines.append(f"FAILED {failure['race_id']}: {failure['reason']}")
    return "\n".join(lines)
