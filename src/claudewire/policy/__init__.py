"""The policy core, sans-IO: backoff, retry-after cap, circuit breaker, retry budget, adaptive rate limiting and
the one call flow (`call_flow`) that the client and the gateway drive.

Decisions only: callers (the client, the gateway) do the I/O and the sleeping, feeding outcomes and reading
decisions. Everything takes an injected monotonic clock so it can be tested without waiting.
"""

from claudewire.policy.backoff import backoff_ceiling, full_jitter
from claudewire.policy.breaker import Breaker, BreakerState
from claudewire.policy.budget import BudgetState, BudgetTracker
from claudewire.policy.config import CALL_FIELDS, Policy, RetryBudget
from claudewire.policy.engine import (
    CallState,
    Decision,
    DecisionAction,
    Gate,
    GateAction,
    PolicyEngine,
    upstream_key,
)
from claudewire.policy.flow import (
    CallFlow,
    CallListener,
    Choice,
    Chooser,
    FailoverChooser,
    OneTarget,
    Outcome,
    Reject,
    Send,
    Step,
    Target,
    Wait,
    call_flow,
)
from claudewire.policy.hooks import Hooks, MultiHooks
from claudewire.policy.ratelimit import FAMILIES, RateLimitTracker, parse_reset

__all__ = [
    "CALL_FIELDS",
    "FAMILIES",
    "Breaker",
    "BreakerState",
    "BudgetState",
    "BudgetTracker",
    "CallFlow",
    "CallListener",
    "CallState",
    "Choice",
    "Chooser",
    "Decision",
    "DecisionAction",
    "FailoverChooser",
    "Gate",
    "GateAction",
    "Hooks",
    "MultiHooks",
    "OneTarget",
    "Outcome",
    "Policy",
    "PolicyEngine",
    "RateLimitTracker",
    "Reject",
    "RetryBudget",
    "Send",
    "Step",
    "Target",
    "Wait",
    "backoff_ceiling",
    "call_flow",
    "full_jitter",
    "parse_reset",
    "upstream_key",
]
