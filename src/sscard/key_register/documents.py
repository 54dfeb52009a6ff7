"""Signed documents kept as evidence (KEY-7 agreements and plans, KEY-9 emergency plans).

The bytes are stored with their SHA-256; every read recomputes it and refuses a document that no
longer matches (``DOCUMENT_TAMPERED``), so an auditor can rely on what they are shown. Only PDF,
OFD and scanned images are accepted, recognised by their leading bytes, not by their name.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.session import UnitOfWork
from sscard.key_register.access import ensure_in_region, ensure_region_exists
from sscard.key_register.errors import DocumentInvalid, DocumentNotFound, DocumentTampered
from sscard.key_register.models import DocumentKind, KeyDocument

MAX_SIZE = 10 * 1024 * 1024
# Media type → leading bytes. OFD (GB/T 33190, the Chinese fixed-layout format) is a ZIP container.
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "application/ofd": (b"PK\x03\x04",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
_UNSAFE = re.compile(r"[^\w.\- ()\u4e00-\u9fff]")


def sniff_media_type(content: bytes) -> str | None:
    """The media type the bytes are, judged by their signature; None when not an accepted type."""
    for media_type, prefixes in SIGNATURES.items():
        if any(content.startswith(p) for p in prefixes):
            return media_type
    return None


def store_document(
    uow: UnitOfWork,
    *,
    kind: DocumentKind | str,
    region_code: str,
    filename: str,
    content: bytes,
    actor: Actor,
    media_type: str | None = None,
) -> KeyDocument:
    """Keep an uploaded document with its SHA-256; refuse empty, oversized or unrecognised files."""
    kind = DocumentKind(kind)
    ensure_in_region(actor, region_code)
    ensure_region_exists(uow, region_code)
    if not content:
        raise DocumentInvalid("the document is empty", kind=kind.value)
    if len(content) > MAX_SIZE:
        raise DocumentInvalid(f"the document exceeds {MAX_SIZE // (1024 * 1024)} MiB", kind=kind.value)
    sniffed = sniff_media_type(content)
    if sniffed is None:
        raise DocumentInvalid("only PDF, OFD, PNG or JPEG documents are accepted", kind=kind.value)
    if media_type and media_type.split(";")[0].strip().lower() not in (sniffed, "application/octet-stream"):
        raise DocumentInvalid(f"the file is {sniffed}, not {media_type}", kind=kind.value)
    safe_name = _UNSAFE.sub("_", (filename or "document").strip())[:128] or "document"
    digest = hashlib.sha256(content).hexdigest()
    document = KeyDocument(
        kind=kind,
        region_code=region_code,
        filename=safe_name,
        media_type=sniffed,
        size=len(content),
        sha256=digest,
        content=content,
        uploaded_by=actor.id,
    )
    uow.session.add(document)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="document.upload",
        subject=f"document:{document.id}",
        details={"kind": kind.value, "sha256": digest, "size": len(content), "filename": safe_name},
    )
    return document


def get_document_or_raise(uow: UnitOfWork, document_id: int) -> KeyDocument:
    document = uow.session.get(KeyDocument, document_id)
    if document is None:
        raise DocumentNotFound(f"no document {document_id}")
    return document


def read_document(uow: UnitOfWork, *, document_id: int) -> tuple[KeyDocument, bytes]:
    """The document and its bytes, after checking them against the stored SHA-256."""
    document = get_document_or_raise(uow, document_id)
    content = uow.session.scalar(select(KeyDocument.content).where(KeyDocument.id == document_id)) or b""
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise DocumentTampered(f"document {document_id} does not match its SHA-256", document_id=document_id)
    return document, content
