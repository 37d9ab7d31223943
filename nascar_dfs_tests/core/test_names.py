from __future__ import annotations

import pandas as pd
import pytest

from nascar_dfs.core.names import name_key, normalize_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Daniel Suárez", "Daniel Suarez"),
        ("A.J. Allmendinger", "AJ Allmendinger"),
        ("Martin Truex Jr.", "Martin Truex Jr"),
        ("Kyle Busch (i)", "Kyle Busch"),
        ("  Ty   Gibbs ", "Ty Gibbs"),
        ("Ryan O\u2019Connor", "Ryan O'Connor"),
    ],
)
def test_normalize_name_follows_the_shared_readme_rule(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("John H. Nemechek", "John Hunter Nemechek"),
        ("John Nemechek", "John Hunter Nemechek"),
        ("Ricky Stenhouse", "Ricky Stenhouse Jr."),
        ("Shane Van Gisbergen", "Shane van Gisbergen"),
        ("DANIEL SUAREZ", "Daniel Suárez"),
    ],
)
def test_name_key_joins_true_variants(variant: str, canonical: str) -> None:
    assert name_key(variant) == name_key(canonical)


def test_name_key_keeps_different_drivers_apart() -> None:
    assert name_key("Joe Nemechek") != name_key("John Hunter Nemechek")
    assert name_key("Kyle Busch") != name_key("Kurt Busch")
    assert name_key("Dale Earnhardt") != name_key("Dale Earnhardt Jr")


@pytest.mark.parametrize("raw", ["", "  ", "(i)", None, 42])
def test_empty_or_non_text_names_are_rejected(raw: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        normalize_name(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("file", ["cup_results.csv", "loop_data.csv"])
def test_every_raw_spelling_in_the_shared_data_keys_like_its_driver(shared_data_dir, file: str) -> None:
    pairs = pd.read_csv(shared_data_dir / file)[["driver_raw", "driver"]].drop_duplicates()
    mismatched = [(raw, drv) for raw, drv in pairs.itertuples(index=False) if name_key(raw) != name_key(drv)]
    assert mismatched == []
    # The display rule alone reproduces the shared `driver` spelling up to case.
    assert all(normalize_name(raw).lower() == drv.lower() for raw, drv in pairs.itertuples(index=False))
