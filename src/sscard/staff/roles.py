"""Staff roles (CH-2). Stored by value; one role per staff account."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    COUNTER_CLERK = "counter_clerk"
    COUNTER_SUPERVISOR = "counter_supervisor"
    BANK_CLERK = "bank_clerk"
    SECURITY_OFFICER = "security_officer"
    KEY_CUSTODIAN = "key_custodian"
    AUDITOR = "auditor"
    ADMINISTRATOR = "administrator"
    HOTLINE_OPERATOR = "hotline_operator"


# Which channel a role acts through by default (the audit entry records it, CH-4).
ROLE_CHANNEL = {
    Role.COUNTER_CLERK: "counter",
    Role.COUNTER_SUPERVISOR: "counter",
    Role.BANK_CLERK: "bank",
    Role.SECURITY_OFFICER: "security",
    Role.KEY_CUSTODIAN: "security",
    Role.AUDITOR: "admin",
    Role.ADMINISTRATOR: "admin",
    Role.HOTLINE_OPERATOR: "hotline",
}
