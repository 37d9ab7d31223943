from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from nascar_dfs.core.data.feed import (
    FeedError,
    append_feed_file,
    append_feed_race,
    fastest_laps_from_live_feed,
    fastest_laps_from_loopstats,
    parse_weekend_feed,
    track_slugs,
)
from nascar_dfs.core.data.history import load_history


@pytest.fixture(scope="module")
def feed_dir(shared_data_dir: Path) -> Path:
    return shared_data_dir / "feed-samples"


@pytest.fixture(scope="module")
def weekend(feed_dir: Path) -> dict:
    return json.loads((feed_dir / "weekend-feed.json").read_text(encoding="utf-8"))


def test_sample_weekend_feed_parses_to_result_rows(feed_dir: Path) -> None:
    race, results = parse_weekend_feed(feed_dir / "weekend-feed.json", "sonoma", 1, race_num=17)
    assert race["race_id"] == "2026-cup-sonoma-1"
    assert (race["season"], race["race_num"], race["race_date"], race["laps"]) == (
        2026,
        17,
        "2026-06-28",
        110,
    )
    assert race["nascar_race_id"] == 5617 and race["event_type"] == "points"
    assert list(results["finish"]) == [1, 2, 3]
    winner = results.iloc[0]
    assert (winner["driver_raw"], winner["start"], winner["laps_led"]) == ("Shane Van Gisbergen", 6, 74)
    assert (winner["status"], winner["manufacturer"], winner["team"]) == (
        "running",
        "Chevrolet",
        "Trackhouse Racing",
    )
    assert winner["car_number"] == "97" and winner["win"] == 1
    assert results["fastest_laps"].isna().all()  # the weekend feed has no fastest laps


def test_feed_spelling_joins_the_history_driver(weekend: dict, shared_history) -> None:
    _, results = parse_weekend_feed(
        weekend,
        {99: "sonoma"},
        lambda slug, season: 2,
        known_drivers=shared_history.results["driver"].unique(),
    )
    assert results.iloc[0]["driver"] == "Shane van Gisbergen"
    assert results.iloc[0]["race_id"] == "2026-cup-sonoma-2"


def test_fastest_laps_come_from_loop_or_live_feeds(feed_dir: Path, weekend: dict) -> None:
    loop = fastest_laps_from_loopstats(json.loads((feed_dir / "loopstats.json").read_text()))
    assert loop[4469] == 24
    live = fastest_laps_from_live_feed(json.loads((feed_dir / "live-feed.json").read_text()))
    assert len(live) == 38 and all(count >= 0 for count in live.values())
    # the trimmed loop sample lacks Ty Gibbs: a missing count is an error, not a silent zero
    with pytest.raises(FeedError, match="Ty Gibbs"):
        parse_weekend_feed(weekend, "sonoma", 1, fastest_laps=loop)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.pop("weekend_race"), "weekend_race"),
        (lambda d: d["weekend_race"][0]["results"].clear(), "no results"),
        (
            lambda d: d["weekend_race"][0]["results"][0].update(finishing_position="first"),
            "finishing_position",
        ),
        (
            lambda d: d["weekend_race"][0]["results"][1].pop("laps_led"),
            re.escape("weekend_race[0].results[1].laps_led: Field required"),
        ),
    ],
)
def test_broken_feed_says_what_is_missing(weekend: dict, mutate, fragment: str) -> None:
    doc = copy.deepcopy(weekend)
    mutate(doc)
    with pytest.raises(FeedError, match=fragment):
        parse_weekend_feed(doc, "sonoma", 1)


def _complete_field(weekend: dict) -> dict:
    """The sample lists 3 of 36 cars; pretend those 3 were the whole field (starts renumbered 1..3)."""
    doc = copy.deepcopy(weekend)
    race = doc["weekend_race"][0]
    race["number_of_cars_in_field"] = len(race["results"])
    for start, result in enumerate(sorted(race["results"], key=lambda r: r["starting_position"]), start=1):
        result["starting_position"] = start
    return doc


def test_append_adds_a_race_that_loads(small_data_dir: Path, weekend: dict) -> None:
    race_id = append_feed_race(small_data_dir, _complete_field(weekend), "sonoma")
    assert race_id == "2026-cup-sonoma-1"
    history = load_history(small_data_dir)
    info = history.race(race_id)
    assert (info.season, info.race_num, info.track_type, info.laps) == (2026, 1, "road", 110)
    rows = history.results_for(race_id)
    # this three-race folder has never seen van Gisbergen, so the feed spelling stands
    assert list(rows["driver"]) == ["Shane Van Gisbergen", "Chase Briscoe", "Ty Gibbs"]
    # the races already there are untouched
    assert len(history.results_for("2021-cup-talladega-2")) == 40


def test_append_refuses_duplicates_and_trimmed_feeds(small_data_dir: Path, weekend: dict) -> None:
    before = (small_data_dir / "cup_results.csv").read_bytes()
    with pytest.raises(FeedError, match="3 results but 36 cars"):
        append_feed_race(small_data_dir, weekend, "sonoma")
    with pytest.raises(FeedError, match=r"not in tracks\.csv"):
        append_feed_race(small_data_dir, _complete_field(weekend), "mars-oval")
    assert (small_data_dir / "cup_results.csv").read_bytes() == before
    append_feed_race(small_data_dir, _complete_field(weekend), "sonoma")
    with pytest.raises(FeedError, match=r"already in races\.csv"):
        append_feed_race(small_data_dir, _complete_field(weekend), "sonoma")


def _feed_file(folder: Path, doc: dict, track_name: str | None = None) -> Path:
    doc = copy.deepcopy(doc)
    if track_name is not None:
        doc["weekend_race"][0]["track_name"] = track_name
    path = folder / "weekend.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_feed_file_finds_its_venue_by_the_track_name_in_tracks_csv(
    small_data_dir: Path, weekend: dict, tmp_path: Path
) -> None:
    feed = _feed_file(tmp_path, _complete_field(weekend))  # "Sonoma Raceway"
    assert track_slugs(small_data_dir)["sonoma raceway"] == "sonoma"
    assert append_feed_file(small_data_dir, feed) == "2026-cup-sonoma-1"
    assert load_history(small_data_dir).race("2026-cup-sonoma-1").track_type == "road"


def test_an_earlier_name_of_a_venue_counts_and_an_unknown_one_is_refused_writing_nothing(
    small_data_dir: Path, weekend: dict, tmp_path: Path
) -> None:
    tracks = small_data_dir / "tracks.csv"
    text = tracks.read_text(encoding="utf-8")
    tracks.write_text(
        text.replace("sonoma,Sonoma Raceway,,", "sonoma,Sonoma Raceway,Infineon Raceway;Sears Point,")
    )
    before = (small_data_dir / "cup_results.csv").read_bytes()
    with pytest.raises(FeedError, match=r"track 'Mars Oval' of weekend\.json is not in tracks\.csv"):
        append_feed_file(small_data_dir, _feed_file(tmp_path, _complete_field(weekend), "Mars Oval"))
    assert (small_data_dir / "cup_results.csv").read_bytes() == before

    assert append_feed_file(
        small_data_dir, _feed_file(tmp_path, _complete_field(weekend), " sears point ")
    ) == ("2026-cup-sonoma-1")
