"""Instance Data Condensation (sections 3-4, Algorithm 1): RLFF, NCFD, groups and pairs."""

from idc_core.method.condense import CondenseCancelled, CondensedInstance, condense_instance
from idc_core.method.settings import PRESETS, IDCSettings, build_settings

__all__ = [
    "PRESETS",
    "CondenseCancelled",
    "CondensedInstance",
    "IDCSettings",
    "build_settings",
    "condense_instance",
]
