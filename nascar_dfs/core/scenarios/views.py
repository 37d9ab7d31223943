"""A user's views (spec.py) as boolean masks over simulated races, and the acceptance they leave."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import TypeAdapter

from nascar_dfs.core.field import Field
from nascar_dfs.core.scenarios.spec import DnfCountView, FinishTopView, GroupTopView, LapsLedView, View

_VIEW_ADAPTER: TypeAdapter = TypeAdapter(View)


@dataclass(frozen=True)
class Acceptance:
    """Share of unconstrained scenarios that satisfy every view, from a preview batch."""

    rate: float
    stderr: float
    draws: int
    elapsed_s: float


class ImpossibleViewsError(ValueError):
    """The views keep too few scenarios to reach the requested number within the draw budget."""

    def __init__(self, acceptance: Acceptance, views: Sequence[View], needed: int, budget: int) -> None:
        self.acceptance = acceptance
        self.views = tuple(views)
        described = "; ".join(describe_view(v) for v in views)
        super().__init__(
            f"views are (nearly) impossible together: estimated acceptance {acceptance.rate:.5f} "
            f"(± {acceptance.stderr:.5f}, {acceptance.draws} draws) cannot yield {needed} scenarios "
            f"within {budget} draws. Views: {described}"
        )


def parse_views(views: Sequence[View | dict]) -> list[View]:
    """Views as spec.py models (dicts are validated the same way a ConstraintSpec would)."""
    return [v if not isinstance(v, dict) else _VIEW_ADAPTER.validate_python(v) for v in views]


def describe_view(view: View) -> str:
    if isinstance(view, FinishTopView):
        return f"{view.driver} finishes top {view.k}"
    if isinstance(view, LapsLedView):
        return f"{view.driver} leads at least {view.laps} laps"
    if isinstance(view, GroupTopView):
        return f"at least {view.m} of {', '.join(view.drivers)} finish top {view.k}"
    if isinstance(view, DnfCountView):
        return f"between {view.min} and {view.max} cars do not finish"
    raise TypeError(f"unknown view type {type(view).__name__}")


def _view_drivers(view: View) -> list[str]:
    if isinstance(view, FinishTopView | LapsLedView):
        return [view.driver]
    if isinstance(view, GroupTopView):
        return list(view.drivers)
    return []


def check_view_drivers(views: Sequence[View], field: Field) -> None:
    """Raise ValueError listing every view driver that is not in the field."""
    known = set(field.drivers)
    unknown = sorted({d for v in views for d in _view_drivers(v) if d not in known})
    if unknown:
        raise ValueError(f"views name drivers not in the field of {field.race_id}: {', '.join(unknown)}")


def view_mask(
    view: View, field: Field, finish: np.ndarray, dnf: np.ndarray, laps_led: np.ndarray
) -> np.ndarray:
    """(N,) True where the scenario satisfies the view; arrays are (N, D) following field.drivers."""
    if isinstance(view, FinishTopView):
        return finish[:, field.index_of(view.driver)] <= view.k
    if isinstance(view, LapsLedView):
        return laps_led[:, field.index_of(view.driver)] >= view.laps
    if isinstance(view, GroupTopView):
        cols = [field.index_of(d) for d in view.drivers]
        return (finish[:, cols] <= view.k).sum(axis=1) >= view.m
    if isinstance(view, DnfCountView):
        count = dnf.sum(axis=1)
        return (count >= view.min) & (count <= view.max)
    raise TypeError(f"unknown view type {type(view).__name__}")


def views_mask(
    views: Sequence[View], field: Field, finish: np.ndarray, dnf: np.ndarray, laps_led: np.ndarray
) -> np.ndarray:
    """(N,) True where the scenario satisfies every view (all True without views)."""
    keep = np.ones(finish.shape[0], dtype=bool)
    for view in views:  # a handful of views; each mask is vectorized over scenarios
        keep &= view_mask(view, field, finish, dnf, laps_led)
    return keep
