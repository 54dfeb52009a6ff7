"""The module core over a backend: the key directory, key resolution and the foundation's operations.

Policy lives here, once, for both backends: which key version serves an operation, whether it is
still usable (revocation cascades from a revoked ancestor to everything derived below it), and how
a hierarchy key is derived (``diversify``) the first time it is needed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sscard.security_module.backend import BlockFunction, KeyBackend, KeyKind, key_ref, usage_of
from sscard.security_module.device import DeviceGuard
from sscard.security_module.directory import ACTIVE, RETIRED, REVOKED, Directory, KeyEntry, KeyVersion, now_iso
from sscard.security_module.diversify import (
    EXPORTABLE_PURPOSES,
    TERMINAL_MAC,
    TERMINAL_PIN,
    card_ident,
    card_master_label,
    chain_to_root,
    diversification_data,
    spec_of,
    terminal_ident,
    terminal_master_label,
)
from sscard.security_module.envelope import seal_envelope
from sscard.security_module.errors import (
    KeyNotFound,
    KeyRetired,
    KeyRevoked,
    KeyVersionUnknown,
    ProtectedDataInvalid,
    SuiteUnsupported,
)
from sscard.security_module.module import SecurityModule

LOCAL_REGION = "000000"
# The installation's own keys (KEY-2: generated here, never derived, never exported).
BOOTSTRAP: dict[str, tuple[str, KeyKind]] = {
    "DATA": ("data", "data"),
    "INDEX": ("index", "hmac"),
    "AUDIT": ("audit", "hmac"),
    # One purpose only: the MAC of the audit chain's anchors (audit/anchors.py). Not the AUDIT key, so
    # that an anchor can never pass for a chain link or a checkpoint, and the reverse.
    "ANCHOR": ("audit_anchor", "hmac"),
    "PVK": ("pvk", "block"),
}
HEADER = 2  # field tokens start with the data-key version, big-endian
BlockPair = tuple[BlockFunction, BlockFunction]
# (MAC key ref, PIN key ref, TMK ref, block functions of the PIN key) of one terminal key version.
TerminalKeys = tuple[str, str, str, BlockPair]


def split_ref(ref: str) -> tuple[str, int]:
    label, _, version = ref.rpartition("@")
    return label, int(version)


class ModuleCore(SecurityModule):
    REFRESH_SECONDS = 1.0  # how soon a change made by another process (e.g. a revocation) is seen

    def __init__(self, backend: KeyBackend, *, device_guard: DeviceGuard | None = None) -> None:
        self.backend = backend
        self.suite = backend.suite
        # KEY-4: checked before any key is generated or read here, then on every key operation
        # (a cached verdict, see ``security_module.device``). None: a module opened by a tool or a test.
        self.device_guard = device_guard
        self._device_check()
        self._lock = threading.RLock()
        self._states: dict[str, str] = {}
        self._terminals: dict[tuple[str, str, int], TerminalKeys] = {}
        with self._lock, backend.lock():
            raw = backend.read_directory()
            self._dir = Directory(self.suite) if raw is None else Directory.from_json(raw)
            if self._dir.suite != self.suite:
                raise SuiteUnsupported(f"this keystore was made for the {self._dir.suite} suite, not {self.suite}")
            missing = [label for label in BOOTSTRAP if label not in self._dir.entries]
            for label in missing:
                purpose, kind = BOOTSTRAP[label]
                self._add_generated(label, purpose=purpose, kind=kind, level="local", region=LOCAL_REGION)
            if raw is None or missing:
                backend.write_directory(self._dir.to_json())
        self._stamp = backend.stamp()
        self._checked = time.monotonic()

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def _device_check(self) -> None:
        if self.device_guard is not None:
            self.device_guard.check()

    # --- directory ------------------------------------------------------------------------------

    def _reload(self) -> None:
        raw = self.backend.read_directory()
        self._dir = Directory(self.suite) if raw is None else Directory.from_json(raw)
        self._stamp = self.backend.stamp()
        self._states.clear()
        self._terminals.clear()

    def _refresh(self) -> None:
        self._device_check()
        now = time.monotonic()
        if now - self._checked < self.REFRESH_SECONDS:
            return
        self._checked = now
        if self.backend.stamp() != self._stamp:
            with self._lock:
                self._reload()

    def refresh(self) -> None:
        """Re-read the directory now (another process changed it)."""
        with self._lock:
            self._reload()

    @contextmanager
    def _mutate(self) -> Iterator[Directory]:
        """Read-modify-write of the directory under the cross-process lock; nothing stored on error."""
        self._device_check()
        with self._lock, self.backend.lock():
            self._reload()
            try:
                yield self._dir
            except BaseException:
                self._reload()  # drop half-made changes (and keys generated for them)
                raise
            self.backend.write_directory(self._dir.to_json())
            self._stamp = self.backend.stamp()
            self._states.clear()

    def entries(self) -> list[KeyEntry]:
        """Every key's metadata (no key bytes): the inventory mirrors this."""
        self._refresh()
        return list(self._dir.entries.values())

    # --- resolution -------------------------------------------------------------------------------

    def _state(self, label: str, version: int) -> str:
        ref = key_ref(label, version)
        state = self._states.get(ref)
        if state is None:
            kv = self._dir.entries[label].versions[version]
            state = kv.state
            if state != REVOKED and kv.parent:
                parent, parent_version = split_ref(kv.parent)
                if parent in self._dir.entries and self._state(parent, parent_version) == REVOKED:
                    state = REVOKED  # a key derived from a revoked key is revoked with it
            self._states[ref] = state
        return state

    def _usable(self, label: str, version: int | None = None) -> KeyEntry:
        entry = self._dir.entries.get(label)
        if entry is None:
            raise KeyNotFound(f"no key {label} in the security module")
        version = entry.current if version is None else version
        if version not in entry.versions:
            raise KeyVersionUnknown(f"{label} has no version {version}", label=label, key_version=version)
        state = self._state(label, version)
        if state == REVOKED:
            raise KeyRevoked(f"{label} version {version} is revoked", label=label, key_version=version)
        if state == RETIRED:
            raise KeyRetired(f"{label} version {version} is retired", label=label, key_version=version)
        return entry

    def _load(self, label: str, version: int) -> str:
        """Make sure the key object exists in the backend (re-deriving a derived key) and return its ref."""
        self._device_check()
        ref = key_ref(label, version)
        if self.backend.has(ref):
            return ref
        kv = self._dir.entries[label].versions[version]
        if kv.held or kv.parent is None:
            raise KeyNotFound(f"key {ref} is listed but missing from the key store")
        parent_label, parent_version = split_ref(kv.parent)
        parent = self._load(parent_label, parent_version)
        spec = spec_of(label)
        data = diversification_data(self.suite, spec.tag, spec.ident, version)
        entry = self._dir.entries[label]
        self.backend.derive(parent, ref, data, usage=usage_of(entry.purpose), exportable=entry.exportable)
        return ref

    def _ensure(self, label: str) -> KeyEntry:
        """The entry of a hierarchy key, deriving it (and missing ancestors) at version 1 on first use."""
        entry = self._dir.entries.get(label)
        if entry is not None:
            return entry
        with self._mutate() as directory:
            missing = []
            for name in chain_to_root(label):
                if name in directory.entries:
                    break
                missing.append(name)
            else:
                raise KeyNotFound("no national root or region key is held: run `sscard keys init-root` or import one")
            for name in reversed(missing):
                self._add_derived(name, version=1)
        return self._dir.entries[label]

    def _add_derived(self, label: str, *, version: int) -> KeyVersion:
        spec = spec_of(label)
        assert spec.parent is not None  # noqa: S101 - the root is generated, never derived
        parent = self._usable(spec.parent)
        parent_ref = self._load(parent.label, parent.current)
        ref = key_ref(label, version)
        exportable = spec.purpose in EXPORTABLE_PURPOSES
        data = diversification_data(self.suite, spec.tag, spec.ident, version)
        self.backend.derive(parent_ref, ref, data, usage=usage_of(spec.purpose), exportable=exportable)
        kv = KeyVersion(version, self.backend.kcv(ref, "block"), "derived", held=False, parent=parent_ref)
        self._put(
            label, kv, level=spec.level, region=spec.region, purpose=spec.purpose, kind="block", exportable=exportable
        )
        return kv

    def _add_generated(
        self, label: str, *, purpose: str, kind: KeyKind, level: str, region: str, origin: str = "generated",
        version: int = 1, exportable: bool = False,
    ) -> KeyVersion:  # fmt: skip
        ref = key_ref(label, version)
        self.backend.generate(ref, kind, usage=usage_of(purpose), exportable=exportable)
        kv = KeyVersion(version, self.backend.kcv(ref, kind), origin, held=True)
        self._put(label, kv, level=level, region=region, purpose=purpose, kind=kind, exportable=exportable)
        return kv

    def _put(
        self, label: str, kv: KeyVersion, *, level: str, region: str, purpose: str, kind: KeyKind, exportable: bool
    ) -> None:
        entry = self._dir.entries.get(label)
        if entry is None:
            entry = KeyEntry(label, level, region, purpose, kind, exportable, kv.version, {})
            self._dir.entries[label] = entry
        elif entry.current in entry.versions and kv.version > entry.current:
            entry.versions[entry.current].rotated = now_iso()
        entry.versions[kv.version] = kv
        entry.current = max(entry.current, kv.version)
        self._states.clear()

    # --- fields, blind index, audit MAC ------------------------------------------------------------

    def encrypt_field(self, plaintext: bytes, *, context: bytes) -> bytes:
        self._refresh()
        entry = self._usable("DATA")
        header = entry.current.to_bytes(HEADER, "big")
        return header + self.backend.aead_encrypt(self._load("DATA", entry.current), plaintext, header + context)

    def encrypt_fields(self, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        # One key check and load for the whole batch; the backend reuses its cipher state across items.
        self._refresh()
        entry = self._usable("DATA")
        header = entry.current.to_bytes(HEADER, "big")
        ref = self._load("DATA", entry.current)
        blobs = self.backend.aead_encrypt_many(ref, [(plaintext, header + context) for plaintext, context in items])
        return [header + blob for blob in blobs]

    def decrypt_field(self, token: bytes, *, context: bytes) -> bytes:
        self._refresh()
        if len(token) < HEADER + 28:
            raise ProtectedDataInvalid("protected value is truncated")
        header = token[:HEADER]
        version = int.from_bytes(header, "big")
        if version not in self._dir.entries["DATA"].versions:
            raise ProtectedDataInvalid("protected value uses an unknown data-key version")
        self._usable("DATA", version)
        return self.backend.aead_decrypt(self._load("DATA", version), token[HEADER:], header + context)

    def field_key_version(self, token: bytes) -> int:
        """The data-key version a protected value was sealed under."""
        return int.from_bytes(token[:HEADER], "big")

    def reencrypt_field(self, token: bytes, *, context: bytes) -> bytes | None:
        """``token`` re-sealed under the current data key, or None when it already is."""
        if self.field_key_version(token) == self._dir.entries["DATA"].current:
            return None
        return self.encrypt_field(self.decrypt_field(token, context=context), context=context)

    def blind_index(self, value: bytes, *, purpose: str) -> bytes:
        self._refresh()
        entry = self._usable("INDEX")
        return self.backend.hmac(self._load("INDEX", entry.current), purpose.encode() + b"\x00" + value)

    def blind_indexes(self, items: Sequence[tuple[bytes, str]]) -> list[bytes]:
        self._refresh()
        entry = self._usable("INDEX")
        ref = self._load("INDEX", entry.current)
        return self.backend.hmac_many(ref, [purpose.encode() + b"\x00" + value for value, purpose in items])

    def audit_mac(self, data: bytes) -> bytes:
        self._refresh()
        entry = self._usable("AUDIT")
        return self.backend.hmac(self._load("AUDIT", entry.current), data)

    def audit_chains(self, chains: Sequence[tuple[bytes, Sequence[bytes]]]) -> list[list[bytes]]:
        self._refresh()
        entry = self._usable("AUDIT")
        ref = self._load("AUDIT", entry.current)
        return [self.backend.hmac_chain(ref, prev, contents) for prev, contents in chains]

    def anchor_mac(self, data: bytes) -> bytes:
        self._refresh()
        entry = self._usable("ANCHOR")
        return self.backend.hmac(self._load("ANCHOR", entry.current), data)

    # --- terminals and cards (KEY-3, CH-3) ---------------------------------------------------------

    def _leaf(self, master: str, tag: str, ident: str, key_version: int) -> tuple[str, str, bytes]:
        """(leaf ref, master ref, diversification data) of a terminal or card key, after the checks."""
        self._refresh()
        self._ensure(master)
        self._usable(master, key_version)
        data = diversification_data(self.suite, tag, ident, key_version)
        return f"{tag}/{ident}@{key_version}", key_ref(master, key_version), data

    def _terminal(self, terminal_id: str, region_code: str, key_version: int) -> TerminalKeys:
        """The terminal's two keys (MAC, PIN) of one TMK version, after the version and state checks."""
        # Hot path (every terminal request and PIN): once a terminal key is resolved, a call costs
        # one dict lookup plus the cached state of its TMK version; any directory change clears both.
        if time.monotonic() - self._checked >= self.REFRESH_SECONDS:
            self._refresh()
        self._device_check()
        hit = self._terminals.get((terminal_id, region_code, key_version))
        if hit is not None and self._states.get(hit[2]) == ACTIVE:
            return hit
        ident = terminal_ident(region_code, terminal_id)
        master_label = terminal_master_label(region_code)
        mac_ref, master, mac_data = self._leaf(master_label, TERMINAL_MAC, ident, key_version)
        pin_ref, _, pin_data = self._leaf(master_label, TERMINAL_PIN, ident, key_version)
        for ref, data, purpose in ((mac_ref, mac_data, "terminal_mac"), (pin_ref, pin_data, "terminal_pin")):
            if not self.backend.has(ref):
                self._load(*split_ref(master))
                self.backend.derive(master, ref, data, usage=usage_of(purpose), exportable=False)
        entry = self._terminals[(terminal_id, region_code, key_version)] = (
            mac_ref,
            pin_ref,
            master,
            self.backend.block_functions(pin_ref),
        )
        return entry

    def terminal_key_version(self, *, region_code: str) -> int:
        return self._ensure(terminal_master_label(region_code)).current

    def terminal_mac(self, *, terminal_id: str, region_code: str, key_version: int, data: bytes) -> bytes:
        return self.backend.cmac(self._terminal(terminal_id, region_code, key_version)[0], data)

    def terminal_key_check_values(self, *, terminal_id: str, region_code: str, key_version: int) -> tuple[str, str]:
        mac_ref, pin_ref, _, _ = self._terminal(terminal_id, region_code, key_version)
        return self.backend.kcv(mac_ref, "block"), self.backend.kcv(pin_ref, "block")

    def export_terminal_key(
        self, *, terminal_id: str, region_code: str, key_version: int, recipient_public_key: bytes
    ) -> bytes:
        ident = terminal_ident(region_code, terminal_id)
        master_label = terminal_master_label(region_code)
        _, master, mac_data = self._leaf(master_label, TERMINAL_MAC, ident, key_version)
        _, _, pin_data = self._leaf(master_label, TERMINAL_PIN, ident, key_version)
        self._load(*split_ref(master))
        # MAC key ‖ PIN key: the two leave the module only together, sealed to the terminal (KEY-3).
        clear = self.backend.reveal_derived(master, mac_data) + self.backend.reveal_derived(master, pin_data)
        return seal_envelope(recipient_public_key, clear, terminal_id.encode())

    def _card_ref(self, card_no: str, region_code: str, key_version: int) -> str:
        ref, master, data = self._leaf(card_master_label(region_code), "CARD", card_ident(card_no), key_version)
        if not self.backend.has(ref):
            self._load(*split_ref(master))
            self.backend.derive(master, ref, data, usage=usage_of("card"), exportable=False)
        return ref

    def card_key_check_value(self, *, card_no: str, region_code: str, key_version: int) -> str:
        return self.backend.kcv(self._card_ref(card_no, region_code, key_version), "block")

    def card_mac(self, *, card_no: str, region_code: str, key_version: int, data: bytes) -> bytes:
        return self.backend.cmac(self._card_ref(card_no, region_code, key_version), data)

    def key_state(self, label: str, version: int) -> str:
        """Effective state of a key version (revocation of an ancestor included)."""
        self._refresh()
        if label not in self._dir.entries or version not in self._dir.entries[label].versions:
            raise KeyVersionUnknown(f"{label} has no version {version}")
        return self._state(label, version)
