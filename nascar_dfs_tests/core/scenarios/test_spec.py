from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from nascar_dfs.core.scenarios.spec import SPEC_KEY_LENGTH, ConstraintSpec

BASE = {
    "lineups": 50,
    "locks": ["Kyle Larson", "Denny Hamlin"],
    "exposures": {"Chase Elliott": {"max": 0.4}, "Ryan Blaney": {"min": 0.1, "max": 0.6}},
    "groups": [
        {"drivers": ["Joey Logano", "Ryan Blaney", "Austin Cindric"], "at_most": 2},
        {"drivers": ["Kyle Busch", "Austin Dillon"], "at_least": 1},
    ],
    "views": [
        {"kind": "finish_top", "driver": "Kyle Larson", "k": 5},
        {"kind": "dnf_count", "min": 2, "max": 8},
    ],
}


def _spec(payload: dict) -> ConstraintSpec:
    return ConstraintSpec.model_validate_json(json.dumps(payload))


def test_hash_ignores_key_order_and_whitespace():
    shuffled = json.dumps(dict(reversed(list(BASE.items()))), indent=4, sort_keys=False)
    a = _spec(BASE)
    b = ConstraintSpec.model_validate_json("\n  " + shuffled.replace(":", " :  ") + "\n")
    assert a.sha256() == b.sha256()
    assert a.key == b.key and len(a.key) == SPEC_KEY_LENGTH


def test_hash_ignores_defaults_spelled_out():
    spelled = {
        **BASE,
        "min_unique": 1,
        "max_exposure": 1.0,
        "min_exposure": 0.0,
        "excludes": [],
        "objective": "scenario",
        "scenarios": 10_000,
        "min_salary": None,
        "exposures": {"Chase Elliott": {"min": 0.0, "max": 0.4}, "Ryan Blaney": {"min": 0.1, "max": 0.6}},
        "views": [
            {"kind": "finish_top", "driver": "Kyle Larson", "k": 5},
            {"kind": "dnf_count", "min": 2, "max": 8},
        ],
    }
    assert _spec(spelled).sha256() == _spec(BASE).sha256()


def test_hash_ignores_order_of_sets():
    reordered = {
        **BASE,
        "locks": ["Denny Hamlin", "Kyle Larson", "Kyle Larson"],
        "groups": [
            {"drivers": ["Austin Dillon", "Kyle Busch"], "at_least": 1},
            {"drivers": ["Austin Cindric", "Joey Logano", "Ryan Blaney"], "at_most": 2},
        ],
        "views": list(reversed(BASE["views"])),
    }
    assert _spec(reordered).sha256() == _spec(BASE).sha256()


@pytest.mark.parametrize(
    "change",
    [
        {"lineups": 51},
        {"locks": ["Kyle Larson"]},
        {"views": [{"kind": "finish_top", "driver": "Kyle Larson", "k": 6}]},
        {"scenarios": 20_000},
        {"objective": "mean"},
    ],
)
def test_hash_moves_with_content(change):
    assert _spec({**BASE, **change}).sha256() != _spec(BASE).sha256()


def test_empty_spec_canonical_form_is_empty_object():
    assert ConstraintSpec().canonical_json() == "{}"
    assert ConstraintSpec(lineups=20, scenarios=10_000).key == ConstraintSpec().key


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"locks": ["A"], "excludes": ["A"]}, "both locked and excluded"),
        ({"views": [{"kind": "finish_top", "driver": "A", "k": 0}]}, "greater than or equal to 1"),
        ({"views": [{"kind": "group_top", "drivers": ["A"], "m": 2, "k": 3}]}, "exceeds"),
        ({"nonsense": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_specs_are_rejected_with_a_reason(bad, message):
    with pytest.raises(ValidationError, match=message):
        _spec(bad)
