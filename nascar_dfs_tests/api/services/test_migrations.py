"""A database made before a migration gets what it adds (SQLite here; test_postgres.py applies all
of them to PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from api.core import db


def test_a_database_from_before_v5_gets_the_request_warnings_column(tmp_path: Path) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:  # the v1 tables as they were: no warnings_json yet
        db.metadata.create_all(conn, tables=[db.schema_migrations, *db.V1_TABLES])
        conn.execute(sa.text("ALTER TABLE lineup_requests DROP COLUMN warnings_json"))
        conn.execute(sa.insert(db.schema_migrations).values(version=1, name="initial tables", applied_at=0.0))
    assert db.migrate(engine, 0.0) == [version for version, _, _ in db.MIGRATIONS[1:]]
    columns = {c["name"] for c in sa.inspect(engine).get_columns("lineup_requests")}
    assert "warnings_json" in columns
    engine.dispose()


def test_a_database_from_before_v8_gets_the_reoptimizations_table(tmp_path: Path) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'v7.db'}")
    assert db.migrate(engine, 0.0) == [version for version, _, _ in db.MIGRATIONS]
    with engine.begin() as conn:  # as a database stood at v7: no re-optimizations yet
        conn.execute(sa.text("DROP TABLE reoptimizations"))
        conn.execute(sa.delete(db.schema_migrations).where(db.schema_migrations.c.version == 8))
    assert db.migrate(engine, 0.0) == [8]
    columns = {c["name"] for c in sa.inspect(engine).get_columns("reoptimizations")}
    assert {"request_id", "partition_key", "entries_csv", "changes_json", "result_csv"} <= columns
    engine.dispose()
