"""Race keys: what may name a race (and so a folder and a partition)."""

from __future__ import annotations

import pytest

from nascar_dfs.core.race_key import MAX_RACE_KEY_LENGTH, RaceKeyError, validate_race_key


def test_a_slug_of_lowercase_letters_digits_and_dashes_is_a_race_key() -> None:
    assert validate_race_key("2024-cup-phoenix-2") == "2024-cup-phoenix-2"


@pytest.mark.parametrize(
    "key", ["2024|cup", "2024/cup", "2024-Cup", "2024 cup", "", "a" * (MAX_RACE_KEY_LENGTH + 1), None]
)
def test_anything_else_is_refused_with_the_rule_in_the_message(key) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RaceKeyError, match=r"invalid race key .*lowercase letters, digits and '-'"):
        validate_race_key(key)
