"""every row id a BIGINT on PostgreSQL

The models always meant it (db/ids.py), but most tables were created with INTEGER ids: a nation's
persons and cards (1.4 billion, a new card per replacement) pass 2**31 − 1, and an id above it in a
URL made PostgreSQL refuse the query (422 INPUT_NOT_STORABLE) instead of answering 404. SQLite's
INTEGER is already 64 bits: nothing to do there.

Each table is altered once (all its id columns in one statement, one rewrite), and the sequence
behind each serial id is widened too (a SERIAL's sequence is AS integer).

Revision ID: 0003_bigint_ids
Revises: 0002_audit_checkpoints
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_bigint_ids"
down_revision: str | None = "0002_audit_checkpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Table → its id and foreign-key-to-id columns that were INTEGER (from comparing 0002 with the models).
ID_COLUMNS: dict[str, list[str]] = {
    "card": ["id", "person_id", "replaces_card_id"],
    "card_loss_report": ["id", "card_id"],
    "card_pin": ["card_id"],
    "crypto_device": ["id"],
    "crypto_device_alert": ["id", "device_id", "message_id"],
    "data_key_rotation": ["id"],
    "data_key_rotation_progress": ["rotation_id"],
    "import_job": ["id"],
    "import_row_error": ["job_id"],
    "key_carrier": ["id"],
    "key_carrier_destruction": ["id", "carrier_id"],
    "key_carrier_destruction_signature": ["id", "destruction_id"],
    "key_carrier_handover": ["id", "carrier_id", "agreement_document_id"],
    "key_carrier_key": ["id", "carrier_id"],
    "key_carrier_usage": ["id", "carrier_id"],
    "key_ceremony": ["id"],
    "key_ceremony_component": ["id", "ceremony_id"],
    "key_document": ["id"],
    "key_emergency_plan": ["id", "document_id"],
    "key_handover_plan_review": ["id", "handover_id", "document_id"],
    "key_handover_supervision": ["id", "handover_id"],
    "key_incident_measure": ["id", "incident_id"],
    "key_security_incident": ["id", "carrier_id", "plan_id"],
    "liability_notice_ack": ["id", "person_id", "session_id"],
    "outbox_message": ["id", "person_id"],
    "person": ["id"],
    "person_disability_assessment": ["id", "person_id"],
    "person_employment": ["id", "person_id"],
    "person_qualification": ["id", "person_id"],
    "policy_version": ["id"],
    "portal_session": ["id", "person_id"],
    "psam_deployment": ["id", "carrier_id"],
    "query_password": ["person_id"],
    "security_key": ["id"],
    "staff_account": ["id"],
    "staff_session": ["id", "staff_id"],
    "terminal": ["id"],
}


def _retype(sql_type: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in ID_COLUMNS.items():
        changes = ", ".join(f'ALTER COLUMN "{c}" TYPE {sql_type}' for c in columns)
        op.execute(f'ALTER TABLE "{table}" {changes}')
        if "id" in columns:
            op.execute(
                f"DO $$ DECLARE s text := pg_get_serial_sequence('\"{table}\"', 'id'); "
                f"BEGIN IF s IS NOT NULL THEN EXECUTE format('ALTER SEQUENCE %s AS {sql_type}', s); END IF; END $$"
            )


def upgrade() -> None:
    _retype("BIGINT")


def downgrade() -> None:
    # Only possible while every id still fits in INTEGER (PostgreSQL refuses otherwise).
    _retype("INTEGER")
