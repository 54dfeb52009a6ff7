"""PKCS#11 backend (python-pkcs11; SoftHSM2 in development and CI, a certified HSM in production).

Held keys are token objects, sensitive, and non-extractable unless their purpose lets them leave
wrapped under a transport key. Derived keys are session objects made with C_DeriveKey
(CKM_AES_ECB_ENCRYPT_DATA) inside the token; their value never reaches this process. Every key object
has the capability attributes of exactly one usage (``backend.Usage``), is not modifiable and not
copyable: a parent of the hierarchy can only derive, never C_Encrypt (which would give E(parent, data),
the child key, in clear). The key directory is a private CKO_DATA token object. Mechanisms used (all in
SoftHSM2 2.6): CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN, CKM_AES_ECB, CKM_AES_GCM, CKM_AES_CMAC,
CKM_SHA256_HMAC, CKM_AES_ECB_ENCRYPT_DATA, CKM_AES_KEY_WRAP. SoftHSM2 has no SM2/SM3/SM4, so this
backend runs the ``intl`` suite only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pkcs11
from pkcs11 import Attribute as A
from pkcs11 import KeyType, ObjectClass
from pkcs11 import Mechanism as M
from pkcs11.mechanisms import GCMParams

from sscard.files import private_dir
from sscard.security_module.backend import ZERO_BLOCK, BlockFunction, KeyBackend, KeyKind, Usage
from sscard.security_module.errors import (
    HsmUnavailable,
    KeyNotFound,
    KeyUsageInvalid,
    ProtectedDataInvalid,
    SuiteUnsupported,
)

REQUIRED = ("AES_KEY_GEN", "AES_ECB", "AES_GCM", "AES_CMAC", "SHA256_HMAC", "AES_ECB_ENCRYPT_DATA", "AES_KEY_WRAP")
# The capability attributes of a secret key; each key object has exactly the ones of its usage.
CAPABILITIES = (A.ENCRYPT, A.DECRYPT, A.SIGN, A.VERIFY, A.DERIVE, A.WRAP, A.UNWRAP)
USAGE_ATTRIBUTES: dict[str, frozenset[A]] = {
    "derive": frozenset({A.DERIVE}),
    "mac": frozenset({A.SIGN, A.VERIFY}),
    "pin": frozenset({A.ENCRYPT, A.DECRYPT}),
    "data": frozenset({A.ENCRYPT, A.DECRYPT}),
    "wrap": frozenset({A.WRAP, A.UNWRAP}),
}


class Pkcs11Backend(KeyBackend):
    name: ClassVar[str] = "pkcs11"

    def __init__(
        self,
        *,
        module_path: str,
        token_label: str,
        user_pin: str,
        suite: str,
        lock_path: Path,
        namespace: str = "sscard",
    ) -> None:
        if suite != "intl":
            raise SuiteUnsupported("the PKCS#11 token offers no SM4/SM3 mechanisms: use SSCARD_CRYPTO_SUITE=intl")
        self.suite = suite
        self._lock_path = lock_path
        # Object labels are "<namespace>:<ref>": several installations (or tests) can share one token.
        self._prefix = namespace + ":"
        self._directory_label = self._prefix + "directory"
        try:
            token = pkcs11.lib(module_path).get_token(token_label=token_label)
            try:
                self._session = token.open(rw=True, user_pin=user_pin)
            except pkcs11.exceptions.UserAlreadyLoggedIn:
                # PKCS#11 logins are per application: a second module in this process shares it.
                self._session = token.open(rw=True)
            mechanisms = {getattr(m, "name", str(m)) for m in token.slot.get_mechanisms()}
            self._serial = _text(token.serial)
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
            raise HsmUnavailable(f"PKCS#11 token {token_label!r}: {type(exc).__name__}") from None
        missing = [m for m in REQUIRED if m not in mechanisms]
        if missing:
            raise SuiteUnsupported(f"the token lacks {', '.join(missing)}")
        self._objects: dict[str, Any] = {}
        # How to make a key's one-call KCV twin again: ("derive", parent ref, data) or ("unwrap", transport, blob).
        self._twins: dict[str, tuple[str, str, bytes]] = {}
        self._op = threading.RLock()  # one PKCS#11 session: operations must not interleave

    # --- directory ------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:

        private_dir(self._lock_path.parent)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _directory_object(self) -> Any:
        found: list[Any] = list(self._session.get_objects({A.CLASS: ObjectClass.DATA, A.LABEL: self._directory_label}))
        return found[0] if found else None

    def read_directory(self) -> dict[str, Any] | None:
        with self._op:
            held = self._session.get_objects({A.CLASS: ObjectClass.SECRET_KEY, A.TOKEN: True})
            self._objects = {k: v for k, v in self._objects.items() if not self._is_token(v)}
            for obj in held:
                label = obj[A.LABEL]
                if label.startswith(self._prefix):
                    self._objects[label.removeprefix(self._prefix)] = obj
            directory = self._directory_object()
            if directory is None:
                return None
            data: dict[str, Any] = json.loads(bytes(directory[A.VALUE]))
            return data

    def _is_token(self, obj: Any) -> bool:
        return bool(obj[A.TOKEN])

    def write_directory(self, directory: dict[str, Any]) -> None:
        value = json.dumps(directory, separators=(",", ":")).encode()
        with self._op:
            obj = self._directory_object()
            if obj is not None:
                obj.destroy()
            self._session.create_object({
                A.CLASS: ObjectClass.DATA, A.LABEL: self._directory_label, A.APPLICATION: "sscard",
                A.VALUE: value, A.TOKEN: True, A.PRIVATE: True,
            })  # fmt: skip

    def stamp(self) -> object:
        with self._op:
            obj = self._directory_object()
            return None if obj is None else hashlib.sha256(bytes(obj[A.VALUE])).digest()

    # --- key objects ------------------------------------------------------------------------------

    def _template(self, usage: Usage, exportable: bool, *, token: bool) -> dict[Any, Any]:
        """One usage per key object (KEY-3): every capability attribute set, only the usage's true.

        CKA_MODIFIABLE and CKA_COPYABLE are false, so no caller of the token can switch a capability
        on later (C_SetAttributeValue) or copy the key with other attributes (C_CopyObject). They come
        last: SoftHSM2 applies a template in order and refuses any attribute after CKA_MODIFIABLE=FALSE.
        """
        a = A
        on = USAGE_ATTRIBUTES[usage]
        usage_attrs = {attr: attr in on for attr in CAPABILITIES}
        return {**usage_attrs, a.TOKEN: token, a.PRIVATE: True, a.SENSITIVE: True, a.EXTRACTABLE: exportable,
                a.COPYABLE: False, a.MODIFIABLE: False}  # fmt: skip

    def _obj(self, ref: str) -> Any:
        obj = self._objects.get(ref)
        if obj is None:
            raise KeyNotFound(f"key {ref} is not on the token")
        return obj

    def has(self, ref: str) -> bool:
        return ref in self._objects

    def generate(self, ref: str, kind: KeyKind, *, usage: Usage, exportable: bool) -> None:
        kt, m = KeyType, M
        key_type, bits, mech = (kt.GENERIC_SECRET, 256, m.GENERIC_SECRET_KEY_GEN) if kind == "hmac" else (
            kt.AES, 256 if kind == "data" else 128, m.AES_KEY_GEN)  # fmt: skip
        with self._op:
            self._objects[ref] = self._session.generate_key(
                key_type, bits, label=self._prefix + ref, id=ref.encode(), store=True, mechanism=mech,
                template=self._template(usage, exportable, token=True),
            )  # fmt: skip

    def import_clear(self, ref: str, kind: KeyKind, value: bytes, *, usage: Usage, exportable: bool) -> None:
        a = A
        key_type = KeyType.GENERIC_SECRET if kind == "hmac" else KeyType.AES
        with self._op:
            self._objects[ref] = self._session.create_object({
                a.CLASS: ObjectClass.SECRET_KEY, a.KEY_TYPE: key_type, a.VALUE: bytes(value),
                a.LABEL: self._prefix + ref, a.ID: ref.encode(), **self._template(usage, exportable, token=True),
            })  # fmt: skip

    def derive(self, parent: str, ref: str, data: bytes, *, usage: Usage, exportable: bool) -> None:
        # C_DeriveKey with CKM_AES_ECB_ENCRYPT_DATA: the child is made inside the token as a sensitive
        # session object of one usage; its value never reaches this process. The parent is a derive-only
        # key: the token refuses C_Encrypt with it (the leak of E(parent, data) in clear).
        with self._op:
            template = {A.LABEL: self._prefix + ref, **self._template(usage, exportable, token=False)}
            self._objects[ref] = self._derive_object(self._obj(parent), data, template)
            self._twins[ref] = ("derive", parent, data)

    def _derive_object(self, parent: Any, data: bytes, template: dict[Any, Any]) -> Any:
        return parent.derive_key(
            KeyType.AES, 128, store=False, mechanism=M.AES_ECB_ENCRYPT_DATA, mechanism_param=data, template=template
        )

    def destroy(self, ref: str) -> None:
        with self._op:
            self._twins.pop(ref, None)
            obj = self._objects.pop(ref, None)
            if obj is not None:
                obj.destroy()

    def wrap(self, transport: str, ref: str) -> bytes:
        with self._op:
            return bytes(self._obj(transport).wrap_key(self._obj(ref), mechanism=M.AES_KEY_WRAP))

    def unwrap(self, transport: str, ref: str, kind: KeyKind, blob: bytes, *, usage: Usage, exportable: bool) -> None:
        try:
            with self._op:
                self._objects[ref] = self._unwrap_object(
                    transport, blob, self._template(usage, exportable, token=True), label=self._prefix + ref,
                    ident=ref.encode(),
                )  # fmt: skip
                self._twins[ref] = ("unwrap", transport, blob)
        except pkcs11.PKCS11Error as exc:
            raise ValueError("the wrapped key does not unwrap under this transport key") from exc

    def _unwrap_object(self, transport: str, blob: bytes, template: dict[Any, Any], **names: Any) -> Any:
        extra = {} if not names else {"label": names["label"], "id": names["ident"]}
        return self._obj(transport).unwrap_key(
            ObjectClass.SECRET_KEY, KeyType.AES, blob, mechanism=M.AES_KEY_WRAP, store=bool(names),
            template=template, **extra,
        )  # fmt: skip

    # --- primitives (each one call into the token) -------------------------------------------------

    def block_functions(self, ref: str) -> tuple[BlockFunction, BlockFunction]:
        obj, ecb, op = self._obj(ref), M.AES_ECB, self._op
        with op:
            if not (obj[A.ENCRYPT] and obj[A.DECRYPT]):
                raise KeyUsageInvalid(f"key {ref} is not a PIN or data encryption key")

        def encrypt(block: bytes) -> bytes:
            with op:
                return bytes(obj.encrypt(block, mechanism=ecb))

        def decrypt(block: bytes) -> bytes:
            with op:
                return bytes(obj.decrypt(block, mechanism=ecb))

        return encrypt, decrypt

    def cmac(self, ref: str, data: bytes) -> bytes:
        try:
            with self._op:
                return bytes(self._obj(ref).sign(data, mechanism=M.AES_CMAC))
        except AttributeError:  # python-pkcs11 gives a key without CKA_SIGN no ``sign``
            raise KeyUsageInvalid(f"key {ref} is not a MAC key") from None

    def hmac(self, ref: str, data: bytes) -> bytes:
        try:
            with self._op:
                return bytes(self._obj(ref).sign(data, mechanism=M.SHA256_HMAC))
        except AttributeError:
            raise KeyUsageInvalid(f"key {ref} is not a MAC key") from None

    def aead_encrypt(self, ref: str, plaintext: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        with self._op:
            body = self._obj(ref).encrypt(plaintext, mechanism=M.AES_GCM, mechanism_param=GCMParams(nonce, aad))
        return nonce + bytes(body)

    def aead_decrypt(self, ref: str, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < 28:
            raise ProtectedDataInvalid("protected value is truncated")
        try:
            with self._op:
                return bytes(
                    self._obj(ref).decrypt(blob[12:], mechanism=M.AES_GCM, mechanism_param=GCMParams(blob[:12], aad))
                )
        except pkcs11.PKCS11Error as exc:
            raise ProtectedDataInvalid() from exc

    def kcv(self, ref: str, kind: KeyKind) -> str:
        """E(key, 0¹²⁸)[0:3] (HMAC keys: HMAC(key, 0¹²⁸)[0:3]) without giving any key a second usage.

        A ``pin`` or ``data`` key encrypts the zero block itself. A ``derive``, ``mac`` or ``wrap`` key
        cannot: its KCV is taken from a twin made for one call — the same derivation (or unwrap) again,
        as a session object allowed only to encrypt, used once on the zero block and destroyed. Held
        keys that were generated or formed in a ceremony use the token's CKA_CHECK_VALUE (SoftHSM2 2.6
        computes it right for those; for derived keys it is wrong and for unwrapped ones empty).
        """
        with self._op:
            obj = self._obj(ref)
            if kind == "hmac":
                return bytes(obj.sign(ZERO_BLOCK, mechanism=M.SHA256_HMAC))[:3].hex().upper()
            if obj[A.ENCRYPT]:
                return bytes(obj.encrypt(ZERO_BLOCK, mechanism=M.AES_ECB))[:3].hex().upper()
            twin_of = self._twins.get(ref)
            if twin_of is None:
                value = bytes(obj[A.CHECK_VALUE] or b"")
                if len(value) != 3:
                    raise KeyUsageInvalid(f"key {ref} has no check value on this token")
                return value.hex().upper()
            template = {**self._template("pin", False, token=False), A.DECRYPT: False}
            how, source, data = twin_of
            if how == "derive":
                twin = self._derive_object(self._obj(source), data, template)
            else:
                twin = self._unwrap_object(source, data, template)
            try:
                return bytes(twin.encrypt(ZERO_BLOCK, mechanism=M.AES_ECB))[:3].hex().upper()
            finally:
                twin.destroy()

    def reveal_derived(self, parent: str, data: bytes) -> bytes:
        # SoftHSM2 has no ECIES/HKDF mechanism: the terminal key is made once as a short-lived
        # extractable session object, read, sealed by the caller in host memory and destroyed.
        # It is given no usage at all: it exists only to be read.
        a = A
        template = {**dict.fromkeys(CAPABILITIES, False), a.TOKEN: False, a.SENSITIVE: False, a.EXTRACTABLE: True}
        with self._op:
            obj = self._derive_object(self._obj(parent), data, template)
            try:
                return bytes(obj[a.VALUE])
            finally:
                obj.destroy()

    def device_serial(self) -> str | None:
        return self._serial or None

    def close(self) -> None:
        with self._op:
            self._objects.clear()
            self._session.close()


def _text(value: object) -> str:
    """A token-info string field (fixed-width, blank-padded; bytes or str depending on the binding)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value or "").strip().strip("\x00").strip()
