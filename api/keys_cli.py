"""`nascar-dfs api-keys`: create and revoke the REST API's keys (the key is printed once).

It lives in the API package and reaches the `nascar-dfs` command through the `nascar_dfs.commands`
entry point (pyproject.toml), so nascar_dfs never imports the API.
"""

from __future__ import annotations

import argparse
import time

from api.core.config import Settings
from api.core.db import create_db_engine, migrate
from api.services.keys import SCOPES, ApiKeyError, create_key, revoke_key
from nascar_dfs.cli import CliError

HELP = "create or revoke API keys of the REST API (database from NASCAR_DFS_API_DATABASE_URL)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="issue a new key and print it once")
    create.add_argument(
        "--owner", required=True, help="who the key belongs to (several keys per owner rotate)"
    )
    create.add_argument(
        "--scope", choices=SCOPES, default="user", help="user (read+write), requests:read (read only), admin"
    )
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the key id (the part after 'ndfs_' in the key)")
    parser.add_argument("--database-url", default=None, help="overrides NASCAR_DFS_API_DATABASE_URL")


def run(args: argparse.Namespace) -> int:
    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    engine = create_db_engine(settings.database_url)
    try:
        migrate(engine, time.time())
        if args.action == "create":
            issued = create_key(engine, args.owner, args.scope, time.time())
            print(f"key id: {issued.key_id}  owner: {issued.owner}  scope: {issued.scope}")
            print("API key (shown once, store it now):")
            print(issued.secret_key)
        else:
            owner = revoke_key(engine, args.key_id, time.time())
            print(f"revoked key {args.key_id} of {owner}")
    except ApiKeyError as exc:
        raise CliError(str(exc)) from exc
    finally:
        engine.dispose()
    return 0
