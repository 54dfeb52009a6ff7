"""The module's key directory: metadata and lifecycle state of every key, stored with the keys.

The directory lives inside the backend (sealed keystore / a private token object), so the module
enforces revocation and versions without trusting the database; ``security_key`` rows in the
database are a mirror of it for listing and reports (``inventory.sync_inventory``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sscard.security_module.backend import KeyKind, key_ref

ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"
STATES = (ACTIVE, RETIRED, REVOKED)
FORMAT = 1


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class KeyVersion:
    version: int
    kcv: str
    origin: str  # generated | derived | ceremony | imported | generated-dev
    held: bool  # key bytes stored in the backend (else re-derived from ``parent`` when used)
    parent: str | None = None  # "<label>@<version>" the key was derived from
    state: str = ACTIVE
    created: str = field(default_factory=now_iso)
    rotated: str | None = None  # when a newer version replaced it as current
    retired: str | None = None
    revoked: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class KeyEntry:
    label: str
    level: str  # national | province | city | local
    region: str
    purpose: str
    kind: KeyKind
    exportable: bool
    current: int
    versions: dict[int, KeyVersion]

    def version(self, version: int) -> KeyVersion | None:
        return self.versions.get(version)

    def ref(self, version: int | None = None) -> str:
        return key_ref(self.label, self.current if version is None else version)


@dataclass(slots=True)
class Directory:
    suite: str
    entries: dict[str, KeyEntry] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "suite": self.suite,
            "keys": {
                label: {**asdict(e), "versions": {str(v): asdict(kv) for v, kv in e.versions.items()}}
                for label, e in self.entries.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Directory:
        entries = {}
        for label, raw in data.get("keys", {}).items():
            versions = {int(v): KeyVersion(**kv) for v, kv in raw["versions"].items()}
            entries[label] = KeyEntry(**{**raw, "versions": versions})
        return cls(suite=str(data["suite"]), entries=entries)
