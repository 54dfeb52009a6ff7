"""Administrative regions (GB/T 2260 six-digit codes): the scope of staff, keys and policy."""

from sscard.regions.codes import NATIONAL, RegionLevel, is_within, level_of

__all__ = ["NATIONAL", "RegionLevel", "is_within", "level_of"]
