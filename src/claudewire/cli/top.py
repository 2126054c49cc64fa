"""`claudewire top`: a live terminal view of a claudewire gateway's (or client's) /metrics.

On a terminal it redraws a rich view every `--interval` seconds until q or Ctrl-C; when stdout is not a terminal
it prints one plain ``key=value`` line per interval instead (for logs and pipes). The figures come from
`claudewire.top`; this module only fetches on a timer, reads keys and renders.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from claudewire.top import Scrape, ScrapeError, UnreachableError, View, Watch, fetch, parse

_FAMILY = {"requests": "req", "tokens": "tok", "input_tokens": "in", "output_tokens": "out"}
_BREAKER_STYLE = {"closed": "green", "half-open": "yellow", "open": "bold red"}


# --- formatting ------------------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1, grouping: str = ",") -> str:
    return "-" if value is None else f"{value:{grouping}.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.2f}s"


def _short(value: float) -> str:
    """999 → 999, 1,000 → 1.0k, 50,000 → 50k, 399,975 → 400k, 1,200,000 → 1.2M: figures that fit beside each other.

    Three significant figures at most; a value that rounds to 1,000 of a unit takes the next (999,999 → 1.0M).
    """
    if abs(value) < 1000:
        return f"{value:g}"
    for limit, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "G")):
        scaled = value / limit
        text = f"{scaled:.1f}" if abs(scaled) < 9.95 else f"{scaled:.0f}"
        if abs(float(text)) < 1000 or suffix == "G":
            break
    return text + suffix


def _tokens_total(view: View) -> float | None:
    if view.seconds is None:
        return None
    return sum(sum(kinds.values()) for kinds in view.tokens_per_min.values())


def plain_line(view: View) -> str:
    """One ``key=value`` line with the headline figures (the non-terminal output)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    errors = ",".join(f"{kind}:{rate:.2f}" for kind, rate in view.errors_per_s.items()) or "none"
    breaker = ",".join(f"{up}:{state}" for up, state in view.breaker.items()) or "-"
    headroom = ",".join(f"{family}:{remaining:g}" for (_, family), remaining in view.ratelimit.items()) or "-"
    fields = [
        stamp,
        f"req/s={_num(view.requests_per_s, grouping='')}",
        f"errors={_pct(view.error_ratio)}",
        f"errors/s={errors}",
        f"p50={_ms(view.duration_p50)}",
        f"p99={_ms(view.duration_p99)}",
        f"ttfb_p50={_ms(view.ttfb_p50)}",
        f"ttfb_p99={_ms(view.ttfb_p99)}",
        f"retries/s={_num(view.retries_per_s, 2, grouping='')}",
        f"retries/req={_num(view.retries_per_request, 2, grouping='')}",
        f"breaker={breaker}",
        f"ratelimit_remaining={headroom}",
        f"tokens/min={_num(_tokens_total(view), 0, grouping='')}",
        f"cache_hit={_pct(view.cache_hit_ratio)}",
        f"in_flight={view.in_flight:g}",
        f"requests={view.requests_total:g}",
    ]
    return " ".join(fields)


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return table


def _rates(
    title: str, header: str, rates: Mapping[str, float], totals: Mapping[str, float], empty: str, rows: int
) -> Table:
    table = Table(title=title, title_justify="left", box=None, padding=(0, 2, 0, 0))
    table.add_column(header, style="bold", max_width=22, no_wrap=True, overflow="ellipsis")
    table.add_column("per s", justify="right")
    table.add_column("total", justify="right")
    # the busiest first, at most `rows` of them: the whole view must fit an 80x24 terminal
    names = sorted(set(rates) | set(totals), key=lambda n: (-rates.get(n, 0.0), -totals.get(n, 0.0), n))
    shown = names if len(names) <= rows else names[: rows - 1]
    for name in shown:
        table.add_row(name, _num(rates.get(name), 2), f"{totals.get(name, 0):g}")
    if len(shown) < len(names):
        table.add_row(Text(f"+{len(names) - len(shown)} more", style="dim"), "", "")
    if not names:
        table.add_row(Text(empty, style="dim"), "", "")
    return table


def _side_by_side(left: Table, right: Group) -> Table:
    grid = Table.grid(padding=(0, 3, 0, 0))
    grid.add_column()
    grid.add_column()
    grid.add_row(left, right)
    return grid


