"""Track types: the five kinds of racing the model and the scenario kernel tell apart."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

TRACK_TYPES: tuple[str, ...] = ("superspeedway", "intermediate", "short", "road", "dirt")

# primary_family of track_configurations.csv -> track type (design decision, see docs/CONTRACTS.md).
FAMILY_TRACK_TYPES: dict[str, str] = {
    "drafting superspeedway": "superspeedway",
    "condensed drafting speedway": "superspeedway",
    "intermediate oval": "intermediate",
    "high-speed intermediate": "intermediate",
    "large flat oval": "intermediate",
    "high-banked compact oval": "short",
    "short oval": "short",
    "flat short oval": "short",
    "dirt oval": "dirt",
}
_ROAD_WORDS: tuple[str, ...] = ("road", "street", "hybrid")
_OVAL_TYPES = frozenset({"superspeedway", "intermediate", "short"})

# Layouts that share a facility with an oval get their own slug in the data; the slug alone decides.
_LAYOUT_SUFFIX_TYPES: dict[str, str] = {"-dirt": "dirt", "-road": "road", "-roval": "road", "-street": "road"}

# track_configurations.csv cuts its years at 2024 (README of the shared data): a configuration in use
# that year, or one without an end year, is still in use later, until a newer row of the same slug.
CONFIGURATION_CUT_YEAR = 2024
OPEN_END_YEAR = 9999

# Every oval of the 2015-2024 schedule under 1.1 miles is a short track; every longer one is not.
SHORT_TRACK_MAX_MILES = 1.1
_SURFACE_TRACK_TYPES: dict[str, str] = {"road": "road", "dirt": "dirt", "paved": "intermediate"}


def track_type_of_family(primary_family: str) -> str:
    """Track type of one `primary_family` value of track_configurations.csv."""
    family = str(primary_family).strip().lower()
    if family in FAMILY_TRACK_TYPES:
        return FAMILY_TRACK_TYPES[family]
    if any(word in family for word in _ROAD_WORDS):
        return "road"
    raise ValueError(
        f"unknown track family {primary_family!r}; known: {sorted(FAMILY_TRACK_TYPES)} or *road*"
    )


@dataclass(frozen=True)
class ConfigEra:
    """One track_configurations.csv row reduced to what the track type needs."""

    first_year: int
    last_year: int
    track_type: str


class TrackTypeResolver:
    """`track_type_for` over one configuration table, indexed once (the loader asks ~250 times)."""

    def __init__(self, configs: pd.DataFrame) -> None:
        eras: dict[str, list[ConfigEra]] = {}
        columns = ["track_slug", "primary_family", "first_year_in_scope", "last_year_through_2024"]
        for slug, family, first, last in configs[columns].itertuples(index=False):
            open_ended = pd.isna(last) or int(last) >= CONFIGURATION_CUT_YEAR
            eras.setdefault(str(slug), []).append(
                ConfigEra(
                    int(first), OPEN_END_YEAR if open_ended else int(last), track_type_of_family(family)
                )
            )
        self._eras = {slug: _facility_eras(rows) for slug, rows in eras.items()}

    def __call__(
        self, track_slug: str, season: int, surface: str | None = None, length_mi: float | None = None
    ) -> str:
        for suffix, track_type in _LAYOUT_SUFFIX_TYPES.items():
            if track_slug.endswith(suffix):
                return track_type
        in_era = [era for era in self._eras.get(track_slug, []) if era.first_year <= season <= era.last_year]
        if in_era:
            return max(in_era, key=lambda era: era.first_year).track_type
        surface_name = None if surface is None else str(surface).strip().lower()
        if surface_name == "paved" and length_mi is not None and length_mi < SHORT_TRACK_MAX_MILES:
            return "short"
        if surface_name in _SURFACE_TRACK_TYPES:
            return _SURFACE_TRACK_TYPES[surface_name]
        raise ValueError(
            f"no track type for {track_slug!r} in {season}: no track_configurations row covers it "
            f"and its surface is {surface!r} (expected paved, road or dirt)"
        )


def _facility_eras(eras: list[ConfigEra]) -> list[ConfigEra]:
    """At a facility that also has an oval, its slug means the oval (other layouts have their own slugs)."""
    ovals = [era for era in eras if era.track_type in _OVAL_TYPES]
    return ovals or eras


def track_type_for(
    track_slug: str,
    season: int,
    configs: pd.DataFrame,
    surface: str | None = None,
    length_mi: float | None = None,
) -> str:
    """Track type of a race at `track_slug` in `season`.

    Order of evidence:
    1. a layout slug (`bristol-dirt`, `daytona-road`, `charlotte-roval`, `chicago-street`, any `*-road`);
    2. the `track_configurations.csv` row with `first_year_in_scope <= season <= last_year_through_2024`
       (the newest `first_year_in_scope` wins where eras overlap; a row running to 2024, the file's cut,
       or with a blank end year, stays in use for later seasons). At a facility that also has an oval,
       the facility slug means the oval: its road/dirt layouts carry their own slugs;
    3. otherwise `surface` (tracks.csv: `road`, `dirt`, `paved`), so exports with new venues still work.
       An unknown PAVED track is a GUESS: `short` when `length_mi` is under 1.1 miles, else
       `intermediate` (the most common type).
    Raises ValueError when none of these applies. For many look-ups build one `TrackTypeResolver`.
    """
    return TrackTypeResolver(configs)(track_slug, season, surface=surface, length_mi=length_mi)
