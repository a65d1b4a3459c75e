"""Applies a SCIM PatchOp (RFC 7644 §3.5.2) to a stored resource; group membership comes back as ordered deltas.
Pure: the path parser and filter matcher are injected, storage applies the result."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PatchPath:
    urn: str | None
    name: str
    value_filter: object | None = None
    sub: str | None = None
