from __future__ import annotations

import pandas as pd
import pytest

from nascar_dfs.core.tracks import TRACK_TYPES, track_type_for


@pytest.fixture(scope="module")
def configs(shared_data_dir) -> pd.DataFrame:
    return pd.read_csv(shared_data_dir / "track_configurations.csv")


@pytest.mark.parametrize(
    ("slug", "season", "expected"),
    [
        ("daytona", 2020, "superspeedway"),  # daytona_road (2020-21) must not capture the oval slug
        ("daytona-road", 2021, "road"),
        ("atlanta", 2021, "intermediate"),
        ("atlanta", 2022, "superspeedway"),  # reconfigured into a drafting track
        ("bristol", 2022, "short"),
        ("bristol-dirt", 2022, "dirt"),
        ("indianapolis", 2024, "intermediate"),
        ("indianapolis-road", 2022, "road"),
        ("charlotte-roval", 2019, "road"),
        ("chicago-street", 2023, "road"),
        ("sonoma", 2020, "road"),
        ("phoenix", 2018, "short"),
        ("martinsville", 2016, "short"),
        ("michigan", 2019, "intermediate"),
    ],
)
def test_known_venues_get_their_type(configs, slug: str, season: int, expected: str) -> None:
    assert track_type_for(slug, season, configs) == expected


def test_every_points_race_2015_2024_gets_a_type(shared_data_dir, configs) -> None:
    races = pd.read_csv(shared_data_dir / "races.csv")
    points = races[races["event_type"] == "points"]
    pairs = points[["track_slug", "season"]].drop_duplicates()
    types = {track_type_for(s, int(y), configs) for s, y in pairs.itertuples(index=False)}
    assert types == set(TRACK_TYPES)


def test_unknown_venue_falls_back_to_surface(configs) -> None:
    assert track_type_for("new-street-circuit", 2030, configs, surface="road") == "road"
    assert track_type_for("new-dirt-oval", 2030, configs, surface="dirt") == "dirt"
    assert track_type_for("new-mile", 2030, configs, surface="paved", length_mi=2.0) == "intermediate"
    assert track_type_for("new-bullring", 2030, configs, surface="paved", length_mi=0.5) == "short"


def test_venue_without_config_or_surface_is_an_error(configs) -> None:
    with pytest.raises(ValueError, match="new-track"):
        track_type_for("new-track", 2030, configs)
    # a known venue outside every configuration era is not silently typed
    with pytest.raises(ValueError, match="kentucky"):
        track_type_for("kentucky", 2024, configs)
