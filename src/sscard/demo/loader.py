"""Load the demo data set (idempotent): regions, staff logins, persons and their cards.

Each step looks its rows up by natural key (region code, username, citizen ID) and only adds what is
missing, so a second run writes nothing and prints the same logins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sscard.audit import Actor, record_event
from sscard.cards.service import (
    activate_card,
    apply_for_card,
    confirm_loss,
    issue_card,
    list_cards_of_person,
    replace_card,
    report_loss_by_hotline,
)
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.demo import data
from sscard.demo.insurance import InsuranceDemo, load_demo_insurance
from sscard.errors import DomainError
from sscard.people.service import add_person, find_person_by_id_number
from sscard.policy.demo import load_demo_policies
from sscard.regions.service import add_region, get_region
from sscard.staff.service import create_staff, get_staff
from sscard.staff.totp import TOTP_SECRET, requires_second_factor, set_secret
from sscard.terminal_registry.demo import load_demo_terminals


class DemoRefused(DomainError):
    code = "DEMO_REFUSED"
    status = 409
    title = "Demo data is not loaded into a production installation."
    title_zh = "生产环境不加载演示数据。"


@dataclass
class DemoReport:
    """What the demo holds after loading, and how much this run added."""

    regions_added: int = 0
    staff_added: int = 0
    persons_added: int = 0
    cards_added: int = 0
    staff: list[data.DemoStaff] = field(default_factory=list)
    # username → TOTP secret of the demo accounts whose role signs in with a second factor (dev only).
    totp: dict[str, str] = field(default_factory=dict)
    persons: list[dict[str, str]] = field(default_factory=list)
    terminals: list[str] = field(default_factory=list)
    insurance: InsuranceDemo | None = None

    @property
    def changed(self) -> bool:
        return any((self.regions_added, self.staff_added, self.persons_added, self.cards_added)) or bool(
            self.insurance and self.insurance.changed
        )


def load_demo_regions(uow: UnitOfWork, *, actor: Actor, report: DemoReport) -> None:
    """Register the demo regions (national, two provinces, their cities and districts)."""

    for r in data.REGIONS:
        if get_region(uow, r.code) is None:
            add_region(uow, code=r.code, name_zh=r.name_zh, name_en=r.name_en, actor=actor)
            report.regions_added += 1


def load_demo_staff(uow: UnitOfWork, *, actor: Actor, report: DemoReport) -> None:
    """Open one staff account per role in each demo province (plus one Shenzhen clerk).

    The roles that sign in with a second factor (security officer, key custodian, auditor,
    administrator) are enrolled with a random TOTP secret, kept sealed like any, and printed with the
    logins (``sscard demo otp USERNAME`` prints the current code): ``make run`` stays usable at once.
    """
    import pyotp

    for s in data.STAFF:
        account = get_staff(uow, s.username)
        if account is not None and s.bank_code and account.bank_code is None:
            # A demo loaded before bank clerks carried their bank: give the demo clerk the demo bank.
            account.bank_code = s.bank_code
            uow.flush()
            record_event(
                uow, actor=actor, action="staff.set_bank", subject=f"staff:{s.username}", details={"bank": s.bank_code}
            )
        if account is None:
            account = create_staff(
                uow,
                username=s.username,
                password=data.DEMO_STAFF_PASSWORD,
                role=s.role,
                region_code=s.region_code,
                display_name=s.display_name,
                bank_code=s.bank_code,
                actor=actor,
            )
            report.staff_added += 1
        if requires_second_factor(account.role):
            if account.totp_secret_enc is None or account.totp_confirmed_at is None:
                set_secret(account, pyotp.random_base32(), confirmed_at=utcnow())
                uow.flush()
            assert account.totp_secret_enc is not None  # noqa: S101 - set just above
            report.totp[account.username] = TOTP_SECRET.open(account.totp_secret_enc)
        report.staff.append(s)


def load_demo_people(uow: UnitOfWork, *, actor: Actor, report: DemoReport) -> None:
    """Register the demo persons and give each the card its plan names (only if they have no card yet)."""

    for p in data.PERSONS:
        person = find_person_by_id_number(uow, p.id_number)
        if person is None:
            person = add_person(uow, id_number=p.id_number, name=p.name, phone=p.phone, email=p.email, actor=actor)
            report.persons_added += 1
        cards = list_cards_of_person(uow, person_id=person.id)
        if not cards and p.card is not None:
            report.cards_added += _give_card(
                uow, person_id=person.id, id_number=p.id_number, plan=p.card, bank=p.bank, actor=actor
            )
            cards = list_cards_of_person(uow, person_id=person.id)
        newest = cards[0] if cards else None
        report.persons.append(
            {
                "name": p.name,
                "id_number": p.id_number,  # fictitious demo data: shown in full so it can be typed in
                "card_no": newest.card_no if newest else "-",
                "bank": (newest.bank_code or "-") if newest else "-",
                "card_state": (newest.state.value + (" (replacement)" if newest.replaces_card_id else ""))
                if newest
                else "-",
                # the initial query password (QPW-1): valid until the holder changes it at first login
                "initial_portal_password": p.id_number[-8:].replace("X", "0"),
            }
        )


def _give_card(
    uow: UnitOfWork, *, person_id: int, id_number: str, plan: str, actor: Actor, bank: str | None = None
) -> int:
    """Walk a new social security card through the states ``plan`` names; returns cards created.

    With ``bank`` the card has the financial function, issued through that bank (FIN-3)."""

    financial = bank is not None
    if plan == "applied":
        apply_for_card(uow, person_id=person_id, actor=actor, financial=financial, bank_code=bank)
        return 1
    card = issue_card(uow, person_id=person_id, actor=actor, financial=financial, bank_code=bank)
    if plan == "issued":
        return 1
    activate_card(uow, card_no=card.card_no, actor=actor)
    if plan == "active":
        return 1
    report_loss_by_hotline(uow, id_number=id_number, actor=actor)
    if plan == "loss_reported":
        return 1
    confirm_loss(uow, card_no=card.card_no, actor=actor, evidence="resident ID card checked (demo)")
    replace_card(uow, card_no=card.card_no, actor=actor)
    return 2


def load_demo(uow: UnitOfWork, *, actor: Actor, env: str) -> DemoReport:
    """Load every part of the demo in one unit of work; refused in production."""
    if env == "prod":
        raise DemoRefused("demo data publishes its passwords; it is refused when SSCARD_ENV=prod")
    report = DemoReport()
    load_demo_regions(uow, actor=actor, report=report)
    # Regional policies before cards: loss-report expiry and initial PIN rules are read from them.
    load_demo_policies(uow, actor=actor)
    load_demo_staff(uow, actor=actor, report=report)
    load_demo_people(uow, actor=actor, report=report)
    report.terminals = load_demo_terminals(uow, actor=actor)
    # Issue 19: employers, registrations, two years of contributions, interest, discrepancy reports.
    report.insurance = load_demo_insurance(uow, actor=actor)
    # Hook for last year's statements (INS-4): generate them here for ``report.insurance.person_ids``
    # and ``report.insurance.statement_year`` (complete, with its interest), idempotently.
    return report