_SIDE_ROWS = 3  # rows of errors and of retries next to the traffic figures
_MODEL_ROWS = 4  # rows of models in the token table
_UPSTREAM_ROWS = 3


def render(view: View, url: str, error: str | None = None, *, interactive: bool = True) -> Group:
    """The rich view of `view` scraped from `url`; `error` (the last scrape failing) shown in red on top.

    It fits 80x24: the traffic figures with errors and retries beside them, then upstreams, then tokens by model
    with each model's cache-hit ratio; long lists show their busiest rows and a "+N more" line.
    """
    stamp = datetime.now().strftime("%H:%M:%S")
    span = f"last {view.seconds:.1f}s" if view.seconds is not None else "waiting for a second scrape"
    header = Text.assemble(("claudewire top", "bold"), f"  {url}  {stamp}  ({span})")
    if interactive:
        header.append("  q to quit", style="dim")
    header.truncate(80, overflow="ellipsis")
    parts: list[Table | Text] = [header]
    if error:
        parts.append(Text(f"scrape failed: {error}", style="bold red", overflow="ellipsis", no_wrap=True))
    traffic = _pairs(
        "Traffic",
        [
            ("requests/s", _num(view.requests_per_s)),
            ("error ratio", _pct(view.error_ratio)),
            ("latency p50 / p99", f"{_ms(view.duration_p50)} / {_ms(view.duration_p99)}"),
            ("first byte p50 / p99", f"{_ms(view.ttfb_p50)} / {_ms(view.ttfb_p99)}"),
            ("retries/s", _num(view.retries_per_s, 2)),
            ("retries per request", _num(view.retries_per_request, 2)),
            ("give-ups/s", _num(view.give_ups_per_s, 2)),
            ("rate-limit hold s/s", _num(view.ratelimit_wait_per_s, 2)),
            ("prompt cache hit", _pct(view.cache_hit_ratio)),
            ("in flight", f"{view.in_flight:g}"),
            ("requests (total)", f"{view.requests_total:g}"),
        ],
    )
    side = Group(
        _rates("Errors by kind", "kind", view.errors_per_s, view.errors_total, "no errors", _SIDE_ROWS),
        _rates("Retries by reason", "reason", view.retries_by_reason, view.retries_total, "no retries", _SIDE_ROWS),
    )
    parts.append(_side_by_side(traffic, side))
    upstreams = Table(title="Upstreams", title_justify="left", box=None, padding=(0, 2, 0, 0))
    upstreams.add_column("upstream", no_wrap=True, overflow="ellipsis", max_width=32)
    upstreams.add_column("breaker", no_wrap=True, min_width=9)
    upstreams.add_column("attempts/s", justify="right", no_wrap=True, min_width=10)
    upstreams.add_column("rate-limit left", justify="right", no_wrap=True, overflow="ellipsis")
    names = sorted(set(view.breaker) | {up for up, _ in view.ratelimit})
    for upstream in names[:_UPSTREAM_ROWS]:
        state = view.breaker.get(upstream, "-")
        headroom = " ".join(
            f"{_FAMILY.get(fam, fam)} {_short(rem)}" for (up, fam), rem in view.ratelimit.items() if up == upstream
        )
        attempts = _num(view.attempts_per_s.get(upstream), 2) if view.seconds is not None else "-"
        upstreams.add_row(upstream, Text(state, style=_BREAKER_STYLE.get(state, "")), attempts, headroom or "-")
    if len(names) > _UPSTREAM_ROWS:
        upstreams.add_row(Text(f"+{len(names) - _UPSTREAM_ROWS} more", style="dim"), "", "", "")
    parts.append(upstreams)
    tokens = Table(title="Tokens/min by model", title_justify="left", box=None, padding=(0, 2, 0, 0))
    for column in ("model", "input", "output", "cache read", "cache write", "cache hit"):
        tokens.add_column(
            column,
            justify="left" if column == "model" else "right",
            no_wrap=True,
            overflow="ellipsis",
            max_width=26 if column == "model" else None,
        )
    models = sorted(view.tokens_per_min, key=lambda m: -sum(view.tokens_per_min[m].values()))
    for model in models[:_MODEL_ROWS]:
        kinds = view.tokens_per_min[model]
        tokens.add_row(
            model,
            *(_num(kinds.get(kind), 0) for kind in ("input", "output", "cache_read", "cache_creation")),
            _pct(view.cache_hit_by_model.get(model)),
        )
    if len(models) > _MODEL_ROWS:
        tokens.add_row(Text(f"+{len(models) - _MODEL_ROWS} more", style="dim"), "", "", "", "", "")
    if not view.tokens_per_min:
        tokens.add_row("-", "-", "-", "-", "-", "-")
    parts.append(tokens)
    return Group(*parts)


