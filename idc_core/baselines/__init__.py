"""Selection baselines of Table 1 (Random, Herding, K-Center, DCSR): they keep real patches.

Each method selects over the WHOLE patch set of all instances with one global budget, as the
paper does; `select_indices` is what `idc_core.api.condense_images` calls for them.
"""

from idc_core.baselines.selection import METHODS, select, select_indices, selection_budget

__all__ = ["METHODS", "select", "select_indices", "selection_budget"]
