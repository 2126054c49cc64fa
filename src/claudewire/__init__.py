"""claudewire: find out why a connection to the Claude API fails, and keep it working."""

from claudewire._errors import CircuitOpenError, ClaudewireError, Failure, FailureKind, classify
from claudewire._secrets import redact
from claudewire.client import Anthropic, AsyncAnthropic
from claudewire.policy import BreakerState, Hooks, Policy, PolicyEngine, RetryBudget

__all__ = [
    "Anthropic",
    "AsyncAnthropic",
    "BreakerState",
    "CircuitOpenError",
    "ClaudewireError",
    "Failure",
    "FailureKind",
    "Hooks",
    "Policy",
    "PolicyEngine",
    "RetryBudget",
    "classify",
    "redact",
]
