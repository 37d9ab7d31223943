"""The Dagster instance folder: embedded SQLite by default, PostgreSQL when DAGSTER_PG_HOST is set.

Dagster picks its instance YAML only from $DAGSTER_HOME/dagster.yaml, so switching "by environment
alone" means choosing the folder: the repo's dagster.yaml goes to ./var/dagster_home, and
deploy/postgres/dagster.yaml (which reads DAGSTER_PG_* itself) to ./var/dagster_home_pg. An
explicit DAGSTER_HOME wins over both defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from nascar_dfs.platform.storage import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_YAML = REPO_ROOT / "dagster.yaml"
POSTGRES_YAML = REPO_ROOT / "deploy" / "postgres" / "dagster.yaml"
PG_VARS = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB")


def uses_postgres(env: Mapping[str, str]) -> bool:
    return bool(env.get("DAGSTER_PG_HOST"))


def instance_yaml(env: Mapping[str, str]) -> Path:
    if uses_postgres(env):
        missing = [v for v in PG_VARS if not env.get(v)]
        if missing:
            raise ValueError(f"DAGSTER_PG_HOST is set but {', '.join(missing)} is not")
        return POSTGRES_YAML
    return DEFAULT_YAML


def prepare_dagster_home(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """Create the instance folder with the dagster.yaml the environment asks for; returns it."""
    env = os.environ if env is None else env
    source = instance_yaml(env)
    if not source.exists():
        raise FileNotFoundError(f"{source} not found: run from a checkout of nascar-dfs (pip install -e .)")
    default = "var/dagster_home_pg" if uses_postgres(env) else "var/dagster_home"
    home = Path(env.get("DAGSTER_HOME") or (cwd or Path.cwd()) / default).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    text = source.read_text(encoding="utf-8")
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        atomic_write_text(target, text)
    return home
