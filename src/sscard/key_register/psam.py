"""The PSAM card registry (KEY-8, measures art. 25): each card's particulars and usage, where and how
it is deployed (terminal or institution, physical form, external environment, usage mode), its
recovery, and — through ``destruction.py`` — its witnessed destruction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from sscard.audit import Actor
from sscard.db.base import utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.key_register import bridge
from sscard.key_register.access import text
from sscard.key_register.carriers import get_carrier_or_raise, list_carriers, move_carrier
from sscard.key_register.errors import KeysInvalid, NotPsam
from sscard.key_register.models import KeyCarrier, PsamDeployment, PsamForm, PsamUsageMode
from sscard.key_register.states import CarrierEvent, CarrierType
from sscard.regions.codes import is_within


def _psam(uow: UnitOfWork, carrier_id: int) -> KeyCarrier:
    carrier = get_carrier_or_raise(uow, carrier_id, for_update=True)
    if carrier.carrier_type is not CarrierType.PSAM_CARD:
        raise NotPsam(f"carrier {carrier_id} is a {carrier.carrier_type.value}")
    return carrier


def deploy_psam(
    uow: UnitOfWork,
    *,
    carrier_id: int,
    physical_form: PsamForm | str,
    environment: str,
    usage_mode: PsamUsageMode | str,
    actor: Actor,
    terminal_id: str | None = None,
    institution: str | None = None,
) -> PsamDeployment:
    """Deploy a PSAM card into a terminal or an institution, recording form, environment and mode (KEY-8)."""
    carrier = _psam(uow, carrier_id)
    try:
        form, mode = PsamForm(physical_form), PsamUsageMode(usage_mode)
    except ValueError:
        raise KeysInvalid(
            f"physical_form is one of {', '.join(f.value for f in PsamForm)}; "
            f"usage_mode one of {', '.join(m.value for m in PsamUsageMode)}"
        ) from None
    terminal_id = (terminal_id or "").strip() or None
    institution = text(institution, "institution", max_len=128, required=False) or None
    if terminal_id is None and institution is None:
        raise KeysInvalid("a PSAM is bound to a terminal or an institution", field="terminal_id")
    if terminal_id is not None and not is_within(bridge.terminal_region(uow, terminal_id), carrier.region_code):
        raise KeysInvalid(f"terminal {terminal_id} is outside the card's region {carrier.region_code}")
    environment = text(environment, "environment", max_len=200)
    bound = terminal_id or institution or ""
    move_carrier(
        uow,
        carrier,
        CarrierEvent.DEPLOY,
        actor=actor,
        location=f"terminal {terminal_id}" if terminal_id else bound,
        holder=institution or bound,
        purpose=f"deployed: {form.value}, {mode.value}",
        details={"terminal": terminal_id, "institution": institution, "form": form.value, "mode": mode.value},
    )
    deployment = PsamDeployment(
        carrier_id=carrier.id,
        terminal_id=terminal_id,
        institution=institution,
        region_code=carrier.region_code,
        physical_form=form,
        environment=environment,
        usage_mode=mode,
        deployed_by=actor.id,
    )
    uow.session.add(deployment)
    uow.flush()
    return deployment


def current_deployment(uow: UnitOfWork, *, carrier_id: int) -> PsamDeployment | None:
    """The deployment in force (not ended), if any."""
    return uow.session.scalar(
        select(PsamDeployment)
        .where(PsamDeployment.carrier_id == carrier_id, PsamDeployment.ended_at.is_(None))
        .order_by(PsamDeployment.id.desc())
    )


def deployments_of(uow: UnitOfWork, *, carrier_id: int, page: Keyset | None = None) -> list[PsamDeployment]:
    """Every deployment of the card, oldest first."""
    query = select(PsamDeployment).where(PsamDeployment.carrier_id == carrier_id)
    return taken(uow.session.scalars(ordered(query, page, PsamDeployment.id)), page)


def end_deployment(uow: UnitOfWork, *, carrier: KeyCarrier, reason: str, actor: Actor) -> PsamDeployment | None:
    """Close the deployment in force when the card leaves its terminal (stored, recovered, handed over, lost)."""
    if carrier.carrier_type is not CarrierType.PSAM_CARD:
        return None
    deployment = current_deployment(uow, carrier_id=carrier.id)
    if deployment is not None:
        deployment.ended_at, deployment.ended_by, deployment.end_reason = utcnow(), actor.id, reason
        uow.flush()
    return deployment


def recover_psam(uow: UnitOfWork, *, carrier_id: int, location: str, reason: str, actor: Actor) -> KeyCarrier:
    """Withdraw a PSAM from its terminal into the custodian's hands (KEY-8 recovery)."""
    from sscard.key_register.carriers import recover_carrier

    _psam(uow, carrier_id)
    return recover_carrier(uow, carrier_id=carrier_id, location=location, purpose=reason, actor=actor)


@dataclass(frozen=True)
class PsamEntry:
    carrier: KeyCarrier
    deployment: PsamDeployment | None


def psam_register(uow: UnitOfWork, *, region_code: str | None = None, page: Keyset | None = None) -> list[PsamEntry]:
    """Every PSAM card (region and sub-regions) with its deployment in force."""
    cards = list_carriers(uow, region_code=region_code, carrier_type=CarrierType.PSAM_CARD, page=page)
    in_force = select(PsamDeployment).where(
        PsamDeployment.ended_at.is_(None), PsamDeployment.carrier_id.in_([c.id for c in cards])
    )
    open_deployments = {d.carrier_id: d for d in uow.session.scalars(in_force)}
    return [PsamEntry(card, open_deployments.get(card.id)) for card in cards]
