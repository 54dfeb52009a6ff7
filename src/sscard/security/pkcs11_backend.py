"""PKCS#11 backend (python-pkcs11; SoftHSM2 in development and CI, a certified HSM in production).

Held keys are token objects, sensitive, and non-extractable unless their purpose lets them leave
wrapped under a transport key. Derived keys are session objects made with CKM_AES_ECB_ENCRYPT_DATA
inside the token. The key directory is a private CKO_DATA token object. Mechanisms used (all in
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

from sscard.security.backend import ZERO_BLOCK, BlockFunction, KeyBackend, KeyKind
from sscard.security.errors import HsmUnavailable, KeyNotFound, ProtectedDataInvalid, SuiteUnsupported

REQUIRED = ("AES_KEY_GEN", "AES_ECB", "AES_GCM", "AES_CMAC", "SHA256_HMAC", "AES_ECB_ENCRYPT_DATA", "AES_KEY_WRAP")


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
        self._op = threading.RLock()  # one PKCS#11 session: operations must not interleave

    # --- directory ------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        from sscard.files import private_dir

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

    def _template(self, kind: KeyKind, exportable: bool, *, token: bool) -> dict[Any, Any]:
        a = A
        usage = {a.ENCRYPT: kind != "hmac", a.DECRYPT: kind != "hmac", a.SIGN: kind != "data",
                 a.VERIFY: kind != "data", a.DERIVE: kind == "block", a.WRAP: kind == "block",
                 a.UNWRAP: kind == "block"}  # fmt: skip
        return {**usage, a.TOKEN: token, a.PRIVATE: True, a.SENSITIVE: True, a.EXTRACTABLE: exportable}

    def _obj(self, ref: str) -> Any:
        obj = self._objects.get(ref)
        if obj is None:
            raise KeyNotFound(f"key {ref} is not on the token")
        return obj

    def has(self, ref: str) -> bool:
        return ref in self._objects

    def generate(self, ref: str, kind: KeyKind, *, exportable: bool) -> None:
        kt, m = KeyType, M
        key_type, bits, mech = (kt.GENERIC_SECRET, 256, m.GENERIC_SECRET_KEY_GEN) if kind == "hmac" else (
            kt.AES, 256 if kind == "data" else 128, m.AES_KEY_GEN)  # fmt: skip
        with self._op:
            self._objects[ref] = self._session.generate_key(
                key_type, bits, label=self._prefix + ref, id=ref.encode(), store=True, mechanism=mech,
                template=self._template(kind, exportable, token=True),
            )  # fmt: skip

    def import_clear(self, ref: str, kind: KeyKind, value: bytes, *, exportable: bool) -> None:
        a = A
        key_type = KeyType.GENERIC_SECRET if kind == "hmac" else KeyType.AES
        with self._op:
            self._objects[ref] = self._session.create_object({
                a.CLASS: ObjectClass.SECRET_KEY, a.KEY_TYPE: key_type, a.VALUE: bytes(value),
                a.LABEL: self._prefix + ref, a.ID: ref.encode(), **self._template(kind, exportable, token=True),
            })  # fmt: skip

    def derive(self, parent: str, ref: str, data: bytes, *, exportable: bool, hold: bool = False) -> None:
        with self._op:
            self._objects[ref] = self._obj(parent).derive_key(
                KeyType.AES, 128, label=self._prefix + ref, store=hold, mechanism=M.AES_ECB_ENCRYPT_DATA,
                mechanism_param=data, template=self._template("block", exportable, token=hold),
            )  # fmt: skip

    def destroy(self, ref: str) -> None:
        with self._op:
            obj = self._objects.pop(ref, None)
            if obj is not None:
                obj.destroy()

    def wrap(self, transport: str, ref: str) -> bytes:
        with self._op:
            return bytes(self._obj(transport).wrap_key(self._obj(ref), mechanism=M.AES_KEY_WRAP))

    def unwrap(self, transport: str, ref: str, kind: KeyKind, blob: bytes, *, exportable: bool) -> None:
        try:
            with self._op:
                self._objects[ref] = self._obj(transport).unwrap_key(
                    ObjectClass.SECRET_KEY, KeyType.AES, blob, label=self._prefix + ref, id=ref.encode(),
                    mechanism=M.AES_KEY_WRAP, store=True, template=self._template(kind, exportable, token=True),
                )  # fmt: skip
        except pkcs11.PKCS11Error as exc:
            raise ValueError("the wrapped key does not unwrap under this transport key") from exc

    # --- primitives (each one call into the token) -------------------------------------------------

    def block_functions(self, ref: str) -> tuple[BlockFunction, BlockFunction]:
        obj, ecb, op = self._obj(ref), M.AES_ECB, self._op

        def encrypt(block: bytes) -> bytes:
            with op:
                return bytes(obj.encrypt(block, mechanism=ecb))

        def decrypt(block: bytes) -> bytes:
            with op:
                return bytes(obj.decrypt(block, mechanism=ecb))

        return encrypt, decrypt

    def cmac(self, ref: str, data: bytes) -> bytes:
        with self._op:
            return bytes(self._obj(ref).sign(data, mechanism=M.AES_CMAC))

    def hmac(self, ref: str, data: bytes) -> bytes:
        with self._op:
            return bytes(self._obj(ref).sign(data, mechanism=M.SHA256_HMAC))

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
        with self._op:
            obj = self._obj(ref)
            if kind == "hmac":
                out = obj.sign(ZERO_BLOCK, mechanism=M.SHA256_HMAC)
            else:
                out = obj.encrypt(ZERO_BLOCK, mechanism=M.AES_ECB)
        return bytes(out)[:3].hex().upper()

    def reveal_derived(self, parent: str, data: bytes) -> bytes:
        # SoftHSM2 has no ECIES/HKDF mechanism: the terminal key is made once as a short-lived
        # extractable session object, read, sealed by the caller in host memory and destroyed.
        a = A
        with self._op:
            obj = self._obj(parent).derive_key(
                KeyType.AES, 128, store=False, mechanism=M.AES_ECB_ENCRYPT_DATA, mechanism_param=data,
                template={a.TOKEN: False, a.SENSITIVE: False, a.EXTRACTABLE: True, a.ENCRYPT: True},
            )  # fmt: skip
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
