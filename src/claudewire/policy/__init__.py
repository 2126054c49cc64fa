"""The policy core, sans-IO: backoff, retry-after cap, circuit breaker, retry budget and adaptive rate limiting.

Decisions only: callers (the client, the gateway) do the I/O and the sleeping, feeding outcomes and reading
decisions. Everything takes an injected monotonic clock so it can be tested without waiting.
"""

from claudewire.policy.backoff import backoff_ceiling, full_jitter
from claudewire.policy.breaker import Breaker, BreakerState
from claudewire.policy.budget import BudgetTracker
from claudewire.policy.config import Policy, RetryBudget
from claudewire.policy.engine import (
    CallState,
    Decision,
    DecisionAction,
    Gate,
    GateAction,
    PolicyEngine,
    upstream_key,
)
from claudewire.policy.hooks import Hooks, MultiHooks
from claudewire.policy.ratelimit import FAMILIES, RateLimitTracker, parse_reset

__all__ = [
    "FAMILIES",
    "Breaker",
    "BreakerState",
    "BudgetTracker",
    "CallState",
    "Decision",
    "DecisionAction",
    "Gate",
    "GateAction",
    "Hooks",
    "MultiHooks",
    "Policy",
    "PolicyEngine",
    "RateLimitTracker",
    "RetryBudget",
    "backoff_ceiling",
    "full_jitter",
    "parse_reset",
    "upstream_key",
]
