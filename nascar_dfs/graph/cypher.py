"""Every Cypher statement of the race graph: parameterized, never built from data."""

from __future__ import annotations

# Labels the graph owns; the test fixtures refuse to wipe a database holding anything else.
LABELS = ("Driver", "Team", "Manufacturer", "Track", "TrackConfig", "Race")
RELATIONSHIP_TYPES = (
    "RESULT",
    "RACED_FOR",
    "DROVE_MAKE",
    "DROVE_FOR",
    "RAN",
    "AT",
    "ON_CONFIG",
    "HAS_CONFIG",
)

SCHEMA = (
    "CREATE CONSTRAINT driver_name IF NOT EXISTS FOR (d:Driver) REQUIRE d.name IS UNIQUE",
    "CREATE CONSTRAINT team_name IF NOT EXISTS FOR (t:Team) REQUIRE t.name IS UNIQUE",
    "CREATE CONSTRAINT manufacturer_name IF NOT EXISTS FOR (m:Manufacturer) REQUIRE m.name IS UNIQUE",
    "CREATE CONSTRAINT track_slug IF NOT EXISTS FOR (t:Track) REQUIRE t.slug IS UNIQUE",
    "CREATE CONSTRAINT track_config_id IF NOT EXISTS FOR (c:TrackConfig) REQUIRE c.config_id IS UNIQUE",
    "CREATE CONSTRAINT race_id IF NOT EXISTS FOR (r:Race) REQUIRE r.race_id IS UNIQUE",
    "CREATE INDEX race_seq IF NOT EXISTS FOR (r:Race) ON (r.seq)",
    "CREATE INDEX race_track_type IF NOT EXISTS FOR (r:Race) ON (r.track_type)",
    "CREATE INDEX raced_for_race IF NOT EXISTS FOR ()-[x:RACED_FOR]-() ON (x.race_id)",
    "CREATE INDEX drove_make_race IF NOT EXISTS FOR ()-[x:DROVE_MAKE]-() ON (x.race_id)",
)

# --- loading (one write transaction per batch) -------------------------------------------------------

KNOWN_KEYS = """
CALL () { UNWIND $race_ids AS id MATCH (r:Race {race_id: id}) RETURN collect(r.race_id) AS races }
CALL () { UNWIND $drivers AS name MATCH (d:Driver {name: name}) RETURN collect(d.name) AS drivers }
CALL () { UNWIND $slugs AS slug MATCH (t:Track {slug: slug}) RETURN collect(t.slug) AS tracks }
RETURN races, drivers, tracks
"""

MERGE_TRACKS = """
UNWIND $rows AS row
MERGE (t:Track {slug: row.slug})
SET t += row.props
"""

MERGE_CONFIGS = """
UNWIND $rows AS row
MERGE (c:TrackConfig {config_id: row.config_id})
SET c += row.props
WITH c, row
MATCH (t:Track {slug: row.track_slug})
MERGE (t)-[:HAS_CONFIG]->(c)
"""

MERGE_RACES = """
UNWIND $rows AS row
MERGE (r:Race {race_id: row.race_id})
SET r += row.props
WITH r, row
MATCH (t:Track {slug: row.track_slug})
MERGE (r)-[:AT]->(t)
WITH r, row
WHERE row.config_id IS NOT NULL
MATCH (c:TrackConfig {config_id: row.config_id})
MERGE (r)-[:ON_CONFIG]->(c)
"""

MERGE_DRIVERS = """
UNWIND $names AS name
MERGE (:Driver {name: name})
"""

MERGE_TEAMS = """
UNWIND $names AS name
MERGE (:Team {name: name})
"""

MERGE_MANUFACTURERS = """
UNWIND $names AS name
MERGE (:Manufacturer {name: name})
"""

MERGE_RESULTS = """
UNWIND $rows AS row
MATCH (d:Driver {name: row.driver})
MATCH (r:Race {race_id: row.race_id})
MERGE (d)-[x:RESULT]->(r)
SET x += row.props
"""

# Season links: one row per distinct (driver, team, season) / (team, make, season) of the batch.
MERGE_DROVE_FOR = """
UNWIND $rows AS row
MATCH (d:Driver {name: row.driver})
MATCH (t:Team {name: row.team})
MERGE (d)-[:DROVE_FOR {season: row.season}]->(t)
"""

MERGE_RAN = """
UNWIND $rows AS row
MATCH (t:Team {name: row.team})
MATCH (m:Manufacturer {name: row.manufacturer})
MERGE (t)-[:RAN {season: row.season}]->(m)
"""

# Per-race team/make links: the loader reads a batch's existing links through the relationship index on
# race_id (about 40 per race), works out what to delete and create, and writes exactly that. A MERGE
# would scan every race a driver ever ran for the team. The loader is the graph's only writer.
EXISTING_TEAM_LINKS = """
UNWIND $race_ids AS race_id
MATCH (d:Driver)-[x:RACED_FOR {race_id: race_id}]->(t:Team)
USING INDEX x:RACED_FOR(race_id)
RETURN race_id, d.name AS driver, t.name AS name, elementId(x) AS id
"""

