"""Is a race outcome (real or simulated) possible? Vectorized checks over (races x drivers) arrays.

Classification rule, checked against every 2015-2024 Cup points race in cup_results.csv: the official
order is non-increasing in laps completed (cars on the same lap keep their crossing order, running or
not), except that post-race disqualifications and penalties send up to two cars to the very rear with
more laps than the car ahead (2022 Pocono: two DQs; 2019 Richmond, 2020 Charlotte, 2021 Daytona road,
2021 Nashville, 2022 Martinsville, 2023 Talladega, 2024 Roval, 2024 COTA: one). So "DNFs classified
behind the running cars" is not the real rule: a running car many laps down ranks behind a car that
crashed late. Simulated races are stricter: every running car completes the distance, so running cars
precede all DNFs and no car is demoted.

Laps led and fastest laps never exceed a driver's laps completed in the real data. The laps-led total
equals the race's laps except for data slips: 2023 Atlanta (fall) and 2024 Sonoma record one lap too many
and a few races fewer (2018 Dover fall: 365 of 404). Real outcomes may therefore lead up to race laps + 1;
simulated ones lead exactly the race's laps and their fastest laps add up exactly to their green laps.
"""

from __future__ import annotations

import numpy as np

from nascar_dfs.core.scenarios.types import ScenarioSet

MAX_DEMOTED = 2  # cars moved to the rear after the race (DQs) in one real race, at most
LED_SLACK = 1  # laps the real laps-led totals may exceed the race's laps by (data slips)


class OutcomeError(ValueError):
    """A race outcome that cannot happen; the message names the race (or scenario) and the rule."""


def _as_2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a[None, :] if a.ndim == 1 else a


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _dnf_flags(dnf_or_status: np.ndarray) -> np.ndarray:
    arr = np.asarray(dnf_or_status)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "OUS":
        return np.char.lower(arr.astype(str)) != "running"
    raise OutcomeError(f"dnf must be booleans or status strings, got dtype {arr.dtype}")


