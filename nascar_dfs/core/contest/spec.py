"""ContestSpec: a GPP's size, fee, rake and payout table, with the default top-heavy table.

Payout table format: rows ``(from_place, to_place, prize)`` (1-based, inclusive, prize in dollars per
entry), e.g. ``[(1, 1, 10000), (2, 2, 5000), (3, 5, 1000)]``; as CSV the header is
``from_place,to_place,prize``. Places not covered pay nothing.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Default GPP shape. These are approximations of DraftKings NASCAR GPP structures as publicly shown in
# contest lobbies (about a fifth of entries cash, the minimum cash is about twice the fee, first place
# takes a mid-teens share of the pool in a 10k-entry contest); they are a modelling choice, not copied
# from one contest.
DEFAULT_RAKE = 0.13
DEFAULT_PAID_SHARE = 0.22
DEFAULT_MIN_CASH_MULTIPLE = 2.0
DEFAULT_FIRST_SHARE = 0.15


MAX_PAYOUT_TIERS = 200


class _Strict(BaseModel):
    # No NaN or Infinity: a NaN fee or prize passes every bound (comparisons with NaN are false).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PayoutTier(_Strict):
    """Every place from ``from_place`` to ``to_place`` (inclusive) wins ``prize`` dollars."""

    from_place: int = Field(ge=1)
    to_place: int = Field(ge=1)
    prize: float = Field(ge=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> PayoutTier:
        if self.from_place > self.to_place:
            raise ValueError(f"payout tier from_place {self.from_place} is after to_place {self.to_place}")
        return self

    @property
    def places(self) -> int:
        return self.to_place - self.from_place + 1


class ContestSpec(_Strict):
    """One DraftKings contest. ``payouts`` empty means the default top-heavy GPP table for this size."""

    entries: int = Field(ge=2, le=2_000_000, description="total entries, the user's included")
    entry_fee: float = Field(gt=0.0, description="dollars per entry")
    rake: float = Field(DEFAULT_RAKE, ge=0.0, lt=1.0, description="share of fees the site keeps")
    max_entries_per_user: int = Field(150, ge=1)
    payouts: list[PayoutTier] = Field(default_factory=list, max_length=MAX_PAYOUT_TIERS)

    @field_validator("payouts")
    @classmethod
    def _by_place(cls, v: list[PayoutTier]) -> list[PayoutTier]:
        # One table, one canonical form: specs embedding a contest are hashed.
        return sorted(v, key=lambda tier: tier.from_place)

    @model_validator(mode="after")
    def _payouts_fit(self) -> ContestSpec:
        tiers = sorted(self.payouts, key=lambda t: t.from_place)
        for before, after in itertools.pairwise(tiers):
            if after.from_place <= before.to_place:
                raise ValueError(f"payout tiers overlap at place {after.from_place}")
            if after.prize > before.prize:
                raise ValueError(f"place {after.from_place} pays more than place {before.to_place}")
        if tiers and tiers[-1].to_place > self.entries:
            raise ValueError(f"payouts reach place {tiers[-1].to_place} of a {self.entries}-entry contest")
        paid = sum(t.prize * t.places for t in tiers)
        if paid > self.prize_pool * (1 + 1e-9):
            raise ValueError(f"payouts total ${paid:,.2f}, above the prize pool ${self.prize_pool:,.2f}")
        return self

    @property
    def prize_pool(self) -> float:
        return self.entries * self.entry_fee * (1.0 - self.rake)

    def payout_table(self) -> list[PayoutTier]:
        """The table in force: the given one, else `default_payouts` for this contest."""
        if self.payouts:
            return sorted(self.payouts, key=lambda t: t.from_place)
        return default_payouts(self.entries, self.entry_fee, self.rake)

    def prize_by_place(self) -> np.ndarray:
        """(entries,) dollars won by place 1..entries (index 0 is first place)."""
        prizes = np.zeros(self.entries, dtype=np.float64)
        for tier in self.payout_table():
            prizes[tier.from_place - 1 : tier.to_place] = tier.prize
        return prizes


def default_payouts(
    entries: int,
    entry_fee: float,
    rake: float = DEFAULT_RAKE,
    *,
    paid_share: float = DEFAULT_PAID_SHARE,
    min_cash_multiple: float = DEFAULT_MIN_CASH_MULTIPLE,
    first_share: float = DEFAULT_FIRST_SHARE,
) -> list[PayoutTier]:
    """A top-heavy GPP table that pays out exactly the prize pool.

    Every paid place gets the minimum cash; what is left is spread as a power law over places
    (k^-alpha, alpha solved so first place takes ``first_share`` of the pool) and then averaged over
    bands of places (1, 2, 3, 4, 5, 6-7, 8-10, ... growing geometrically), as lobbies list them.
    """
    pool = entries * entry_fee * (1.0 - rake)
    paid = max(1, math.floor(entries * paid_share))
    min_cash = min(min_cash_multiple * entry_fee, pool / paid)
    per_place = np.full(paid, min_cash) + (pool - min_cash * paid) * _power_law_weights(
        paid, (first_share * pool - min_cash) / max(pool - min_cash * paid, 1e-12)
    )
    return [
        PayoutTier(from_place=lo + 1, to_place=hi, prize=float(per_place[lo:hi].mean()))
        for lo, hi in _bands(paid)
    ]


def _power_law_weights(places: int, first_weight: float) -> np.ndarray:
    """Weights k^-alpha normalised to 1 whose first element is ``first_weight`` (clamped to reach)."""
    k = np.arange(1, places + 1, dtype=np.float64)
    if places == 1:
        return np.ones(1)
    target = min(max(first_weight, 1.0 / places), 1.0 - 1e-9)
    lo, hi = 0.0, 50.0
    for _ in range(200):  # bisection: the first weight grows monotonically with alpha
        mid = (lo + hi) / 2
        w = k**-mid
        if w[0] / w.sum() < target:
            lo = mid
        else:
            hi = mid
    w = k**-lo
    return w / w.sum()


def _bands(paid: int) -> list[tuple[int, int]]:
    """Half-open [lo, hi) bands of 0-based places: singles for the top five, then ~1.4x wider each."""
    bands, lo, width = [], 0, 1.0
    while lo < paid:
        hi = min(paid, lo + max(1, int(width)))
        bands.append((lo, hi))
        lo = hi
        if lo >= 5:
            width *= 1.4
    return bands


def read_payouts_csv(source: str | Path) -> list[PayoutTier]:
    """Tiers from CSV text or a file with header ``from_place,to_place,prize``."""
    text = Path(source).read_text() if isinstance(source, Path) else source
    try:
        return _payout_tiers(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ValueError(f"payout CSV is not a CSV: {exc}") from exc


def _payout_tiers(reader: csv.DictReader) -> list[PayoutTier]:
    needed = {"from_place", "to_place", "prize"}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise ValueError(f"payout CSV needs columns {sorted(needed)}, got {reader.fieldnames}")
    tiers = []
    for line, row in enumerate(reader, start=2):
        try:
            tiers.append(
                PayoutTier(
                    from_place=int(row["from_place"]),
                    to_place=int(row["to_place"]),
                    prize=float(row["prize"]),
                )
            )
        except ValueError as exc:
            raise ValueError(f"payout CSV line {line}: {exc}") from exc
    if not tiers:
        raise ValueError("payout CSV has no rows")
    return tiers
