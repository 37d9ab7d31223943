"""The API's own tables (SQLAlchemy Core), engine set-up and versioned migrations.

Times are stored as UTC epoch seconds (float): portable between SQLite and PostgreSQL and cheap
to compare for windows and timeouts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(100), nullable=False, index=True),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float),
    sa.Column("expires_at", sa.Float),
    sa.Column("revoked_at", sa.Float),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("principal", sa.String(100), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("route", sa.String(200), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("response_status", sa.Integer),
    sa.Column("resource_id", sa.String(36)),
    sa.UniqueConstraint("principal", "method", "route", "key", name="uq_idempotency_scope"),
)

lineup_requests = sa.Table(
    "lineup_requests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("race_id", sa.String(100), nullable=False),
    sa.Column("spec_json", sa.Text, nullable=False),
    sa.Column("spec_key", sa.String(16), nullable=False),
    sa.Column("lineups", sa.Integer, nullable=False),
    sa.Column("callback_url", sa.String(2048)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("root_run_id", sa.String(64)),
    sa.Column("progress_phase", sa.String(32)),
    sa.Column("progress_percent", sa.Float, nullable=False, default=0.0),
    sa.Column("error_json", sa.Text),
    sa.Column("warnings_json", sa.Text),  # [{code, detail}] of the lineups' scenario set (v5)
    sa.Column("http_request_id", sa.String(128)),
    sa.Column(
        "idempotency_key_id",
        sa.Integer,
        sa.ForeignKey("idempotency_keys.id", ondelete="SET NULL"),
    ),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("launched_at", sa.Float),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("status_seen_at", sa.Float),
    # Failed attempts at the request's follow-up (results, history) in a row, and when the next is
    # due (api/orchestration/reconciler.py): bounded by `followup_max_attempts`.
    sa.Column("followup_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("followup_after", sa.Float),
    sa.Index("ix_lineup_requests_owner_created", "owner", "created_at", "id"),
    sa.Index("ix_lineup_requests_status", "status"),
)

lineup_results = sa.Table(
    "lineup_results",
    metadata,
    sa.Column("request_id", sa.String(36), sa.ForeignKey("lineup_requests.id"), primary_key=True),
    sa.Column("lineups_json", sa.Text, nullable=False),
    sa.Column("upload_csv", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", sa.String(100), nullable=False),
    sa.Column("available_at", sa.Float, nullable=False),
    sa.Column("claimed_until", sa.Float),
    # Which relay holds the lease (api/orchestration/relay.py): a row is finished or rescheduled
    # only by its holder, so a replica whose lease lapsed cannot undo the one that took over.
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("done_at", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_outbox_pending", "done_at", "available_at"),
)

rate_limit_counters = sa.Table(
    "rate_limit_counters",
    metadata,
    sa.Column("bucket", sa.String(200), primary_key=True),
    sa.Column("window", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("principal", sa.String(100)),
    sa.Column("key_id", sa.String(32)),
    sa.Column("source_ip", sa.String(64)),
    sa.Column("request_id", sa.String(128)),
    sa.Column("target", sa.String(200)),
    sa.Column("outcome", sa.String(64)),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(36), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

run_metrics = sa.Table(
    "run_metrics",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(36)),
    sa.Column("kernel", sa.String(32), nullable=False),
    sa.Column("proposals", sa.BigInteger, nullable=False),
    sa.Column("rejections", sa.BigInteger, nullable=False),
    sa.Column("crps", sa.Float),
    sa.Column("recorded_at", sa.Float, nullable=False),
)

# The runs of each request, retries included (a retried Dagster run gets a new run id): written by
# the reconciler from Dagster, read by GET /v1/lineup-requests/{id} as the request's history.
lineup_request_runs = sa.Table(
    "lineup_request_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(36), sa.ForeignKey("lineup_requests.id"), nullable=False),
    sa.Column("step", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("retry_of", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("failure", sa.Text),
    sa.Index("ix_lineup_request_runs_request", "request_id", "created_at"),
)

# Pre-lock re-optimizations of a succeeded request's DKEntries.csv (v8): each is one run of the
# platform's `reoptimized_entries` partition `partition_key` (a content hash of the request's
# race x spec, the file and the changes); the re-optimized file is kept once the run succeeded.
reoptimizations = sa.Table(
    "reoptimizations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("request_id", sa.String(36), sa.ForeignKey("lineup_requests.id"), nullable=False),
    sa.Column("race_id", sa.String(100), nullable=False),
    sa.Column("spec_key", sa.String(16), nullable=False),
    sa.Column("partition_key", sa.String(16), nullable=False),
    sa.Column("entries_csv", sa.Text, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),  # entries in the file, as its reader counted them
    sa.Column("changes_json", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("error_json", sa.Text),
    sa.Column("result_csv", sa.Text),
    sa.Column("http_request_id", sa.String(128)),
    sa.Column(
        "idempotency_key_id",
        sa.Integer,
        sa.ForeignKey("idempotency_keys.id", ondelete="SET NULL"),
    ),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("launched_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Index("ix_reoptimizations_owner_request", "owner", "request_id"),
    sa.Index("ix_reoptimizations_status", "status"),
)


V1_TABLES = [
    api_keys,
    idempotency_keys,
    lineup_requests,
    lineup_results,
    outbox,
    rate_limit_counters,
    audit_log,
    webhook_deliveries,
    run_metrics,
]


# The contest report of a succeeded request whose spec names a contest (as the Dagster run wrote it).
lineup_contests = sa.Table(
    "lineup_contests",
    metadata,
    sa.Column("request_id", sa.String(36), sa.ForeignKey("lineup_requests.id"), primary_key=True),
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


# Each owner's webhook signing secrets (Standard Webhooks `whsec_`): the newest, plus the ones it
# replaced until their `expires_at` (the rotation overlap). The API signs with them, so they are
# stored as issued (a hash could not sign); they never leave the API after the response that
# issued them.
webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(100), nullable=False, index=True),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),
)


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn, tables=V1_TABLES)


def _v2_request_runs(conn: Connection) -> None:
    metadata.create_all(conn, tables=[lineup_request_runs])


def _v3_lineup_contests(conn: Connection) -> None:
    metadata.create_all(conn, tables=[lineup_contests])


def _v4_webhook_secrets(conn: Connection) -> None:
    metadata.create_all(conn, tables=[webhook_secrets])


def _v5_request_warnings(conn: Connection) -> None:
    # v1 creates today's table, which has the column; a database made before v5 gets it here.
    columns = {c["name"] for c in sa.inspect(conn).get_columns("lineup_requests")}
    if "warnings_json" not in columns:
        conn.execute(sa.text("ALTER TABLE lineup_requests ADD COLUMN warnings_json TEXT"))


def _v6_outbox_claimed_by(conn: Connection) -> None:
    # Databases created before v6 made `outbox` without the column (v1 creates from `metadata`,
    # so a new database has it already).
    if "claimed_by" not in {c["name"] for c in sa.inspect(conn).get_columns("outbox")}:
        conn.execute(sa.text("ALTER TABLE outbox ADD COLUMN claimed_by VARCHAR(64)"))


def _v7_followup_attempts(conn: Connection) -> None:
    have = {c["name"] for c in sa.inspect(conn).get_columns("lineup_requests")}
    if "followup_attempts" not in have:
        conn.execute(
            sa.text("ALTER TABLE lineup_requests ADD COLUMN followup_attempts INTEGER NOT NULL DEFAULT 0")
        )
    if "followup_after" not in have:
        conn.execute(sa.text("ALTER TABLE lineup_requests ADD COLUMN followup_after FLOAT"))


def _v8_reoptimizations(conn: Connection) -> None:
    metadata.create_all(conn, tables=[reoptimizations])


# Append-only: (version, name, step). Never edit an applied step; add a new one.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial tables", _v1_initial),
    (2, "runs of each lineup request (history)", _v2_request_runs),
    (3, "contest reports of lineup requests", _v3_lineup_contests),
    (4, "webhook signing secrets per owner", _v4_webhook_secrets),
    (5, "warnings of lineup requests", _v5_request_warnings),
    (6, "lease holder of each outbox row", _v6_outbox_claimed_by),
    (7, "bounded follow-up attempts of lineup requests", _v7_followup_attempts),
    (8, "pre-lock re-optimizations of lineup requests", _v8_reoptimizations),
]


def create_db_engine(url: str) -> Engine:
    """Engine for SQLite (file, serialised writers) or PostgreSQL."""
    if url.startswith("postgresql://"):
        # SQLAlchemy 2.1 maps postgresql:// to psycopg 3, which is not installed.
        url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _serialise_sqlite_writers(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _serialise_sqlite_writers(engine: Engine) -> None:
    # pysqlite's deferred BEGIN lets two readers both try to upgrade to writers and deadlock;
    # BEGIN IMMEDIATE takes the write lock up front, so concurrent transactions queue instead.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: never corrupt, and only an OS crash or power cut can lose the last
        # commits; FULL would fsync on every rate-limit count (about 10 ms per request here).
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    # Every transaction takes SQLite's write lock; threads of this process queue for it on a
    # Python lock instead. SQLite's own busy handler sleeps 1, 2, 5 ... 100 ms between retries,
    # so under concurrent requests the waiters overslept the lock's release and throughput
    # collapsed into a convoy (status reads at 100/s: p50 in seconds). Held from BEGIN until the
    # connection is back in the pool. A second connection of the thread that holds it does not
    # wait here (SQLite's busy timeout applies, as before), and the release may come from any
    # thread (a connection finalized by the garbage collector), hence a plain lock and an owner.
    lock = threading.Lock()
    owner: list[int | None] = [None]

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        me = threading.get_ident()
        if not conn.info.get(_HOLDS_LOCK) and owner[0] != me:
            lock.acquire()
            owner[0] = me
            conn.info[_HOLDS_LOCK] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    def _release(info: dict) -> None:
        if info.pop(_HOLDS_LOCK, False):
            owner[0] = None
            lock.release()

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        _release(record.info)


_HOLDS_LOCK = "nascar_dfs_holds_write_lock"


def is_postgres(conn_or_engine: Connection | Engine) -> bool:
    return conn_or_engine.dialect.name == "postgresql"


def insert_ignoring_conflict(conn: Connection, table: sa.Table) -> sa.Insert:
    """INSERT ... ON CONFLICT DO NOTHING for the connection's dialect."""
    dialect = postgresql if is_postgres(conn) else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def upsert_increment(conn: Connection, table: sa.Table, index: list[str]) -> sa.Insert:
    dialect = postgresql if is_postgres(conn) else sqlite
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(index_elements=index, set_={"count": table.c.count + 1})


def migrate(engine: Engine, now: float) -> list[int]:
    """Apply pending migrations in order; returns the versions applied."""
    applied: list[int] = []
    with engine.begin() as conn:
        if is_postgres(conn):
            # Several replicas may start at once: one migrates, the others wait and see it done.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
        metadata.create_all(conn, tables=[schema_migrations])
        done = set(conn.execute(sa.select(schema_migrations.c.version)).scalars())
        for version, name, step in MIGRATIONS:
            if version in done:
                continue
            step(conn)
            conn.execute(sa.insert(schema_migrations).values(version=version, name=name, applied_at=now))
            applied.append(version)
    return applied
