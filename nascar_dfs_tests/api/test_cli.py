"""`nascar-dfs api-keys create/revoke` against the API's database."""

from __future__ import annotations

from pathlib import Path

from nascar_dfs.cli import main

from .conftest import Api


def test_created_key_works_once_printed_and_revoke_disables_it(make_api, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api()
    url = api.settings.database_url
    assert main(["api-keys", "--database-url", url, "create", "--owner", "frank", "--scope", "admin"]) == 0
    out = capsys.readouterr().out
    key = next(line for line in out.splitlines() if line.startswith("ndfs_"))
    key_id = key.split("_")[1]
    headers = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/health", headers=headers).status_code == 200  # admin scope
    assert main(["api-keys", "--database-url", url, "revoke", key_id]) == 0
    assert api.client.get("/v1/races", headers=headers).status_code == 401


def test_revoking_an_unknown_key_is_a_clear_error(make_api, capsys) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api()
    assert main(["api-keys", "--database-url", api.settings.database_url, "revoke", "0123456789abcdef"]) == 2
    assert "no API key with id" in capsys.readouterr().err


def test_bad_owner_is_refused(make_api, capsys) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api()
    code = main(["api-keys", "--database-url", api.settings.database_url, "create", "--owner", "a b"])
    assert code == 2 and "owner" in capsys.readouterr().err
