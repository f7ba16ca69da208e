"""Seeds derived from (job seed, instance name), so an instance's result never depends on which
other instances were condensed before it in this process (resume gives identical files)."""

from __future__ import annotations

import hashlib


def instance_seed(seed: int, name: str) -> int:
    """A 63-bit seed from the job seed and the instance name (stable across runs and machines)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