# --- running ---------------------------------------------------------------------------------------------------


def _scraper(url: str, timeout: float, token: str | None) -> Callable[[], Scrape]:
    def scrape() -> Scrape:
        return parse(fetch(url, timeout=timeout, token=token), at=time.monotonic())

    return scrape


@contextlib.contextmanager
def _keys() -> Iterator[int | None]:
    """stdin in cbreak mode (keys arrive one at a time, Ctrl-C still interrupts); None when stdin is no terminal."""
    if not sys.stdin.isatty():
        yield None
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _wait_for_quit(fd: int | None, seconds: float) -> bool:
    """Sleep up to `seconds`; True as soon as q is pressed."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if fd is None:
            time.sleep(left)
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if ready and os.read(fd, 32).lower().find(b"q") >= 0:
            return True
    return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM leaves like Ctrl-C: terminal mode and screen restored on the way out


def _live(url: str, scrape: Callable[[], Scrape], watch: Watch, view: View, interval: float, console: Console) -> None:
    error: str | None = None
    signal.signal(signal.SIGTERM, _interrupt)
    with _keys() as fd, Live(render(view, url), console=console, screen=True, auto_refresh=False) as live:
        while not _wait_for_quit(fd, interval):
            try:
                view, error = watch.add(scrape()), None
            except ScrapeError as exc:
                error = str(exc)
            live.update(render(view, url, error), refresh=True)


def _plain(scrape: Callable[[], Scrape], watch: Watch, interval: float, once: bool) -> None:
    while True:
        time.sleep(interval)
        try:
            view = watch.add(scrape())
        except ScrapeError as exc:
            if once:
                raise
            click.echo(f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} scrape failed: {exc}", err=True)
            continue
        click.echo(plain_line(view))
        if once:
            return


@click.command(name="top")
@click.option(
    "--url",
    default="http://127.0.0.1:8787/metrics",
    show_default=True,
    help="The /metrics page of a claudewire gateway (or of a client exposing claudewire.metrics).",
)
@click.option(
    "--interval", default=1.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between scrapes."
)
@click.option(
    "--window", default=10.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds rates are averaged over."
)
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(min=0.1), help="Scrape timeout.")
@click.option("--once", is_flag=True, help="Scrape twice, --interval apart, print the figures once and exit.")
@click.option("--plain", is_flag=True, help="Plain key=value lines even on a terminal.")
@click.option(
    "--token",
    envvar="CLAUDEWIRE_TOKEN",
    default=None,
    metavar="TOKEN",
    help="A gateway client token, for a gateway in tokens mode (sent as x-api-key; env CLAUDEWIRE_TOKEN).",
)
def top(url: str, interval: float, window: float, timeout: float, once: bool, plain: bool, token: str | None) -> None:
    """Watch a claudewire gateway's metrics live: requests/s, errors by kind, p50/p99, retries, breaker, headroom.

    \b
    Examples:
      claudewire top                                       the gateway on 127.0.0.1:8787
      claudewire top --url http://10.0.0.5:8787/metrics --window 60
      claudewire top --token "$GATEWAY_TOKEN"             a gateway in tokens mode
      claudewire top --once | tee -a figures.log           one key=value line, for scripts
    """
    watch = Watch(window=window)
    scrape = _scraper(url, timeout, token)
    try:
        first = scrape()
    except UnreachableError as exc:
        raise click.ClickException(f"{exc}\n  Is the gateway running? Start one with: claudewire proxy") from None
    except ScrapeError as exc:
        raise click.ClickException(str(exc)) from None
    view = watch.add(first)
    console = Console()
    try:
        if plain or not console.is_terminal:
            _plain(scrape, watch, interval, once)
        elif once:
            time.sleep(interval)
            console.print(render(watch.add(scrape()), url, interactive=False))
        else:
            _live(url, scrape, watch, view, interval, console)
    except ScrapeError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass
