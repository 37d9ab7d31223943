"""Names, shapes and prior scales of the race model's parameters (no PyMC import: cheap to load)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Finishing-order likelihoods (see plackett_luce): the first is the default.
LIKELIHOODS: tuple[str, ...] = ("reverse", "forward")

# Hyperparameters: convergence is checked on these (the group effects follow from them).
HYPERPARAMETERS: tuple[str, ...] = (
    "sd_skill",
    "sd_driver_track",
    "sd_team",
    "sd_make_track",
    "start_slope",
    "dnf_rate",
    "sd_dnf_driver",
    "pace_coef",
    "loop_scale",
    "loop_start",
)
# Switched off by Priors (pace=False, loop_term=False): absent from such a fit's posterior.
OPTIONAL: frozenset[str] = frozenset({"pace_coef", "loop_scale", "loop_start"})
# Posterior quantities FittedModel needs, by name -> which index axes they run over after the draw axis.
EFFECTS: dict[str, tuple[str, ...]] = {
    "skill": ("drivers",),
    "driver_track": ("drivers", "track_types"),
    "team_effect": ("teams",),
    "make_track": ("manufacturers", "track_types"),
    "dnf_driver": ("drivers",),
    "start_slope": ("track_types",),
    "dnf_rate": ("track_types",),
    "sd_skill": (),
    "sd_driver_track": (),
    "sd_team": (),
    "sd_make_track": (),
    "sd_dnf_driver": (),
    "pace_coef": ("track_types",),
}


@dataclass(frozen=True)
class Priors:
    """Prior scales; part of the compiled-model cache key because they are graph constants."""

    # finishing-order likelihood (plackett_luce.LIKELIHOODS): "reverse" builds the order from last
    # place up; "forward" (the model before 2026-12) from the winner down
    likelihood: str = "reverse"
    sd_skill: float = 1.0
    sd_driver_track: float = 0.3
    sd_team: float = 0.5
    sd_make_track: float = 0.2
    start_slope_mu: float = -0.5
    start_slope_sd: float = 0.5
    dnf_rate_mu: float = -2.0
    dnf_rate_sd: float = 1.0
    sd_dnf_driver: float = 0.3
    # loop-data running-order term (see plackett_luce._running_position_logp)
    loop_term: bool = False
    loop_scale_mu: float = 1.5
    loop_scale_sd: float = 0.5
    # recent pace covariate (design.recent_pace), one coefficient per track type
    pace: bool = True
    pace_coef_mu: float = 0.5
    pace_coef_sd: float = 0.5

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")

    def to_dict(self) -> dict[str, float | str | bool]:
        return asdict(self)
