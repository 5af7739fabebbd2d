from positions.models.contract import BrokerContract
from positions.models.intent import (
    IntentPurpose,
    IntentStatus,
    Leg,
    OrderAction,
    OrderIntent,
    PriceType,
)
from positions.models.paper import PaperOrder, PaperOrderStatus, PaperPosition
from positions.models.position import (
    LIVE_STATUSES,
    Position,
    PositionStatus,
    PyramidingState,
    RolloverStatus,
)
from positions.models.rollover import ACTIVE_PHASES, Rollover, RolloverPhase

__all__ = [
    "ACTIVE_PHASES",
    "BrokerContract",
    "IntentPurpose",
    "IntentStatus",
    "LIVE_STATUSES",
    "Leg",
    "OrderAction",
    "OrderIntent",
    "PaperOrder",
    "PaperOrderStatus",
    "PaperPosition",
    "Position",
    "PositionStatus",
    "PriceType",
    "PyramidingState",
    "Rollover",
    "RolloverPhase",
    "RolloverStatus",
]
