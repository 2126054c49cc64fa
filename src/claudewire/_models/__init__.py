"""The Claude model catalogue: the lineup with lifecycle dates and capabilities, and the lookup over it. Pure data.

A low module on purpose: the simulator serves it, the doctor advises from it and `explain` reads 404s with it, and
none of them may import another for it (STYLE.md's arrows). Test `tests/sim/test_catalogue.py` turns CI red when the
installed SDK names a model this lineup lacks.
"""

from claudewire._models.catalogue import LINES, Catalogue, distance, normal_id
from claudewire._models.lineup import LINEUP
from claudewire._models.spec import (
    EFFORTS,
    ClaudeModel,
    FastMode,
    Lifecycle,
    Thinking,
    ThinkingOff,
    day_of,
    utc_today,
)

__all__ = [
    "EFFORTS",
    "LINES",
    "LINEUP",
    "Catalogue",
    "ClaudeModel",
    "FastMode",
    "Lifecycle",
    "Thinking",
    "ThinkingOff",
    "day_of",
    "distance",
    "normal_id",
    "utc_today",
]
