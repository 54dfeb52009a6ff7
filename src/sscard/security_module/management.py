"""Key management inside the module: root, region derivation, local keys, rotation, revocation,
export and import under a transport key, and keys formed from ceremony components (KEY-1..3, KEY-6).

No database here: ``inventory`` and ``ceremony`` call these and record the inventory and the audit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import reduce
from typing import Any, Protocol

from sscard.config import get_settings
from sscard.security_module import primitives
from sscard.security_module.backend import KeyKind, key_ref, usage_of
from sscard.security_module.core import BOOTSTRAP, ModuleCore
from sscard.security_module.directory import ACTIVE, RETIRED, REVOKED, KeyEntry, KeyVersion, now_iso
from sscard.security_module.diversify import (
    EXPORTABLE_PURPOSES,
    LOCAL_PURPOSES,
    NATIONAL,
    ROOT,
    is_hierarchy_label,
    region_labels,
    spec_of,
)
from sscard.security_module.errors import (
    DualControlRequired,
    KcvMismatch,
    KeyExists,
    KeyInputInvalid,
    KeyNotExportable,
    KeyNotFound,
    KeyUsageInvalid,
    KeyVersionUnknown,
)

_LABEL = re.compile(r"^[A-Z][A-Z0-9_-]{0,15}(/[A-Z0-9_-]{1,24}){0,2}$")
# Rotating these would orphan every blind index / break the audit chain's verification.
NOT_ROTATABLE = frozenset({"INDEX", "AUDIT", "ANCHOR"})
COMPONENT_LEN = 16


# KEY-6: who may act as one of the two custodians of the national root or a province key.
CUSTODIAN_ROLES = frozenset({"key_custodian", "security_officer"})
DEV_ROOT = "generated-dev"


class Principal(Protocol):
    """An authenticated staff member as the entrypoint established it (``sscard.audit.Actor``)."""

    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...


def needs_dual_control(label: str) -> bool:
    """The national root and the province keys (KEY-1, KEY-6); city, terminal and local keys do not."""
    return is_hierarchy_label(label) and spec_of(label).level in ("national", "province")


def require_dual_control(what: str, custodians: Sequence[Principal]) -> list[str]:
    """Two different authenticated staff members of the custodian roles, or ``DUAL_CONTROL_REQUIRED``."""
    ids = sorted({who.id for who in custodians})
    if len(ids) < 2:
        raise DualControlRequired(
            f"{what} needs two different authenticated custodians (dual control, KEY-6); "
            + ("the same person cannot act twice" if len(custodians) > 1 else f"{len(custodians)} given")
        )
    for who in custodians:
        if who.kind != "staff" or who.role not in CUSTODIAN_ROLES:
            raise DualControlRequired(
                f"{what} needs two key custodians or security officers; {who.id} ({who.role or who.kind}) is not one"
            )
    return ids


def _dev_root_allowed() -> bool:

    return get_settings().env == "dev"


def check_kcv(stated: str, actual: str, what: str) -> None:
    if not re.fullmatch(r"[0-9A-Fa-f]{6}", stated or "") or stated.upper() != actual:
        raise KcvMismatch(f"the {what} does not match its stated key check value")


class KeyManagement(ModuleCore):
    def describe(self, label: str) -> KeyEntry:
        self._refresh()
        entry = self._dir.entries.get(label)
        if entry is None:
            raise KeyNotFound(f"no key {label} in the security module")
        return entry

    def has_root(self) -> bool:
        self._refresh()
        return ROOT in self._dir.entries

    def init_root(self, *, origin: str = "generated", custodians: Sequence[Principal] = ()) -> KeyVersion:
        """Generate the national root key (KEY-1) under two custodians (KEY-6); refused when one exists.

        The one exception is the development root (origin ``generated-dev``, ``make run`` and the demo):
        generated without custodians, and only with ``SSCARD_ENV=dev``.
        """
        if origin == DEV_ROOT and not custodians:
            if not _dev_root_allowed():
                raise DualControlRequired("a development national root is generated only with SSCARD_ENV=dev")
        else:
            require_dual_control("creating the national root key", custodians)
        with self._mutate() as directory:
            if ROOT in directory.entries:
                raise KeyExists("the national root key exists; rotate it or form a new version in a ceremony")
            return self._add_generated(
                ROOT, purpose="root", kind="block", level="national", region=NATIONAL, origin=origin
            )

    def derive_region(self, region_code: str, *, custodians: Sequence[Principal] = ()) -> list[tuple[str, KeyVersion]]:
        """Derive a province's PMK, or a city's CMK, TMK and CRD (KEY-3); keys already present stay.

        Creating a province key takes two custodians (KEY-6); a city's keys under a held PMK one operator.
        """
        labels = region_labels(region_code)
        made: list[tuple[str, KeyVersion]] = []
        with self._mutate() as directory:
            for label in labels:
                if label not in directory.entries:
                    if spec_of(label).parent not in directory.entries:
                        raise KeyNotFound(f"{spec_of(label).parent} is not held here: derive or import it first")
                    if needs_dual_control(label):
                        require_dual_control(f"creating the province key {label}", custodians)
                    made.append((label, self._add_derived(label, version=1)))
        return made

    def generate_local(self, label: str, *, purpose: str, region: str) -> KeyVersion:
        """Generate a key for local use only (KEY-2): never derived, exportable only if a zone key."""
        if not _LABEL.match(label or "") or is_hierarchy_label(label) or label in BOOTSTRAP:
            raise KeyInputInvalid(
                "a local key label is upper case, e.g. ZPK/BANK01 (not a hierarchy or built-in label)"
            )
        if purpose not in LOCAL_PURPOSES or purpose in ("data", "index", "audit", "audit_anchor", "pvk"):
            raise KeyInputInvalid("a local key's purpose is zone_pin, transport or local")
        if not (len(region) == 6 and region.isdigit()):
            raise KeyInputInvalid("a region code is six digits")
        with self._mutate() as directory:
            if label in directory.entries:
                raise KeyExists(f"{label} exists; rotate it instead")
            return self._add_generated(
                label, purpose=purpose, kind="block", level="local", region=region,
                exportable=purpose in EXPORTABLE_PURPOSES,
            )  # fmt: skip

    def rotate(self, label: str, *, custodians: Sequence[Principal] = ()) -> KeyVersion:
        """Make a new current version; older versions keep verifying until retired (the root and a
        province key: two custodians, KEY-6)."""
        if needs_dual_control(label):
            require_dual_control(f"rotating {label}", custodians)
        if label in NOT_ROTATABLE:
            raise KeyUsageInvalid(f"{label} is not rotated: every stored index or audit MAC depends on it")
        with self._mutate() as directory:
            entry = directory.entries.get(label)
            if entry is None:
                raise KeyNotFound(f"no key {label} in the security module")
            # No usability check on the old version: rotating is the remedy for a revoked (compromised)
            # key (KEY-9), and the new version's material never depends on the old one's.
            version = max(entry.versions) + 1
            origin = entry.versions[entry.current].origin
            if origin in ("ceremony", "imported"):
                raise KeyUsageInvalid(f"{label} came from a {origin}: form or import its next version the same way")
            if is_hierarchy_label(label) and label != ROOT:
                if spec_of(label).parent not in directory.entries:
                    raise KeyUsageInvalid(f"{label} is rotated where its parent is held, then imported here")
                return self._add_derived(label, version=version)
            return self._add_generated(
                label, purpose=entry.purpose, kind=entry.kind, level=entry.level, region=entry.region,
                version=version, exportable=entry.exportable, origin=origin,
            )  # fmt: skip

    def revoke(
        self, label: str, *, reason: str, version: int | None = None, custodians: Sequence[Principal] = ()
    ) -> list[int]:
        """Refuse the key (one version, or all) from now on; keys derived from it fall with it (the root
        and a province key: two custodians, KEY-6)."""
        if needs_dual_control(label):
            require_dual_control(f"revoking {label}", custodians)
        if not reason or not reason.strip():
            raise KeyInputInvalid("a revocation needs a reason")
        with self._mutate() as directory:
            entry = directory.entries.get(label)
            if entry is None:
                raise KeyNotFound(f"no key {label} in the security module")
            versions = [version] if version is not None else sorted(entry.versions)
            if any(v not in entry.versions for v in versions):
                raise KeyVersionUnknown(f"{label} has no version {version}")
            if label in BOOTSTRAP and entry.current in versions:
                raise KeyUsageInvalid(f"rotate {label} before revoking its current version")
            done = [v for v in versions if entry.versions[v].state != REVOKED]
            for v in done:
                kv = entry.versions[v]
                kv.state, kv.revoked, kv.reason = REVOKED, now_iso(), reason.strip()[:200]
            return done

    def retire(self, label: str, *, version: int) -> None:
        """End a superseded version once nothing needs it (re-keyed terminals, re-encrypted data)."""
        with self._mutate() as directory:
            entry = directory.entries.get(label)
            if entry is None:
                raise KeyNotFound(f"no key {label} in the security module")
            kv = entry.versions.get(version)
            if kv is None:
                raise KeyVersionUnknown(f"{label} has no version {version}")
            if version == entry.current:
                raise KeyUsageInvalid("the current version cannot be retired; rotate first")
            if kv.state == ACTIVE:
                kv.state, kv.retired = RETIRED, now_iso()

    # --- keys crossing the module boundary: only wrapped (KEY-3) or as ceremony components (KEY-6) ---

    def export_wrapped(
        self, label: str, *, transport: str, version: int | None = None, custodians: Sequence[Principal] = ()
    ) -> dict[str, Any]:
        """The key wrapped under a transport key (RFC 3394 with SM4 or AES); never in clear (the root and
        a province key: two custodians, KEY-6)."""
        if needs_dual_control(label):
            require_dual_control(f"exporting {label}", custodians)
        self._refresh()
        if label in self._dir.entries:
            entry = self._usable(label, version)
        elif is_hierarchy_label(label):
            entry = self._ensure(label)
        else:
            raise KeyNotFound(f"no key {label} in the security module")
        if not entry.exportable:
            raise KeyNotExportable(f"{label} ({entry.purpose}) never leaves the security module")
        carrier = self._usable(transport)
        if carrier.purpose != "transport":
            raise KeyUsageInvalid(f"{transport} is not a transport key")
        version = entry.current if version is None else version
        self._usable(label, version)
        wrapped = self.backend.wrap(self._load(transport, carrier.current), self._load(label, version))
        return {
            "label": label,
            "version": version,
            "kcv": entry.versions[version].kcv,
            "transport": transport,
            "transport_version": carrier.current,
            "transport_kcv": carrier.versions[carrier.current].kcv,
            "algorithm": ("SM4" if self.suite == "sm" else "AES") + "-KW (RFC 3394)",
            "wrapped": wrapped.hex().upper(),
        }

    def import_wrapped(
        self, label: str, *, version: int, wrapped: bytes, transport: str, kcv: str, purpose: str = "zone_pin",
        region: str = "000000", custodians: Sequence[Principal] = (),
    ) -> KeyVersion:  # fmt: skip
        """Load a key handed down wrapped under a transport key (a city receiving its CMK, KEY-1); the
        root or a province key is created here only under two custodians (KEY-6)."""
        if needs_dual_control(label):
            require_dual_control(f"importing {label}", custodians)
        if is_hierarchy_label(label):
            spec = spec_of(label)
            level, region, purpose = spec.level, spec.region, spec.purpose
        elif purpose in EXPORTABLE_PURPOSES and _LABEL.match(label or ""):
            level = "local"
        else:
            raise KeyInputInvalid("only hierarchy keys and zone PIN keys are imported")
        with self._mutate() as directory:
            carrier = self._usable(transport)
            if carrier.purpose != "transport":
                raise KeyUsageInvalid(f"{transport} is not a transport key")
            entry = directory.entries.get(label)
            if entry is not None and version in entry.versions:
                raise KeyExists(f"{label} version {version} is already loaded")
            ref = key_ref(label, version)
            try:
                self.backend.unwrap(
                    self._load(transport, carrier.current),
                    ref,
                    "block",
                    wrapped,
                    usage=usage_of(purpose),
                    exportable=purpose in EXPORTABLE_PURPOSES,
                )
            except ValueError as exc:
                raise KcvMismatch("the wrapped key does not unwrap under this transport key") from exc
            try:
                check_kcv(kcv, self.backend.kcv(ref, "block"), "imported key")
            except KcvMismatch:
                self.backend.destroy(ref)
                raise
            kv = KeyVersion(version, kcv.upper(), "imported", held=True)
            self._put(label, kv, level=level, region=region, purpose=purpose, kind="block",
                      exportable=purpose in EXPORTABLE_PURPOSES)  # fmt: skip
            return kv

    def component_check_value(self, component: bytes) -> str:
        """KCV of one ceremony component (a 16-byte key part), as printed on the custodian's sheet."""
        if len(component) != COMPONENT_LEN:
            raise KeyInputInvalid("a key component is 16 bytes (32 hex digits)")
        return primitives.key_check_value(self.suite, component)

    def import_components(
        self, label: str, *, purpose: str, level: str, region: str, components: list[bytes], kcv: str | None
    ) -> KeyVersion:
        """Form a key as the XOR of ceremony components and load it (KEY-6); a new version if it exists."""
        if len(components) < 2 or any(len(c) != COMPONENT_LEN for c in components):
            raise KeyInputInvalid("a key is formed from at least two 16-byte components")
        value = reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)), components)
        if kcv is not None:
            check_kcv(kcv, primitives.key_check_value(self.suite, value), "formed key")
        kind: KeyKind = "block"
        with self._mutate() as directory:
            entry = directory.entries.get(label)
            if entry is not None and entry.purpose != purpose:
                raise KeyUsageInvalid(f"{label} exists with another purpose ({entry.purpose})")
            version = 1 if entry is None else max(entry.versions) + 1
            ref = key_ref(label, version)
            exportable = purpose in EXPORTABLE_PURPOSES
            self.backend.import_clear(ref, kind, value, usage=usage_of(purpose), exportable=exportable)
            kv = KeyVersion(version, self.backend.kcv(ref, kind), "ceremony", held=True)
            self._put(label, kv, level=level, region=region, purpose=purpose, kind=kind, exportable=exportable)
            return kv
