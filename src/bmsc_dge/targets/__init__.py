"""Target ranking: significance first, then curated prior, leading edges and leave-one-out stability."""

from bmsc_dge.targets._rank import TARGET_COLUMNS, rank_targets
from bmsc_dge.targets._refit import RefitData
from bmsc_dge.targets._stability import (
    GENE_COLUMNS,
    SET_COLUMNS,
    PendingStability,
    StabilityResult,
    leave_one_out,
    start_leave_one_out,
)

__all__ = [
    "GENE_COLUMNS",
    "SET_COLUMNS",
    "TARGET_COLUMNS",
    "PendingStability",
    "RefitData",
    "StabilityResult",
    "leave_one_out",
    "rank_targets",
    "start_leave_one_out",
]
