"""Citizen identity (GB 11643), masking and protected personal fields (rules ID-1..ID-5)."""

from sscard.identity.citizen_id import CitizenId, InvalidCitizenId, parse_citizen_id
from sscard.identity.masking import mask_email, mask_id_number, mask_name, mask_phone

__all__ = [
    "CitizenId",
    "InvalidCitizenId",
    "mask_email",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "parse_citizen_id",
]
