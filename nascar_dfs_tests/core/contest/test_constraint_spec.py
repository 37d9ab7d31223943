"""A contest inside ConstraintSpec: old spec hashes stay put, a contest is part of the hash."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from nascar_dfs.core.contest.spec import ContestSpec, PayoutTier
from nascar_dfs.core.scenarios.spec import ConstraintSpec

# Hashes of specs as they were before `contest` existed: Dagster partitions and stored spec files
# are keyed by them, so they must never move.
EXISTING = [
    ({}, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
    ({"lineups": 5, "scenarios": 300}, "c09fc844250fa8941bd2b38cc8dd5ffd5939de2310b555039fafc467be9cb0fb"),
    (
        {
            "lineups": 150,
            "max_exposure": 0.6,
            "min_unique": 2,
            "locks": ["Kyle Larson"],
            "views": [{"kind": "finish_top", "driver": "Kyle Larson", "k": 5}],
        },
        "034d9afad6b41f79d862ccee905ab45659b59b128d6e50fde2c3d140c7b8ec67",
    ),
]


@pytest.mark.parametrize(("payload", "digest"), EXISTING)
def test_existing_spec_hashes_are_unchanged(payload, digest):
    spec = ConstraintSpec.model_validate(payload)
    assert spec.sha256() == digest
    assert "contest" not in spec.canonical_json()
    assert ConstraintSpec.model_validate({**payload, "contest": None}).sha256() == digest


def test_a_contest_is_part_of_the_hash():
    base = ConstraintSpec(lineups=5, scenarios=300)
    small = ConstraintSpec(lineups=5, scenarios=300, contest={"entries": 1000, "entry_fee": 20})
    big = ConstraintSpec(lineups=5, scenarios=300, contest={"entries": 2000, "entry_fee": 20})
    assert len({base.key, small.key, big.key}) == 3
    assert json.loads(small.canonical_json())["contest"] == {"entries": 1000, "entry_fee": 20.0}


def test_a_contest_spelled_differently_hashes_the_same():
    tiers = [{"from_place": 2, "to_place": 3, "prize": 50}, {"from_place": 1, "to_place": 1, "prize": 200}]
    a = ConstraintSpec.model_validate(
        {"contest": {"entries": 100, "entry_fee": 5, "rake": 0.13, "payouts": tiers}}
    )
    b = ConstraintSpec.model_validate(
        {"contest": {"payouts": list(reversed(tiers)), "entry_fee": 5.0, "entries": 100}}
    )
    assert a.key == b.key
    assert a.contest == ContestSpec(
        entries=100,
        entry_fee=5,
        payouts=[
            PayoutTier(from_place=1, to_place=1, prize=200),
            PayoutTier(from_place=2, to_place=3, prize=50),
        ],
    )
    # The spec file round-trips: what Dagster reads back is the spec that was hashed.
    assert ConstraintSpec.model_validate_json(a.canonical_json()) == a


@pytest.mark.parametrize(
    ("contest", "where", "message"),
    [
        ({"entries": 1, "entry_fee": 20}, ("contest", "entries"), "greater than or equal to 2"),
        ({"entries": 1000, "entry_fee": 0}, ("contest", "entry_fee"), "greater than 0"),
        ({"entries": 1000, "entry_fee": 20, "rake": 1.5}, ("contest", "rake"), "less than 1"),
        ({"entries": 1000, "entry_fee": 20, "prizes": []}, ("contest", "prizes"), "Extra inputs"),
        (
            {"entries": 1000, "entry_fee": 20, "payouts": [{"from_place": 3, "to_place": 1, "prize": 5}]},
            ("contest", "payouts", 0),
            "from_place 3 is after to_place 1",
        ),
        (
            {"entries": 10, "entry_fee": 1, "payouts": [{"from_place": 1, "to_place": 1, "prize": 99}]},
            ("contest",),
            "above the prize pool",
        ),
    ],
)
def test_bad_contest_input_names_the_field(contest, where, message):
    with pytest.raises(ValidationError) as info:
        ConstraintSpec.model_validate({"lineups": 3, "contest": contest})
    error = info.value.errors()[0]
    assert tuple(error["loc"]) == where
    assert message in error["msg"]


def test_contest_too_small_for_the_lineups_is_refused():
    with pytest.raises(ValidationError, match=r"contest\.entries 20 leaves no field for 20 lineups"):
        ConstraintSpec(lineups=20, contest={"entries": 20, "entry_fee": 1})
    with pytest.raises(ValidationError, match=r"exceed contest\.max_entries_per_user 3"):
        ConstraintSpec(lineups=5, contest={"entries": 100, "entry_fee": 1, "max_entries_per_user": 3})
