"""Audit tables. Entries are chained per stream so that writers on different subjects don't queue
behind one global lock; each stream is a complete chain that ``verify_chain`` walks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base
from sscard.db.ids import ROW_ID


class AuditStreamHead(Base):
    __tablename__ = "audit_stream_head"

    stream: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("stream", "seq"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    stream: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(index=True)  # the audit report reads one period
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(12))
    # Neither indexed (migration 0017): no query selects entries by subject or action, and every entry paid for both.
    subject: Mapped[str] = mapped_column(String(128))  # masked, e.g. card:1101****123X
    action: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, masked values only
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """Where a full walk last found a stream intact: later walks may start here (``verify_chain``).

    ``mac`` (the audit key) binds the four values: without the key nobody can move a checkpoint past
    entries they altered."""

    __tablename__ = "audit_checkpoint"

    stream: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # the chain hash of entry ``seq``
    verified_at: Mapped[datetime]
    mac: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditAnchor(Base):
    """The database's record of each anchor written to the anchor file (``audit/anchors.py``).

    The file is the authority; these rows say how many anchors the file must hold at least (so a
    file cut short or lost is seen) and the hash of each line (so a file rewritten or swapped is)."""

    __tablename__ = "audit_anchor"

    n: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chain: Mapped[str] = mapped_column(String(32))  # the anchor chain's id, the same in every line
    at: Mapped[datetime]
    line_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256 of the line as written
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))  # of the anchored heads
    streams: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(BigInteger)
    faults: Mapped[int] = mapped_column(Integer)


class StaffSigningKey(Base):
    """A staff member's SM2 signing key pair (non-repudiation, audit/signatures.py).

    Generated at enrolment (``staff.create``), or at the first signed operation of an account enrolled
    before signatures existed. The private key is sealed by the security module, bound to this row's
    username; the public key is in clear so that anyone can verify. A production deployment keeps the
    private key in the staff member's USB key (UKey) instead and registers its certificate here.
    """

    __tablename__ = "audit_signing_key"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # staff username, or cli:<os user>
    public_key: Mapped[bytes] = mapped_column(LargeBinary(64))  # SM2 point x ‖ y
    private_key_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed, bound to the username
    created_at: Mapped[datetime]


class AuditSignature(Base):
    """The SM2 signature of one audit entry by the staff member who acted (one per signed entry)."""

    __tablename__ = "audit_signature"

    entry_id: Mapped[int] = mapped_column(ROW_ID, ForeignKey("audit_entry.id"), primary_key=True, autoincrement=False)
    signer: Mapped[str] = mapped_column(String(64), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(64))  # the signer's key when it signed
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))  # r ‖ s
