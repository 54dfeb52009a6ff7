"""Emergency plans for card security management, one versioned plan per region (KEY-9, art. 26)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from sscard.audit import Actor, record_event
from sscard.db.base import china_today
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.key_register.access import ensure_in_region, text
from sscard.key_register.documents import store_document
from sscard.key_register.models import DocumentKind, EmergencyPlan
from sscard.regions.codes import parent_code_of


def adopt_emergency_plan(
    uow: UnitOfWork,
    *,
    region_code: str,
    title: str,
    effective_from: date,
    filename: str,
    content: bytes,
    actor: Actor,
    media_type: str | None = None,
) -> EmergencyPlan:
    """Adopt a new version of the region's emergency plan (the document is kept with its SHA-256)."""
    ensure_in_region(actor, region_code)
    title = text(title, "title", max_len=128)
    document = store_document(
        uow,
        kind=DocumentKind.EMERGENCY_PLAN,
        region_code=region_code,
        filename=filename,
        content=content,
        media_type=media_type,
        actor=actor,
    )
    latest = uow.session.scalar(select(func.max(EmergencyPlan.version)).where(EmergencyPlan.region_code == region_code))
    plan = EmergencyPlan(
        region_code=region_code,
        version=(latest or 0) + 1,
        title=title,
        document_id=document.id,
        effective_from=effective_from,
        adopted_by=actor.id,
    )
    uow.session.add(plan)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="plan.adopt",
        subject=f"plan:{region_code}",
        details={"version": plan.version, "document": document.id, "sha256": document.sha256, "title": title},
    )
    return plan


def plan_in_force(uow: UnitOfWork, *, region_code: str, on: date | None = None) -> EmergencyPlan | None:
    """The plan governing ``region_code`` on ``on``: its own latest effective version, else its nearest
    ancestor's (a province's plan covers the cities that have none of their own)."""
    on = on or china_today()
    code: str | None = region_code
    while code is not None:
        plan = uow.session.scalar(
            select(EmergencyPlan)
            .where(EmergencyPlan.region_code == code, EmergencyPlan.effective_from <= on)
            .order_by(EmergencyPlan.version.desc())
            .limit(1)
        )
        if plan is not None:
            return plan
        code = parent_code_of(code)
    return None


def list_plans(uow: UnitOfWork, *, region_code: str, page: Keyset | None = None) -> list[EmergencyPlan]:
    """Every version of the region's own plan, newest first."""
    query = select(EmergencyPlan).where(EmergencyPlan.region_code == region_code)
    return taken(uow.session.scalars(ordered(query, page, EmergencyPlan.version.desc(), EmergencyPlan.id.desc())), page)
