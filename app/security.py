"""API keys: `idc_<prefix>_<secret>`; only the SHA-256 of the whole key is stored.

The keys are 256-bit random strings, so a plain SHA-256 (no slow hash) is enough: there is
nothing to brute-force. The prefix finds the row; `secrets.compare_digest` compares the hashes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApiKey, utcnow

KEY_PREFIX = "idc"


@dataclass(frozen=True)
class NewKey:
    """A freshly created key; `key` is shown once and never stored."""

    id: str
    owner: str
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, owner: str, name: str = "") -> NewKey:
    owner = owner.strip()
    if not owner or len(owner) > 100:
        raise ValueError("owner must be 1 to 100 characters")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(owner=owner, name=name, prefix=prefix, key_hash=hash_key(key))
    session.add(row)
    session.flush()
    return NewKey(id=row.id, owner=owner, key=key)


def key_lookup(key: str) -> tuple[str, str] | None:
    """(prefix, SHA-256) of a key of our form, which find and check its row; None otherwise."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    return parts[1], hash_key(key)


def owner_if_valid(row: Any, key_hash: str) -> str | None:
    """The owner of a key row (`owner`, `key_hash`, `revoked_at`) found by the key's prefix, or
    None when there is no row, it is revoked or the hashes differ."""
    if row is None or row.revoked_at is not None:
        return None
    if not secrets.compare_digest(row.key_hash, key_hash):
        return None
    return row.owner


KEY_COLUMNS = (ApiKey.owner, ApiKey.key_hash, ApiKey.revoked_at)


def authenticate(session: Session, key: str) -> str | None:
    """The owner of `key`, or None when the key is unknown, malformed or revoked."""
    lookup = key_lookup(key)
    if lookup is None:
        return None
    prefix, key_hash = lookup
    row = session.execute(select(*KEY_COLUMNS).where(ApiKey.prefix == prefix)).first()
    return owner_if_valid(row, key_hash)


def revoke_api_key(session: Session, key_id_or_prefix: str) -> bool:
    row = session.scalar(
        select(ApiKey).where((ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix))
    )
    if row is None:
        return False
    row.revoked_at = utcnow()
    return True
