"""`claudewire top`'s rich view: everything, cache-hit ratio included, fits an 80x24 terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from claudewire._errors import Failure, FailureKind
from claudewire.cli.top import _short, plain_line, render
from claudewire.metrics import Metrics
from claudewire.top import View, Watch, parse

UP = "https://api.anthropic.com:443"
KINDS = (FailureKind.OVERLOADED, FailureKind.RATE_LIMIT, FailureKind.SERVER, FailureKind.AUTH)


def _busy(metrics: Metrics, n: int) -> None:
    """Traffic for a busy gateway: several error kinds, retry reasons, two upstreams, three models with caching."""
    for i in range(n):
        metrics.observe_request("messages", 200, "", 0.3, 0.05)
        kind = KINDS[i % len(KINDS)]
        metrics.observe_request("messages", 529, str(kind), 1.0)
        metrics.on_retry(UP, 1, 0.5, Failure.of(kind))
        metrics.on_attempt_end(UP, 1, None, 0.3)
    metrics.on_ratelimit(UP, "requests", 3990)
    metrics.on_ratelimit(UP, "input_tokens", 1_999_000)
    metrics.register_upstream("https://backup.example.internal:443")
    metrics.add_tokens("claude-haiku-4-5-20251001", 20 * n, 10 * n, cache_read=900 * n, cache_creation=0)
    metrics.add_tokens("claude-opus-4-8", 1000 * n, 50 * n, cache_read=0, cache_creation=4000 * n)
    metrics.add_tokens("claude-sonnet-4-6", 500 * n, 40 * n)


def _view() -> View:
    metrics = Metrics()
    watch = Watch(window=10.0)
    _busy(metrics, 10)
    watch.add(parse(metrics.render().decode(), at=0.0))
    _busy(metrics, 10)
    return watch.add(parse(metrics.render().decode(), at=2.0))


def _screen(view: View, width: int = 80) -> list[str]:
    console = Console(width=width, height=24, file=io.StringIO(), record=True, color_system=None)
    console.print(render(view, "http://127.0.0.1:8787/metrics"))
    return console.export_text().rstrip("\n").split("\n")


def test_a_busy_view_fits_80_by_24_with_the_token_table_whole() -> None:
    """A busy gateway's view is at most 24 lines of 80 columns, and its last section (tokens) is all there."""
    lines = _screen(_view())
    assert len(lines) <= 24, "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "Tokens/min by model" in text and "cache hit" in text
    assert any(line.startswith("claude-sonnet-4-6") for line in lines)  # the last model row made it on screen
    assert "more" in text  # four error kinds, three shown: the rest summarised on one line


def test_cache_hit_ratio_is_read_over_the_whole_prompt() -> None:
    """The hit ratio is cache_read / (input + cache_read + cache_creation): overall and per model, as shown."""
    view = _view()
    assert view.cache_hit_by_model["claude-haiku-4-5-20251001"] == 900 / 920
    assert view.cache_hit_by_model["claude-opus-4-8"] == 0.0
    assert view.cache_hit_ratio == 9000 / (200 + 9000 + 10000 + 40000 + 5000)
    text = "\n".join(_screen(view))
    assert "97.8%" in text  # haiku's row
    assert f"cache_hit={view.cache_hit_ratio * 100:.1f}%" in plain_line(view)


def test_no_prompt_tokens_means_no_ratio() -> None:
    """Before any usage is reported the ratio is unknown ("-"), not 0%."""
    metrics = Metrics()
    metrics.observe_request("messages", 200, "", 0.3, 0.05)
    view = Watch().add(parse(metrics.render().decode(), at=0.0))
    assert view.cache_hit_ratio is None
    assert "cache_hit=-" in plain_line(view)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(999, "999"), (1_000, "1.0k"), (50_000, "50k"), (399_975, "400k"), (999_999, "1.0M"), (1_200_000, "1.2M")],
)
def test_headroom_figures_are_scaled_by_a_thousand_per_unit(value: float, shown: str) -> None:
    """k is thousands and M millions (399,975 is 400k, not 40.0k); a value rounding to 1000k reads 1.0M."""
    assert _short(value) == shown


def test_the_upstream_row_shows_rate_limit_headroom_at_its_value() -> None:
    """An upstream with 399,975 tokens and 50,000 requests left shows `tok 400k` and `req 50k` in its row."""
    metrics = Metrics()
    metrics.observe_request("messages", 200, "", 0.3, 0.05)
    metrics.on_ratelimit(UP, "tokens", 399_975)
    metrics.on_ratelimit(UP, "requests", 50_000)
    view = Watch().add(parse(metrics.render().decode(), at=0.0))
    row = next(line for line in _screen(view, width=120) if line.startswith(UP))
    assert "tok 400k" in row and "req 50k" in row
    assert "40.0k" not in row
