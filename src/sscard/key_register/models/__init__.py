"""Key-management tables: devices (KEY-4), carriers and PSAM (KEY-5, KEY-8), handovers (KEY-7),
plans and incidents (KEY-9). Imported together so ``Base.metadata`` sees them all."""

from sscard.key_register.models.carriers import (
    CarrierDestruction,
    CarrierKey,
    CarrierUsage,
    DestructionSignature,
    KeyCarrier,
    PsamDeployment,
    PsamForm,
    PsamUsageMode,
)
from sscard.key_register.models.devices import CryptoDevice, DeviceAlert, DeviceState
from sscard.key_register.models.documents import DocumentKind, KeyDocument
from sscard.key_register.models.handovers import CarrierHandover, PlanReview, ReviewDecision, SupervisionEntry
from sscard.key_register.models.incidents import (
    EmergencyPlan,
    IncidentKind,
    IncidentMeasure,
    MeasureKind,
    MeasureStatus,
    SecurityIncident,
)

__all__ = [
    "CarrierDestruction",
    "CarrierHandover",
    "CarrierKey",
    "CarrierUsage",
    "CryptoDevice",
    "DestructionSignature",
    "DeviceAlert",
    "DeviceState",
    "DocumentKind",
    "EmergencyPlan",
    "IncidentKind",
    "IncidentMeasure",
    "KeyCarrier",
    "KeyDocument",
    "MeasureKind",
    "MeasureStatus",
    "PlanReview",
    "PsamDeployment",
    "PsamForm",
    "PsamUsageMode",
    "ReviewDecision",
    "SecurityIncident",
    "SupervisionEntry",
]
