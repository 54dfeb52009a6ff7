"""Protected personal fields (ID-5): encrypted at rest, looked up through a keyed blind index.

Each field kind has its own AEAD context and blind-index purpose, so a ciphertext or index copied
from one column to another does not verify.
"""

from __future__ import annotations

from dataclasses import dataclass

from sscard.security import get_security_module


@dataclass(frozen=True, slots=True)
class FieldKind:
    name: str

    @property
    def context(self) -> bytes:
        return b"sscard/field/" + self.name.encode()

    def seal(self, value: str) -> bytes:
        return get_security_module().encrypt_field(value.encode(), context=self.context)

    def open(self, token: bytes) -> str:
        return get_security_module().decrypt_field(token, context=self.context).decode()

    def index(self, value: str) -> bytes:
        return get_security_module().blind_index(value.encode(), purpose=self.name)


ID_NUMBER = FieldKind("id_number")
# The name too: with gender, birth date and region in clear it narrows a citizen ID to a few hundred.
NAME = FieldKind("name")
PHONE = FieldKind("phone")
EMAIL = FieldKind("email")