EXISTING_MAKE_LINKS = """
UNWIND $race_ids AS race_id
MATCH (d:Driver)-[x:DROVE_MAKE {race_id: race_id}]->(m:Manufacturer)
USING INDEX x:DROVE_MAKE(race_id)
RETURN race_id, d.name AS driver, m.name AS name, elementId(x) AS id
"""

DELETE_RELATIONSHIPS = """
UNWIND $ids AS id
MATCH ()-[x]->()
WHERE elementId(x) = id
DELETE x
"""

CREATE_TEAM_LINKS = """
UNWIND $rows AS row
MATCH (d:Driver {name: row.driver})
MATCH (t:Team {name: row.name})
CREATE (d)-[:RACED_FOR {race_id: row.race_id}]->(t)
"""

CREATE_MAKE_LINKS = """
UNWIND $rows AS row
MATCH (d:Driver {name: row.driver})
MATCH (m:Manufacturer {name: row.name})
CREATE (d)-[:DROVE_MAKE {race_id: row.race_id}]->(m)
"""

RESULT_COUNTS = """
MATCH (r:Race)
OPTIONAL MATCH (r)<-[x:RESULT]-()
RETURN r.race_id AS race_id, count(x) AS results
"""

COUNT_NODES = "MATCH (n) RETURN count(n) AS n"
COUNT_RELATIONSHIPS = "MATCH ()-[x]->() RETURN count(x) AS n"
FOREIGN_LABELS = "MATCH (n) WHERE none(l IN labels(n) WHERE l IN $labels) RETURN count(n) AS n"
DELETE_SOME = "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS n"

# --- queries -----------------------------------------------------------------------------------------

# Each query answers AND reports whether the race/driver exist, so one round trip tells a legitimately
# empty answer (a one-car team) from bad input (an unknown race).

ENTRY = """
OPTIONAL MATCH (r:Race {race_id: $race_id})
OPTIONAL MATCH (d:Driver {name: $driver})-[x:RESULT]->(r)
OPTIONAL MATCH (d)-[:RACED_FOR {race_id: $race_id}]->(t:Team)
OPTIONAL MATCH (d)-[:DROVE_MAKE {race_id: $race_id}]->(m:Manufacturer)
RETURN r IS NOT NULL AS race_known, EXISTS { (r)<-[:RESULT]-() } AS has_results, x IS NOT NULL AS in_race,
       t.name AS team, m.name AS manufacturer, x.car_number AS car_number
"""

TEAMMATES = """
OPTIONAL MATCH (r:Race {race_id: $race_id})
OPTIONAL MATCH (d:Driver {name: $driver})-[x:RESULT]->(r)
OPTIONAL MATCH (d)-[:RACED_FOR {race_id: $race_id}]->(:Team)<-[:RACED_FOR {race_id: $race_id}]-(mate:Driver)
WHERE mate <> d
RETURN r IS NOT NULL AS race_known, EXISTS { (r)<-[:RESULT]-() } AS has_results, x IS NOT NULL AS in_race,
       collect(mate.name) AS mates
"""

RECENT_SAME_TRACK_TYPE = """
OPTIONAL MATCH (target:Race {race_id: $race_id})
OPTIONAL MATCH (d:Driver {name: $driver})
CALL (target, d) {
  MATCH (d)-[x:RESULT]->(r:Race)
  WHERE r.event_type = 'points' AND r.track_type = target.track_type AND r.seq < target.seq
  MATCH (r)-[:AT]->(t:Track)
  WITH x, r, t ORDER BY r.seq DESC LIMIT $limit
  RETURN collect({race_id: r.race_id, season: r.season, race_num: r.race_num, track_slug: t.slug,
                  track_type: r.track_type, start: x.start, finish: x.finish, laps: x.laps,
                  laps_led: x.laps_led, fastest_laps: x.fastest_laps, status: x.status}) AS past
}
RETURN target IS NOT NULL AS race_known, target.seq AS seq, d IS NOT NULL AS driver_known, past
"""

COVARIATES = """
OPTIONAL MATCH (r:Race {race_id: $race_id})
CALL (r) {
  MATCH (r)<-[:RESULT]-(d:Driver)
  MATCH (d)-[:RACED_FOR {race_id: r.race_id}]->(t:Team)
  MATCH (d)-[:DROVE_MAKE {race_id: r.race_id}]->(m:Manufacturer)
  RETURN collect({driver: d.name, team: t.name, manufacturer: m.name}) AS rows
}
RETURN r IS NOT NULL AS race_known, r.track_type AS track_type, rows
"""

PING = "RETURN 1 AS ok"