def outcome_problems(
    finish: np.ndarray,
    dnf: np.ndarray,
    laps_completed: np.ndarray,
    laps_led: np.ndarray,
    fastest_laps: np.ndarray,
    race_laps: int,
    *,
    green_laps: np.ndarray | None = None,
    simulated: bool = False,
) -> list[str]:
    """Every broken rule, one message each naming the first offending race row (empty list: valid).

    Arrays are (N, D) (or (D,) for one race). ``simulated`` applies the strict rules of kernel output.
    """
    finish, dnf = _as_2d(finish), _as_2d(_dnf_flags(dnf))
    lc, led, fast = _as_2d(laps_completed), _as_2d(laps_led), _as_2d(fastest_laps)
    if not (finish.shape == dnf.shape == lc.shape == led.shape == fast.shape):
        return [f"arrays differ in shape: {finish.shape}, {dnf.shape}, {lc.shape}, {led.shape}, {fast.shape}"]
    n, d = finish.shape
    problems: list[str] = []

    order = np.argsort(finish, axis=1, kind="stable")
    sorted_finish = np.take_along_axis(finish, order, axis=1)
    not_perm = np.any(sorted_finish != np.arange(1, d + 1), axis=1)
    if not_perm.any():
        i = _first(not_perm)
        problems.append(
            f"row {i}: finishing positions are not 1..{d} once each: {sorted(finish[i].tolist())}"
        )

    for name, arr in (("laps completed", lc), ("laps led", led), ("fastest laps", fast)):
        neg = np.any(arr < 0, axis=1)
        if neg.any():
            problems.append(f"row {_first(neg)}: negative {name}")
    over = np.any(lc > race_laps, axis=1)
    if over.any():
        problems.append(f"row {_first(over)}: a car completed more than the race's {race_laps} laps")

    lc_by_finish = np.take_along_axis(lc, order, axis=1)
    rises = np.diff(lc_by_finish, axis=1) > 0  # a car classified ahead of one with more laps
    rise_pos = np.where(rises, np.arange(1, d)[None, :], d)
    allowed_tail = 0 if simulated else MAX_DEMOTED
    misclassified = rise_pos.min(axis=1) < d - allowed_tail
    if misclassified.any():
        i = _first(misclassified)
        pos = int(rise_pos[i].min())
        problems.append(
            f"row {i}: position {pos + 1} completed {lc_by_finish[i, pos]} laps but position {pos} only "
            f"{lc_by_finish[i, pos - 1]}; cars are classified by laps completed"
            + ("" if simulated else f" (at most {MAX_DEMOTED} post-race demotions to the rear)")
        )
    if simulated:
        dnf_by_finish = np.take_along_axis(dnf, order, axis=1)
        running_behind = np.any(np.diff(dnf_by_finish.astype(np.int8), axis=1) < 0, axis=1)
        if running_behind.any():
            problems.append(f"row {_first(running_behind)}: a running car is classified behind a DNF")

    led_over = np.any(led > lc, axis=1)
    if led_over.any():
        i = _first(led_over)
        j = _first(led[i] > lc[i])
        problems.append(f"row {i}: driver {j} led {led[i, j]} laps but completed only {lc[i, j]}")
    fast_over = np.any(fast > lc, axis=1)
    if fast_over.any():
        i = _first(fast_over)
        j = _first(fast[i] > lc[i])
        problems.append(f"row {i}: driver {j} has {fast[i, j]} fastest laps but completed only {lc[i, j]}")

    led_total = led.sum(axis=1)
    fast_total = fast.sum(axis=1)
    if simulated:
        bad_led = led_total != race_laps
        if bad_led.any():
            i = _first(bad_led)
            problems.append(f"row {i}: laps led add up to {led_total[i]}, not the race's {race_laps} laps")
        if green_laps is None:
            problems.append("simulated outcomes need their green laps to check fastest-lap totals")
        else:
            green = np.asarray(green_laps).reshape(n)
            bad_fast = (fast_total != green) | (green > race_laps)
            if bad_fast.any():
                i = _first(bad_fast)
                problems.append(
                    f"row {i}: fastest laps add up to {fast_total[i]}, not its {green[i]} green laps "
                    f"(at most {race_laps})"
                )
    else:
        bad_led = led_total > race_laps + LED_SLACK
        if bad_led.any():
            i = _first(bad_led)
            problems.append(f"row {i}: laps led add up to {led_total[i]}, above the race's {race_laps} laps")
        bad_fast = fast_total > race_laps
        if bad_fast.any():
            i = _first(bad_fast)
            problems.append(f"row {i}: fastest laps add up to {fast_total[i]}, above the race's {race_laps}")
    return problems


def validate_outcome(
    finish: np.ndarray,
    dnf: np.ndarray,
    laps_completed: np.ndarray,
    laps_led: np.ndarray,
    fastest_laps: np.ndarray,
    race_laps: int,
    *,
    label: str = "race",
) -> None:
    """Raise OutcomeError unless one real race outcome is possible ((D,) arrays; dnf may be statuses)."""
    problems = outcome_problems(finish, dnf, laps_completed, laps_led, fastest_laps, race_laps)
    if problems:
        raise OutcomeError(f"{label}: " + "; ".join(p.removeprefix("row 0: ") for p in problems))


def validate_scenarios(scenario_set: ScenarioSet, race_laps: int) -> None:
    """Raise OutcomeError unless every simulated race of the set obeys the strict kernel rules."""
    if scenario_set.finish.shape[1] != len(scenario_set.drivers):
        raise OutcomeError(
            f"{scenario_set.race_id}: arrays do not follow the set's {len(scenario_set.drivers)} drivers"
        )
    problems = outcome_problems(
        scenario_set.finish,
        scenario_set.dnf,
        scenario_set.laps_completed,
        scenario_set.laps_led,
        scenario_set.fastest_laps,
        race_laps,
        green_laps=scenario_set.green_laps,
        simulated=True,
    )
    if problems:
        raise OutcomeError(f"{scenario_set.race_id} scenarios: " + "; ".join(problems))
