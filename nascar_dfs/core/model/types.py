"""What a fitted model hands to the scenario kernel: per-draw parameters for one field."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FieldParams:
    """Posterior draws of the race model evaluated for one field.

    Row s is one posterior draw; column j follows ``Field.drivers``.
    """

    log_worth: np.ndarray  # (S, D) Plackett-Luce log-worth of each driver's finishing order
    dnf_prob: np.ndarray  # (S, D) probability that the driver does not finish
    # (S,) slope of the standardised start, set only for a field with unknown starts: log_worth then
    # leaves the start term out and the kernel adds it per scenario for the grid it simulates
    start_slope: np.ndarray | None = None
    # how the order is drawn from the log-worths: "forward" from the winner down (Gumbel-max on
    # log_worth + G), "reverse" from last place up (Gumbel-max on -log_worth + G), as the fit was made
    likelihood: str = "forward"

    def __post_init__(self) -> None:
        if self.likelihood not in ("forward", "reverse"):
            raise ValueError(f"likelihood must be 'forward' or 'reverse', got {self.likelihood!r}")
        if self.log_worth.shape != self.dnf_prob.shape or self.log_worth.ndim != 2:
            raise ValueError("log_worth and dnf_prob must be (draws, drivers) arrays of one shape")
