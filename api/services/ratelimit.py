"""Sliding-window-counter rate limits held in the API's SQL database (shared by every replica).

Each policy keeps one counter row per (bucket, fixed window); the estimate weights the previous
window by the part of it still inside the sliding window, which removes the boundary double
burst of a plain fixed window at the cost of two rows per policy and partition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from api.core.config import Settings
from api.core.db import rate_limit_counters, upsert_increment


@dataclass(frozen=True)
class Policy:
    name: str
    quota: int
    window_s: int


# One audit row per partition and minute: for rate-limit breaches (per owner) and for failed
# authentications of a limited address (per IP).
AUDIT_SAMPLE = Policy("audit-sample", 1, 60)
AUTH_AUDIT = Policy("auth-audit", 1, 60)


def submit_policies(settings: Settings) -> list[Policy]:
    return [
        Policy("submit", settings.submit_per_minute, 60),
        Policy("submit-daily", settings.submit_per_day, 86400),
    ]


def read_policies(settings: Settings) -> list[Policy]:
    return [Policy("read", settings.read_per_minute, 60)]


def cancel_policies(settings: Settings) -> list[Policy]:
    return [Policy("cancel", settings.cancel_per_minute, 60)]


def auth_failure_policy(settings: Settings) -> Policy:
    """Failed authentications per client address (counted only when a key was refused)."""
    return Policy("auth-failures", settings.auth_failures_per_minute, 60)


@dataclass(frozen=True)
class PolicyState:
    policy: Policy
    remaining: int
    reset_s: int
    allowed: bool
    retry_after_s: int


@dataclass(frozen=True)
class Decision:
    states: list[PolicyState]

    @property
    def allowed(self) -> bool:
        return all(s.allowed for s in self.states)

    @property
    def violated(self) -> list[str]:
        return [s.policy.name for s in self.states if not s.allowed]

    @property
    def retry_after_s(self) -> int:
        return max((s.retry_after_s for s in self.states if not s.allowed), default=0)

    def headers(self) -> dict[str, str]:
        """RateLimit / RateLimit-Policy fields (draft-ietf-httpapi-ratelimit-headers-10)."""
        policy = ", ".join(f'"{s.policy.name}";q={s.policy.quota};w={s.policy.window_s}' for s in self.states)
        tightest = min(self.states, key=lambda s: (s.remaining, -s.reset_s))
        headers = {
            "RateLimit-Policy": policy,
            "RateLimit": f'"{tightest.policy.name}";r={tightest.remaining};t={tightest.reset_s}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


def _counts(conn: Connection, bucket: str, window: int) -> tuple[int, int]:
    """(previous window, current window) in one query: this runs on every rate-limited request.

    On PostgreSQL the current window's row is first locked (created at 0 if missing) with
    INSERT ... ON CONFLICT DO UPDATE, so concurrent hits on one bucket queue on that row until
    the transaction that counted commits: under READ COMMITTED a plain read-then-increment let
    every concurrent submit see the same count and pass. (SQLite's writers are already one at a
    time: BEGIN IMMEDIATE, api/core/db.py.)
    """
    c = rate_limit_counters.c
    if conn.dialect.name == "postgresql":
        lock = (
            postgresql.insert(rate_limit_counters)
            .values(bucket=bucket, window=window, count=0)
            .on_conflict_do_update(index_elements=["bucket", "window"], set_={"count": c.count})
        )
        conn.execute(lock)
    rows = conn.execute(
        sa.select(c.window, c.count).where(c.bucket == bucket, c.window.in_([window - 1, window]))
    ).all()
    found = {int(w): int(n) for w, n in rows}
    return found.get(window - 1, 0), found.get(window, 0)


def _retry_after(policy: Policy, prev: int, cur: int, frac: float) -> float:
    """Seconds until one more request fits: solve prev*(1-f) + cur + 1 <= quota for f."""
    w = policy.window_s
    if cur + 1 <= policy.quota:
        needed = 1.0 - (policy.quota - cur - 1) / prev if prev else 0.0
        return max(0.0, (needed - frac) * w)
    # The current window alone is over quota: wait for it to become the weighted previous one.
    needed_next = max(0.0, 1.0 - (policy.quota - 1) / cur)
    return (1.0 - frac) * w + needed_next * w


def _evaluate(conn: Connection, policy: Policy, partition: str, now: float) -> PolicyState:
    bucket = f"{policy.name}:{partition}"
    window = int(now // policy.window_s)
    frac = (now % policy.window_s) / policy.window_s
    prev, cur = _counts(conn, bucket, window)
    estimate = prev * (1.0 - frac) + cur
    allowed = estimate + 1 <= policy.quota
    used = estimate + (1 if allowed else 0)
    reset = math.ceil((1.0 - frac) * policy.window_s)
    retry = 0 if allowed else max(1, math.ceil(_retry_after(policy, prev, cur, frac)))
    return PolicyState(policy, max(0, math.floor(policy.quota - used)), reset, allowed, retry)


def hit(conn: Connection, policies: list[Policy], partition: str, now: float) -> Decision:
    """Count one request against every policy, unless one of them is already exhausted."""
    if conn.dialect.name == "postgresql":
        # Counters need no durability: do not wait for the WAL flush (this transaction only).
        conn.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
    states = [_evaluate(conn, p, partition, now) for p in policies]
    decision = Decision(states)
    if decision.allowed:
        for p in policies:
            conn.execute(
                upsert_increment(conn, rate_limit_counters, ["bucket", "window"]).values(
                    bucket=f"{p.name}:{partition}", window=int(now // p.window_s), count=1
                )
            )
    return decision


def prune(conn: Connection, policies: list[Policy], now: float) -> int:
    """Delete counters older than the previous window of their policy (no longer read)."""
    deleted = 0
    for p in policies:
        result = conn.execute(
            sa.delete(rate_limit_counters).where(
                rate_limit_counters.c.bucket.like(f"{p.name}:%"),
                rate_limit_counters.c.window < int(now // p.window_s) - 1,
            )
        )
        deleted += result.rowcount or 0
    return deleted
