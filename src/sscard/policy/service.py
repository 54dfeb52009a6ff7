"""Read and change regional policy (POL): versioned, audited, inherited, selected by card type (CARD-3).

A region stores only the values it overrides. The policy in force for a region and card type is the
national defaults, overlaid broad → narrow by each enclosing region's newest effective version: at
each level first the version for all card types, then the one for the card's type. So a city's
general rule beats a national card-type rule, and within one region the card-type rule wins.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor, record_event
from sscard.cards.types import CardType, parse_card_type
from sscard.db.base import utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.policy.errors import PolicyInvalid, PolicyScheduleConflict
from sscard.policy.models import ANY_CARD_TYPE, PolicyVersion
from sscard.policy.schemas import POLICY_KEYS, EffectivePolicy, RegionalPolicy
from sscard.regions.codes import NATIONAL, is_region_code, parent_code_of
from sscard.regions.service import get_region_or_raise

# A change "now" may reach the server a little after the client's clock said now.
_BACKDATE_TOLERANCE = timedelta(minutes=5)


def region_chain(region_code: str) -> list[str]:
    """The region and every broader one its code implies, broadest (national) first."""
    if not is_region_code(region_code):
        raise PolicyInvalid("a region code is six digits")
    chain = [region_code]
    while (parent := parent_code_of(chain[-1])) is not None:
        chain.append(parent)
    return chain[::-1]


def _card_type_key(card_type: CardType | str | None) -> str:
    return ANY_CARD_TYPE if card_type in (None, "", ANY_CARD_TYPE) else parse_card_type(card_type).value  # type: ignore[arg-type]


def get_effective_policy(
    uow: UnitOfWork, *, region_code: str, card_type: CardType | str | None = None, at: datetime | None = None
) -> EffectivePolicy:
    """The policy in force for ``region_code`` (and ``card_type``) at ``at`` (default now)."""
    return get_effective_policies(uow, region_codes=[region_code], card_type=card_type, at=at)[region_code]


# Built once (statement and cache key): read on every PIN verification and portal login.
_VERSIONS_IN_FORCE = (
    select(PolicyVersion)
    .where(
        PolicyVersion.region_code.in_(bindparam("codes", expanding=True)),
        PolicyVersion.card_type.in_(bindparam("types", expanding=True)),
        PolicyVersion.effective_from <= bindparam("at"),
    )
    .order_by(PolicyVersion.version)
)


def get_effective_policies(
    uow: UnitOfWork, *, region_codes: list[str], card_type: CardType | str | None = None, at: datetime | None = None
) -> dict[str, EffectivePolicy]:
    """The policies in force for several regions at once, read in one query (hot paths such as login)."""
    at = at or utcnow()
    if at.tzinfo is None:
        raise PolicyInvalid("the moment to evaluate needs a time zone (e.g. 2026-04-13T08:00+08:00)")
    chains = {code: region_chain(code) for code in region_codes}
    type_key = _card_type_key(card_type)
    type_keys = [ANY_CARD_TYPE] if type_key == ANY_CARD_TYPE else [ANY_CARD_TYPE, type_key]
    codes = sorted({c for chain in chains.values() for c in chain})
    rows = uow.session.scalars(_VERSIONS_IN_FORCE, {"codes": codes, "types": type_keys, "at": at}).all()
    newest = {(r.region_code, r.card_type): r for r in rows}  # ordered by version: the last one wins
    return {code: _merge(newest, chain, type_keys, code, type_key, at) for code, chain in chains.items()}


def _merge(
    newest: dict[tuple[str, str], PolicyVersion],
    chain: list[str],
    type_keys: list[str],
    region_code: str,
    type_key: str,
    at: datetime,
) -> EffectivePolicy:
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for code in chain:
        for key in type_keys:
            row = newest.get((code, key))
            if row is None:
                continue
            for name, value in row.settings.items():
                if name in POLICY_KEYS:  # a key retired from the schema is ignored, not fatal
                    merged[name] = value
                    sources[name] = row.scope
    return EffectivePolicy.model_validate(
        {
            **merged,
            "region_code": region_code,
            "card_type": None if type_key == ANY_CARD_TYPE else type_key,
            "as_of": at,
            "sources": sources,
        }
    )


def validate_policy_values(values: dict[str, Any]) -> dict[str, Any]:
    """Check overrides against the schema; their JSON form, or ``POLICY_INVALID`` naming each fault."""
    unknown = sorted(set(values) - set(POLICY_KEYS))
    if unknown:
        raise PolicyInvalid(f"unknown policy keys: {', '.join(unknown)}", keys=unknown)
    try:
        parsed = RegionalPolicy.model_validate(values)
    except ValidationError as exc:
        # Where and why, never the rejected value itself.
        faults = ["{}: {}".format(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise PolicyInvalid("; ".join(faults)[:500], faults=faults[:20]) from None
    return parsed.model_dump(mode="json", include=set(values))


def latest_version(
    uow: UnitOfWork, *, region_code: str, card_type: CardType | str | None = None
) -> PolicyVersion | None:
    """The newest stored version of one scope, effective or scheduled, or None."""
    return uow.session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.region_code == region_code, PolicyVersion.card_type == _card_type_key(card_type))
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    )


def set_policy(
    uow: UnitOfWork,
    *,
    region_code: str,
    actor: Actor,
    reason: str,
    values: dict[str, Any] | None = None,
    unset: list[str] | tuple[str, ...] = (),
    card_type: CardType | str | None = None,
    effective_from: datetime | None = None,
    now: datetime | None = None,
) -> PolicyVersion:
    """Record a new version of a region's policy: the previous overrides, changed by ``values`` and ``unset``."""
    now = now or utcnow()
    values = dict(values or {})
    if region_code != NATIONAL:  # the national level exists whether or not its row was registered
        get_region_or_raise(uow, region_code)
    type_key = _card_type_key(card_type)
    reason = (reason or "").strip()
    if not 3 <= len(reason) <= 200:
        raise PolicyInvalid("give a reason of 3 to 200 characters")
    unknown = sorted(set(unset) - set(POLICY_KEYS))
    if unknown:
        raise PolicyInvalid(f"unknown policy keys: {', '.join(unknown)}", keys=unknown)
    if not values and not unset:
        raise PolicyInvalid("nothing to change: give values to set or keys to unset")
    both = sorted(set(values) & set(unset))
    if both:
        raise PolicyInvalid(f"keys both set and unset: {', '.join(both)}")
    changed = validate_policy_values(values)

    effective_from = effective_from or now
    if effective_from.tzinfo is None:
        raise PolicyInvalid("effective_from needs a time zone")
    if effective_from < now - _BACKDATE_TOLERANCE:
        raise PolicyInvalid("a policy change cannot take effect in the past")
    previous = latest_version(uow, region_code=region_code, card_type=type_key)
    if previous is not None and previous.effective_from > effective_from:
        raise PolicyScheduleConflict(
            f"version {previous.version} takes effect {previous.effective_from.isoformat()}; "
            "a new change must take effect at or after it"
        )
    settings = {k: v for k, v in (previous.settings if previous else {}).items() if k not in set(unset)}
    settings.update(changed)
    version = PolicyVersion(
        region_code=region_code,
        card_type=type_key,
        version=(previous.version if previous else 0) + 1,
        effective_from=effective_from,
        settings=settings,
        changed_by=actor.id[:64],
        changed_role=actor.role[:32],
        changed_channel=actor.channel.value,
        reason=reason,
        created_at=now,
    )
    try:
        with uow.session.begin_nested():  # two administrators saving at once: one gets a clear conflict
            uow.session.add(version)
    except IntegrityError:
        raise PolicyScheduleConflict("the policy was changed at the same moment; reload and try again") from None
    record_event(
        uow,
        actor=actor,
        action="policy.set",
        subject=f"policy:{region_code}/{type_key}",
        details={
            "version": version.version,
            "effective_from": effective_from.isoformat(),
            "set": changed,
            "unset": sorted(unset),
            "reason": reason,
        },
    )
    return version


def list_policy_versions(
    uow: UnitOfWork,
    *,
    region_code: str,
    card_type: CardType | str | None = None,
    all_types: bool = True,
    page: Keyset | None = None,
) -> list[PolicyVersion]:
    """The stored versions of a region (every card type unless ``all_types`` is false), oldest first."""
    stmt = select(PolicyVersion).where(PolicyVersion.region_code == region_code)
    if not all_types or card_type is not None:
        stmt = stmt.where(PolicyVersion.card_type == _card_type_key(card_type))
    order = (PolicyVersion.card_type, PolicyVersion.version, PolicyVersion.id)
    return taken(uow.session.scalars(ordered(stmt, page, *order)), page)


def loss_report_expiry_days(uow: UnitOfWork, *, region_code: str, card_type: CardType | str | None = None) -> int:
    """CARD-5: days a hotline loss report blocks the card before it lapses, by the card's region policy."""
    return get_effective_policy(uow, region_code=region_code, card_type=card_type).loss_report_expiry_days
