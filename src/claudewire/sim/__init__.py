"""claudewire sim: an Anthropic-compatible API that fails on purpose, deterministically.

Serves ``POST /v1/messages`` (plain and SSE), ``POST /v1/messages/count_tokens``, ``GET /v1/models`` and
``GET /v1/models/{id}`` with the API's shapes, keys, versions and rate-limit headers, Message Batches
(``/v1/messages/batches``) and Files (``/v1/files``) in memory, and injects the faults a real connection meets (see
`FaultSpec` for the grammar and `PROFILES` for named bundles); any other path answers a 404 naming the simulated
endpoints. Replies can be scripted (`ToolCall`, ``replies=``). Run it with ``claudewire sim``, or from Python with
`claudewire.testing.run_sim` / `SimServer`.
"""

from claudewire.sim.catalogue import DEFAULT_MODELS, Catalogue, Lifecycle, SimModel
from claudewire.sim.config import ACCEPTED_VERSIONS, APIS, Pacing, RateLimits, SimConfig, StorageLimits
from claudewire.sim.faults import PROFILES, FaultKind, FaultSpec, FaultSpecError
from claudewire.sim.replies import ScriptedReply, ToolCall
from claudewire.sim.server import SimServer, SimThread
from claudewire.sim.stats import RequestRecord, Stats

__all__ = [
    "ACCEPTED_VERSIONS",
    "APIS",
    "DEFAULT_MODELS",
    "PROFILES",
    "Catalogue",
    "FaultKind",
    "FaultSpec",
    "FaultSpecError",
    "Lifecycle",
    "Pacing",
    "RateLimits",
    "RequestRecord",
    "ScriptedReply",
    "SimConfig",
    "SimModel",
    "SimServer",
    "SimThread",
    "Stats",
    "StorageLimits",
    "ToolCall",
]
