"""Shared fixtures: a simulator per test, on 127.0.0.1 and a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from claudewire.sim import SimServer
from claudewire.testing import run_sim
from tests.redis_server import RedisServer

SIM_KEY = "sk-ant-sim-test-0123456789"
"""A key the `sim` fixture accepts (it accepts any non-empty key); looks real enough to exercise redaction."""

SIM_MODEL = "claude-haiku-4-5"
"""An active model of the simulator's catalogue (no SDK deprecation warning)."""


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """A healthy simulator (no pacing, seed 0) in a background thread; `.base_url`, `.set_faults`, `.stats` ..."""
    with run_sim(seed=0) as server:
        yield server


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh redis-server on 127.0.0.1 and a free port (`.url`, `.stop()`, `.start()`)."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server
