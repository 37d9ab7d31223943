"""Where the platform keeps files: one base folder shared by every process of a deployment, and
the one place its layout is spelled out (every path below is built here).

Layout under the base path:
  <asset>.<ext>                      unpartitioned outputs
  <asset>/<race>.<ext>               race-partitioned outputs
  <asset>/<race>/<spec>.<ext>        race x spec outputs
  specs/<spec key>.json              canonical JSON of every spec ever registered
  slates/<race>.csv                  the race's current DKSalaries.csv (what race_slate reads)
  slates/<race>/<version>.csv        every slate version stored for the race (slate_store.py)
  player_numbers/<race>/<owner>/<version>.csv  an owner's projections/ownership (player_numbers.py)
  reoptimizations/<key>.json|.csv    a re-optimization's request and its DKEntries.csv (reoptimizations.py)
  versions/<asset>/<race>/<spec>/<sha256>.<ext>
                                     each build of a result output (lineups, upload CSV, contest
                                     report) by its content, so a read is bound to one run's build
                                     (content_store.py); <asset>/<race>/<spec>.<ext> is the newest
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from nascar_dfs.core.race_key import validate_race_key

STORAGE_ENV = "NASCAR_DFS_STORAGE"
SPECS_DIR = "specs"
SLATES_DIR = "slates"
PLAYER_NUMBERS_DIR = "player_numbers"  # <race>/<owner digest>/<version>.csv (platform/player_numbers.py)
REOPTIMIZATIONS_DIR = "reoptimizations"
VERSIONS_DIR = "versions"


def default_base_path() -> Path:
    """$NASCAR_DFS_STORAGE, else $DAGSTER_HOME/storage, else ./var/storage."""
    explicit = os.environ.get(STORAGE_ENV)
    if explicit:
        return Path(explicit)
    home = os.environ.get("DAGSTER_HOME")
    if home:
        return Path(home) / "storage"
    return Path("var") / "storage"


def resolve_base_path(configured: str | None) -> Path:
    """Absolute, so paths recorded in metadata mean the same in every process."""
    return (Path(configured).expanduser() if configured else default_base_path()).resolve()


def asset_path(base: Path, asset: str, parts: list[str], suffix: str) -> Path:
    """The file of an asset's output: parts are [] / [race] / [race, spec] (see the layout above)."""
    if not parts:
        return base / f"{asset}{suffix}"
    return base.joinpath(asset, *parts[:-1], f"{parts[-1]}{suffix}")


def versions_dir(base: Path, asset: str, parts: list[str]) -> Path:
    """The folder of an asset partition's builds, one file per content (see the layout above)."""
    return base.joinpath(VERSIONS_DIR, asset, *parts)


CONTENT_DIGEST_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def version_path(base: Path, asset: str, parts: list[str], digest: str, suffix: str) -> Path:
    """The build of an asset partition whose bytes hash to `digest` (SHA-256, lowercase hex)."""
    if not isinstance(digest, str) or not CONTENT_DIGEST_PATTERN.match(digest):
        raise ValueError(f"invalid content digest {digest!r}: expected 64 lowercase hex characters")
    return versions_dir(base, asset, parts) / f"{digest}{suffix}"


def spec_path(base: Path, spec_key: str) -> Path:
    return base / SPECS_DIR / f"{spec_key}.json"


def reoptimization_paths(base: Path, key: str) -> tuple[Path, Path]:
    """The request (JSON) and the DKEntries.csv of one re-optimization partition."""
    folder = base / REOPTIMIZATIONS_DIR
    return folder / f"{key}.json", folder / f"{key}.csv"


SLATE_VERSION_PATTERN = re.compile(r"^[0-9a-f]{16}$")


def validate_slate_version(version: str) -> str:
    if not isinstance(version, str) or not SLATE_VERSION_PATTERN.match(version):
        raise ValueError(f"invalid slate version {version!r}: expected 16 lowercase hex characters")
    return version


def current_slate_path(slates_dir: Path, race: str) -> Path:
    """The race's current slate in a slates folder; the race key is checked before it names a file."""
    return slates_dir / f"{validate_race_key(race)}.csv"


def slate_version_path(slates_dir: Path, race: str, version: str) -> Path:
    return slates_dir / validate_race_key(race) / f"{validate_slate_version(version)}.csv"


def player_numbers_dir(base: Path, race: str, owner_digest: str) -> Path:
    """One owner's uploaded numbers of a race; the owner is a digest, so no owner name becomes a path."""
    return base / PLAYER_NUMBERS_DIR / validate_race_key(race) / validate_slate_version(owner_digest)


def player_numbers_path(base: Path, race: str, owner_digest: str, version: str) -> Path:
    """One owner's uploaded numbers (projections, ownership) of a race, under its content version."""
    return player_numbers_dir(base, race, owner_digest) / f"{validate_slate_version(version)}.csv"


def slate_upload_path(base: Path, race: str) -> Path:
    """Where the race's current DKSalaries.csv is under the base path (the race_slate asset reads it)."""
    return current_slate_path(base / SLATES_DIR, race)


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Run `write(tmp)` on a sibling temp file, then rename it over `path`.

    A reader in another process sees the old file or the new one, never a half-written one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
