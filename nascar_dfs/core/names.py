"""Driver names: one display spelling and one matching key per driver.

The rule is the one the shared data was built with (shared README, "Driver names"), so names from
a DraftKings slate, a NASCAR feed or a user's own export meet the history on the same key.
"""

from __future__ import annotations

import re
import unicodedata

_BRACKETED = re.compile(r"\s*[(\[][^)\]]*[)\]]")
_WHITESPACE = re.compile(r"\s+")
_CURLY_APOSTROPHES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u0060": "'", "\u00b4": "'"}
)

# True variants of one driver that lower-casing alone does not join (keys after normalization).
# Suffix variants are listed one by one rather than stripped by rule, because a bare name without
# "Jr" can be a different person (Dale Earnhardt and Dale Earnhardt Jr both raced Cup).
NAME_ALIASES: dict[str, str] = {
    "john h nemechek": "john hunter nemechek",
    "john nemechek": "john hunter nemechek",
    "ricky stenhouse": "ricky stenhouse jr",
    "martin truex": "martin truex jr",
    "sam hornish": "sam hornish jr",
    "will kimmel": "will kimmel iii",
    "ray black": "ray black jr",
    "robert richardson": "robert richardson jr",
    "ron hornaday": "ron hornaday jr",
}


def normalize_name(raw: str) -> str:
    """Display spelling: accents dropped, straight apostrophes, no "(i)" tags, no periods, single spaces."""
    if not isinstance(raw, str):
        raise TypeError(f"a driver name must be a string, got {type(raw).__name__}: {raw!r}")
    decomposed = unicodedata.normalize("NFKD", raw)
    unmarked = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    text = _BRACKETED.sub(" ", unmarked.translate(_CURLY_APOSTROPHES)).replace(".", "")
    name = _WHITESPACE.sub(" ", text).strip()
    if not name:
        raise ValueError(f"driver name {raw!r} is empty after normalization")
    return name


def name_key(raw: str) -> str:
    """Matching key: the display spelling lower-cased, with known variants joined by the alias table."""
    key = normalize_name(raw).lower()
    return NAME_ALIASES.get(key, key)
