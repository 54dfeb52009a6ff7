"""PIN-change campaigns at terminals (PIN-9, seed 004).

From the campaign's start date, a terminal of the campaign's region prompts a holder of a selected
population whose PIN is still the initial one to change it before the transaction continues. The
prompt is advice carried in the answer: no card is voided for not changing and there is no deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sscard.cards.models import Card
from sscard.credentials.pin.populations import holder_populations
from sscard.db.session import UnitOfWork
from sscard.people.models import Person
from sscard.policy.schemas import EffectivePolicy

# Campaign dates are local dates in China (UTC+8 all year, no daylight saving).
CHINA = timezone(timedelta(hours=8), "CST")


def local_date(at: datetime | None = None) -> date:
    """The date in China at ``at`` (default now)."""
    return (at or datetime.now(UTC)).astimezone(CHINA).date()


@dataclass(frozen=True, slots=True)
class CampaignPrompt:
    """What the terminal shows before it continues: change the initial PIN now (no deadline, PIN-9)."""

    campaign: str
    action: str = "change_pin"
    message: str = (
        "Your card still uses the initial PIN. Please set your own PIN now; "
        "the card stays valid whether or not you change it."
    )
    message_zh: str = (
        "您的社会保障卡仍使用初始密码，请按提示修改密码后继续使用。不修改密码卡片不会作废，修改时间不受限制。"
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "action": self.action,
            "message": self.message,
            "message_zh": self.message_zh,
        }


def campaign_prompt_for(
    uow: UnitOfWork, *, terminal_policy: EffectivePolicy, card: Card, person: Person, pin_enabled: bool, on: date
) -> CampaignPrompt | None:
    """The prompt a terminal governed by ``terminal_policy`` shows for this card, if any (PIN-9).

    The holder's populations come from their insurance participation on ``on`` (INS-2)."""
    if pin_enabled:
        return None  # only holders still on the initial PIN are prompted (seed 004 item 3)
    if not terminal_policy.pin_change_campaigns:
        return None  # no campaign: nothing to read
    populations = set(holder_populations(uow, person=person, card_type=card.card_type, on=on))
    matching = terminal_policy.campaigns_prompting(card_type=card.card_type, populations=populations, on=on)
    return CampaignPrompt(campaign=matching[0].name) if matching else None
