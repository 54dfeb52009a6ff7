"""Original declaration documents (INS-7): kept byte for byte with their SHA-256.

The digest also goes into the hash-chained audit entry of what the document declared, so a changed
document no longer matches the (anchored) audit chain: tamper-evident. The bytes hold full citizen ID
numbers, so they are sealed at rest like the protected fields (ID-5): ``open_document`` reads them.
"""

from __future__ import annotations

import hashlib

from sscard.audit import Actor
from sscard.db.session import UnitOfWork
from sscard.identity.protected import FieldKind
from sscard.insurance.models import DeclarationDocument, DocumentSource
from sscard.security_module import get_security_module

MAX_DOCUMENT_BYTES = 64 << 20
# Its own AEAD context: a sealed document moved into another column (or back) does not open.
DOCUMENT = FieldKind("declaration_document")


def store_document(
    uow: UnitOfWork, *, content: bytes, source: DocumentSource | str, actor: Actor, employer_id: int | None = None
) -> DeclarationDocument:
    """Keep ``content`` exactly as received, with its SHA-256 and size."""
    document = DeclarationDocument(
        employer_id=employer_id,
        source=DocumentSource(source),
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        content_enc=sealed_document(content),
        actor=actor.id[:64],
        channel=actor.channel.value[:16],
    )
    uow.session.add(document)
    uow.flush()
    return document


def sealed_document(content: bytes) -> bytes:
    """``content`` as ``declaration_document.content_enc`` holds it (sealed; for rows written directly)."""
    return get_security_module().encrypt_field(content, context=DOCUMENT.context)


def open_document(document: DeclarationDocument) -> bytes:
    """The document's bytes as received (``ProtectedDataInvalid`` when the sealed bytes were altered)."""
    return get_security_module().decrypt_field(document.content_enc, context=DOCUMENT.context)


def document_intact(document: DeclarationDocument) -> bool:
    """The stored bytes open and still have the digest recorded when they arrived."""
    from sscard.security_module.errors import ProtectedDataInvalid

    try:
        return hashlib.sha256(open_document(document)).hexdigest() == document.sha256
    except ProtectedDataInvalid:
        return False
