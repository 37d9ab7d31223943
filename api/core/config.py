"""API settings, read from the environment (prefix NASCAR_DFS_API_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "share" / "nascar-dfs" / "api"


class Settings(BaseSettings):
    """Every limit and timeout of the API; docs/api.md lists them with their env names."""

    model_config = SettingsConfigDict(env_prefix="NASCAR_DFS_API_", extra="ignore")

    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{_default_state_dir() / 'api.db'}",
        description="SQLAlchemy URL of the API's own tables; PostgreSQL as postgresql+psycopg2://...",
    )
    data_dir: Path | None = Field(None, description="race history (races.csv) listing the known races")
    public_base_url: str = "http://127.0.0.1:8000"

    # Rate limits (sliding window, per API key) and the active-run cap.
    submit_per_minute: int = Field(10, ge=1)
    submit_per_day: int = Field(100, ge=1)
    read_per_minute: int = Field(120, ge=1)
    cancel_per_minute: int = Field(30, ge=1)
    auth_failures_per_minute: int = Field(20, ge=1)
    active_runs_per_key: int = Field(2, ge=1)
    rate_limits_enabled: bool = True

    # Request bodies above this are refused 413 before authentication and before parsing (the
    # slate upload has its own limit, slate_max_bytes). 256 KiB holds the largest spec the spec's
    # own caps allow (nascar_dfs/core/scenarios/spec.py).
    max_request_bytes: int = Field(256 * 1024, ge=1024)

    # Plan limits on one request.
    max_lineups_per_request: int = Field(500, ge=1, le=500)
    page_size_max: int = Field(100, ge=1)
    slate_max_bytes: int = Field(1_000_000, ge=1)

    # Idempotency and retention.
    idempotency_retention_s: int = Field(24 * 3600, ge=3600)

    # Background relay / reconciler. No run timeout here: Dagster's run monitoring and each run's
    # `dagster/max_runtime` tag (nascar_dfs/platform/tags.py) decide, and requests mirror them.
    background_worker: bool = True
    worker_interval_s: float = Field(1.0, gt=0)
    launch_max_attempts: int = Field(5, ge=1)
    # Attempts at what follows a run's end (storing its results, its history) and at a cancel's
    # terminate, with exponential backoff, before the request ends failed with the root cause
    # (a request never holds an active-run slot on an error that keeps coming back).
    followup_max_attempts: int = Field(6, ge=1)
    run_lost_timeout_s: int = Field(120, ge=1)
    retry_after_s: int = Field(5, ge=1)

    # Health probes.
    health_check_timeout_s: float = Field(1.0, gt=0)
    health_cache_s: float = Field(5.0, ge=0)
    daemon_heartbeat_max_age_s: float = Field(120.0, gt=0)

    # /metrics: on a port of its own when metrics_port is set (and then not on the API port, so
    # an Ingress in front of the API never exposes it); on the API port otherwise (development).
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # The domain metrics (SQL aggregates, and the Dagster-side ones, time-boxed) are computed at
    # most this often: a scrape storm costs one set of queries.
    metrics_cache_s: float = Field(15.0, ge=0)
    metrics_dagster_timeout_s: float = Field(5.0, gt=0)

    # Dagster (the job names are the platform's: nascar_dfs/platform/jobs.py). Uploaded slates go
    # where the platform reads them, under $NASCAR_DFS_STORAGE (nascar_dfs/platform/storage.py).
    dagster_url: str = "http://127.0.0.1:3000"
    dagster_location: str = "nascar_dfs.definitions"
    dagster_timeout_s: float = Field(10.0, gt=0)

    # Webhooks (Standard Webhooks, HMAC-SHA256 "v1"), signed with each owner's own secrets
    # (POST /v1/webhook-secrets); after a rotation the replaced secrets sign for this long too.
    webhook_secret_overlap_s: int = Field(24 * 3600, ge=0)
    webhook_allow_private: bool = False
    # The overall deadline of one delivery attempt: DNS, connect, TLS and every read together.
    webhook_timeout_s: float = Field(15.0, gt=0)
    webhook_max_attempts: int = Field(8, ge=1)
    # Deliveries in flight at once per process, on workers of their own (never the relay's loop
    # that launches and cancels runs): this many slow endpoints stall other webhooks, no run.
    webhook_concurrency: int = Field(8, ge=1, le=64)
