"""Result outputs stored by content, so what a run built stays readable after a rebuild.

The lineups, the upload CSV and the contest report of a race x spec are what a user takes away; two
runs of one partition (two requests, a request and a UI rebuild) used to overwrite one file, so a
request could be handed another run's lineups, or a JSON and a CSV of different runs. Each build is
now written once under the SHA-256 of its bytes (storage.py, `versions/`), the digest goes into the
materialization's metadata (`content_digest`), and the partition's usual file becomes a hard link to
the newest build (what the UI, the CLI and older readers open). Readers that must be exact read by
the digest of the materialization their run produced (materializations.bound_materialization).

Builds older than the retention are removed when the partition is written again; the newest stays,
whatever its age, and identical builds share one file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from nascar_dfs.platform.codecs import Codec
from nascar_dfs.platform.storage import asset_path, version_path, versions_dir

CONTENT_DIGEST = "content_digest"  # metadata: SHA-256 of the stored build's bytes
LINEUPS_DIGEST = "lineups_digest"  # metadata of a lineups consumer: the build it was made from
DEFAULT_RETENTION_HOURS = 168.0  # longer than the API's follow-up retries of a result read
_STAGING = ".staging-"


class ContentMismatchError(ValueError):
    """A stored build's bytes no longer hash to its name: the file was altered after it was written."""


@dataclass(frozen=True)
class StoredBuild:
    digest: str
    path: Path


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_build(
    base: Path,
    asset: str,
    parts: list[str],
    codec: Codec,
    obj: object,
    *,
    retention_hours: float = DEFAULT_RETENTION_HOURS,
    now: float | None = None,
) -> StoredBuild:
    """Store `obj` under its content digest, point the partition's usual file at it, and drop the
    partition's builds older than the retention (never the one just written)."""
    folder = versions_dir(base, asset, parts)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f"{_STAGING}{uuid.uuid4().hex}{codec.suffix}"
    try:
        codec.write(obj, staging)
        digest = sha256_file(staging)
        final = version_path(base, asset, parts, digest, codec.suffix)
        os.replace(staging, final)  # an identical earlier build is replaced by the same bytes
    finally:
        staging.unlink(missing_ok=True)
    _publish(final, asset_path(base, asset, parts, codec.suffix))
    cutoff = (time.time() if now is None else now) - retention_hours * 3600
    prune_builds(folder, keep=final, older_than=cutoff)
    return StoredBuild(digest, final)


def _publish(build: Path, shared: Path) -> None:
    """Make the partition's usual file the build, atomically (a reader sees the old or the new)."""
    shared.parent.mkdir(parents=True, exist_ok=True)
    tmp = shared.parent / f".{shared.name}.{uuid.uuid4().hex}.tmp"
    try:
        try:
            os.link(build, tmp)  # no second copy of the bytes
        except OSError:  # a filesystem without hard links
            shutil.copyfile(build, tmp)
        os.replace(tmp, shared)
    finally:
        tmp.unlink(missing_ok=True)


def prune_builds(folder: Path, *, keep: Path, older_than: float) -> list[Path]:
    """Remove the builds (and abandoned staging files) of one partition last written before
    `older_than`, except `keep`; returns what was removed."""
    removed = []
    for path in folder.iterdir():
        if path == keep or not path.is_file():
            continue
        try:
            if path.stat().st_mtime < older_than:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # another writer of the partition pruned it first
            continue
    return removed


def read_build(base: Path, asset: str, parts: list[str], digest: str, codec: Codec) -> object:
    """The build of an asset partition with this content digest; FileNotFoundError when it is no
    longer stored (removed after the retention), ContentMismatchError when it was altered."""
    path = version_path(base, asset, parts, digest, codec.suffix)
    if not path.exists():
        raise FileNotFoundError(
            f"the {asset} of {'|'.join(parts)} with content {digest[:16]} is no longer stored at {path}"
        )
    if sha256_file(path) != digest:
        raise ContentMismatchError(f"{path} does not hold the content its name says ({digest[:16]})")
    return codec.read(path)
