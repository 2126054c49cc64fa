"""Run the checks in order, concurrently where they are independent, each step and the whole run bounded.

The layers form a chain — config → proxy → dns → tcp → tls → certificate → http → auth → version → model →
ratelimit/messages → streaming — and a check whose prerequisite failed is ``skip``, naming it. Independent work runs
side by side: the config check with the network chain, the two model requests, the plain and streamed messages
requests, and the cursor profile's ``http2`` and ``--url`` checks (``reach_*``), or Claude Code's gateway sign-in
checks (``signin_*``), with everything else. The whole run is bounded by `Settings.run_deadline`: whatever is still
running then fails, and what never started is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import warnings
from collections.abc import Callable, Iterator

import anthropic

from claudewire.doctor.api import check_auth, check_model, check_version, make_client, probe_api, sdk_version
from claudewire.doctor.cache import check_cache, probe_cache
from claudewire.doctor.certificate import check_certificate
from claudewire.doctor.config import ConfigOutcome, check_config
from claudewire.doctor.dns import check_dns
from claudewire.doctor.gateway_view import GatewayView, judge_http, probe_gateway
from claudewire.doctor.http import check_clock, check_http, probe_http
from claudewire.doctor.http2 import check_http2
from claudewire.doctor.inference import (
    check_messages,
    check_ratelimit,
    check_streaming,
    probe_messages,
    probe_stream,
)
from claudewire.doctor.net import Target
from claudewire.doctor.proxy import check_proxy
from claudewire.doctor.reach import (
    check_reach_certificate,
    check_reach_dns,
    check_reach_https,
    check_reach_models,
    probe_models,
    probe_public_tls,
)
from claudewire.doctor.reproduce import reproduce
from claudewire.doctor.result import CHECK_IDS, REACH_IDS, SIGNIN_IDS, CheckResult, Report, Status, skipped
from claudewire.doctor.settings import Profile, Settings, redact_url, split_url
from claudewire.doctor.signin import (
    advertises,
    check_signin_certificate,
    check_signin_dns,
    check_signin_https,
    check_signin_metadata,
    not_offered,
    probe_metadata,
)
from claudewire.doctor.tcp import check_tcp
from claudewire.doctor.tls import check_tls, probe_tls
from claudewire.doctor.urlprobe import UrlTarget, lookup

__all__ = ["diagnose", "run"]

_CHAIN = tuple(c for c in CHECK_IDS if c not in ("config", "http2", *REACH_IDS, *SIGNIN_IDS))
# a base URL is checked for sign-in only if its gateway offers it; a --url or forceLoginGatewayUrl always is
_TENTATIVE = ("ANTHROPIC_BASE_URL", "--base-url")
_KEYED = ("auth", "version", "model", "ratelimit", "messages", "streaming", "cache")
_CURSOR_NOT_HERE = "not checked for Cursor: its servers call the API, not this machine (see config)"


def _wanted(check_id: str, settings: Settings) -> bool:
    """Whether a run with `settings` reports `check_id` (the opt-in checks need their profile or flag)."""
    if check_id == "http2":
        return settings.profile is Profile.CURSOR
    if check_id == "cache":
        return settings.cache
    if check_id in REACH_IDS:
        return settings.profile is Profile.CURSOR and settings.url is not None
    if check_id in SIGNIN_IDS:
        return settings.profile is Profile.CLAUDE_CODE and settings.url is not None
    return True


def _not_run(check_id: str, detail: str) -> CheckResult:
    """A check not run for a reason other than a failed prerequisite (--no-spend, the run's bound)."""
    return CheckResult(check_id, Status.SKIP, detail)


class _Run:
    """The results of one run as they come in, and which checks are running right now."""

    def __init__(self, settings: Settings, on_result: Callable[[CheckResult], None] | None = None) -> None:
        self.settings = settings
        self.on_result = on_result
        self.ids = tuple(c for c in CHECK_IDS if _wanted(c, settings))
        self.results: dict[str, CheckResult] = {}
        self.running: list[str] = []
        self.gateway: GatewayView | None = None  # the base URL is a claudewire gateway: what its /readyz said

    def put(self, result: CheckResult) -> CheckResult:
        if result.id not in self.results:
            self.results[result.id] = result
            if self.on_result is not None:
                self.on_result(result)  # a live view shows the row now, not when the whole run is over
        return result

    def skip_rest(self, because: str, ids: tuple[str, ...] = _CHAIN, detail: str | None = None) -> None:
        for check_id in ids:
            if check_id not in self.results:
                self.put(skipped(check_id, because, detail))

    @contextlib.contextmanager
    def doing(self, *ids: str) -> Iterator[None]:
        # not in a finally: a check cut off by the run's deadline must stay listed as running
        self.running.extend(ids)
        yield
        for check_id in ids:
            self.running.remove(check_id)

    async def main(self) -> None:
        config = check_config(self.settings)
        self.put(config.result)
        jobs = [self.chain(config)]
        if self.settings.profile is Profile.CURSOR:
            jobs.append(self.http2())
            if self.settings.url is not None:
                jobs.append(self.reach(self.settings.url))
        elif self.settings.profile is Profile.CLAUDE_CODE and self.settings.url is not None:
            jobs.append(self.signin(self.settings.url))
        await asyncio.gather(*jobs)

    async def http2(self) -> None:
        with self.doing("http2"):
            self.put(await check_http2(self.settings))

    async def reach(self, given: str) -> None:
        """--profile cursor --url: the URL as Cursor's servers reach it (reach_dns → reach_https → the certificate
        and the models request side by side)."""
        s = self.settings
        url = UrlTarget.parse(given)
        if url is None:
            detail = f"--url {given!r} is not an http(s) URL with a host"
            fix = "Give the URL Cursor is configured with, e.g. https://gateway.example.com/cursor"
            self.put(CheckResult("reach_dns", Status.FAIL, detail, fix))
            self.skip_rest("reach_dns", REACH_IDS)
            return
        with self.doing("reach_dns"):
            found = await lookup(url.target, s.timeout)
            self.put(check_reach_dns(found))
        https = self.put(check_reach_https(url))
        if not found.addresses and not s.url_proxy.url:
            self.skip_rest("reach_dns", REACH_IDS)
            return
        if https.status is Status.FAIL:
            self.put(skipped("reach_certificate", "reach_https", "plain http://: no certificate to check"))
            self.put(skipped("reach_models", "reach_https", "skipped: the token is not sent over plain http://"))
            return
        address = found.addresses[0] if found.addresses else None
        with self.doing("reach_certificate", "reach_models"):
            tls, models = await asyncio.gather(probe_public_tls(s, url, address), probe_models(s, url))
            self.put(check_reach_certificate(tls, url))
            self.put(check_reach_models(models, s))

    async def signin(self, given: str) -> None:
        """Claude Code's gateway sign-in: https → private addresses → the certificate to pin → the metadata. For a
        base URL (not --url) the metadata comes first, and only a gateway that offers sign-in is judged."""
        s = self.settings
        url = UrlTarget.parse(given)
        if url is None:
            detail = f"the gateway URL {given!r} ({s.url_source}) is not an http(s) URL with a host"
            self.put(CheckResult("signin_https", Status.FAIL, detail, "Give the gateway's https:// URL."))
            self.skip_rest("signin_https", SIGNIN_IDS)
            return
        metadata = None
        if (s.url_source or "").startswith(_TENTATIVE):
            with self.doing("signin_metadata"):
                metadata = await probe_metadata(s, url)
            if not advertises(metadata):
                self.ids = tuple(c for c in self.ids if c not in SIGNIN_IDS[:-1])
                self.put(not_offered(metadata, s.url_source))
                return
        self.put(check_signin_https(url))
        with self.doing("signin_dns"):
            found = await lookup(url.target, s.timeout)
            self.put(check_signin_dns(found))
        if not url.target.tls:
            self.put(CheckResult("signin_certificate", Status.SKIP, "plain http://: no certificate to pin"))
        elif not found.addresses and not s.url_proxy.url:
            self.put(skipped("signin_certificate", "signin_dns"))
        else:
            with self.doing("signin_certificate"):
                route = dataclasses.replace(s, proxy=s.url_proxy, save_ca=None)
                tls = await probe_tls(route, url.target, found.addresses[0] if found.addresses else None)
                self.put(check_signin_certificate(tls, url, s))
        if metadata is None:
            with self.doing("signin_metadata"):
                metadata = await probe_metadata(s, url)
        self.put(check_signin_metadata(metadata, url))

    async def chain(self, config: ConfigOutcome) -> None:
        parts = split_url(self.settings.base_url)
        if not config.target_ok or parts is None:
            self.skip_rest("config")
            return
        if self.settings.profile is Profile.CURSOR and not self.settings.api_key:
            # Cursor's servers call the API: this machine's path to it does not matter, and with no key there is
            # nothing to check there on Cursor's behalf; http2 (this machine to Cursor) runs beside
            for check_id in _CHAIN:
                self.put(_not_run(check_id, _CURSOR_NOT_HERE))
            return
        target = Target(*parts)
        if await self.network(target):
            await self.api(config)

    async def network(self, target: Target) -> bool:
        """proxy → dns → tcp → tls → certificate → http (+ clock); True when an Anthropic API answered."""
        s = self.settings
        with self.doing("proxy"):
            if self.put(await check_proxy(s, target)).status is Status.FAIL:
                self.skip_rest("proxy")
                return False
        with self.doing("dns"):
            result, addresses = await check_dns(s, target)
            if self.put(result).status is Status.FAIL:
                self.skip_rest("dns")
                return False
        with self.doing("tcp"):
            result, address = await check_tcp(s, target, addresses)
            if self.put(result).status is Status.FAIL:
                self.skip_rest("tcp")
                return False
        if target.tls:
            with self.doing("tls", "certificate"):
                probe = await probe_tls(s, target, address)
                if self.put(check_tls(probe, target, s)).status is Status.FAIL:
                    self.skip_rest("tls")
                    return False
                if self.put(check_certificate(probe, target, s)).status is Status.FAIL:
                    self.skip_rest("certificate")
                    return False
        else:
            plain = f"plain http:// base URL ({target.authority}): no TLS to check"
            self.put(CheckResult("tls", Status.SKIP, plain))
            self.put(CheckResult("certificate", Status.SKIP, plain))
        with self.doing("http", "clock"):
            answer = await probe_http(s, sdk_version(s))
            http = check_http(answer, s)
            # something answered: if it is a claudewire gateway, its own words and /readyz come before any advice
            # about portals or the network, and name the upstreams behind it (no key sent)
            if answer.status is not None:
                self.gateway = await probe_gateway(s, sdk_version(s))
            if self.gateway is not None:
                http = judge_http(http, answer, self.gateway)
            if self.put(http).status is Status.FAIL:
                self.skip_rest("http")  # the clock too: a portal's Date says nothing about the API's
                return False
            self.put(check_clock(answer))
        return True

    async def api(self, config: ConfigOutcome) -> None:
        """auth, version, model, then ratelimit/messages/streaming — through the official SDK."""
        s = self.settings
        if not config.key_ok:
            # a config that only warns has no key because Claude Code signs in with OAuth: say so, not "failed"
            oauth = "skipped: no API key to act as Claude Code's sign-in (OAuth)"
            self.skip_rest("config", _KEYED, oauth if config.result.status is not Status.FAIL else None)
            return
        client = make_client(s)
        try:
            with self.doing("auth", "version", "model"):
                probe = await probe_api(client, s)
                if probe.model_id and probe.model_id != s.model:  # an alias resolved: the rest sends what it means
                    s = self.settings = dataclasses.replace(s, model=probe.model_id)
                for result in (
                    check_auth(probe, s),
                    check_version(probe, s),
                    check_model(probe, s, via_gateway=self.gateway is not None),
                ):
                    if self.put(result).status is Status.FAIL:
                        self.skip_rest(result.id, _KEYED)
                        return
            if not s.spend:
                # rate limits can still be read from the models listing's headers, when it carries them
                limits = check_ratelimit(probe.listing, {})
                if limits.status is Status.PASS and not limits.evidence.get("limits"):
                    limits = _not_run(
                        "ratelimit", "skipped: --no-spend, and GET /v1/models carried no rate-limit headers"
                    )
                self.put(limits)
                for check_id in ("messages", "streaming", "cache"):
                    self.put(_not_run(check_id, "skipped: --no-spend (this check spends tokens)"))
                return
            with self.doing("ratelimit", "messages", "streaming"):
                answer, stream = await asyncio.gather(probe_messages(client, s), probe_stream(client, s))
                listing_headers = probe.listing.headers if probe.listing.failure is None else {}
                self.put(check_ratelimit(answer, listing_headers, stream.failure))
                messages = self.put(check_messages(answer, self.gateway))
                if messages.status is Status.FAIL:
                    self.skip_rest("messages", ("streaming",))
                self.put(check_streaming(stream, self.gateway))
            if s.cache:  # opt-in (--cache): two more requests of ~5,000 input tokens
                await self.cache(client)
        finally:
            await client.close()

    async def cache(self, client: anthropic.AsyncAnthropic) -> None:
        if self.results["messages"].status is Status.FAIL:
            self.put(skipped("cache", "messages"))
            return
        with self.doing("cache"):
            self.put(check_cache(await probe_cache(client, self.settings)))

    def report(self, elapsed_ms: float) -> Report:
        """The report in check order; checks cut off by the run's bound fail, those never started skip."""
        bound = f"{self.settings.run_deadline:g}s"
        for check_id in list(self.running):
            self.put(
                CheckResult(
                    check_id,
                    Status.FAIL,
                    f"not finished within the run's bound of {bound}",
                    "Something in the path holds connections open: run again with --timeout to see the layer.",
                )
            )
        first = self.running[0] if self.running else None
        for check_id in self.ids:
            if check_id not in self.results:
                self.put(
                    skipped(check_id, first) if first else _not_run(check_id, f"skipped: run bound {bound} reached")
                )
        s = self.settings
        # Cursor without a key checks only --url: the report is about that URL, not the default API root
        cursor_url = s.profile is Profile.CURSOR and s.url is not None and not s.api_key
        target = redact_url(s.url if cursor_url and s.url else s.base_url)
        return Report(target, tuple(self._with_command(self.results[c]) for c in self.ids), elapsed_ms)

    def _with_command(self, result: CheckResult) -> CheckResult:
        """A failing check's evidence gains the command that reproduces it by hand (key redacted)."""
        if result.status is not Status.FAIL or "reproduce" in result.evidence:
            return result
        command = reproduce(result.id, self.settings)
        return dataclasses.replace(result, evidence={**result.evidence, "reproduce": command}) if command else result


async def diagnose(settings: Settings, on_result: Callable[[CheckResult], None] | None = None) -> Report:
    """Run every check for `settings` and return the report (never raises for a network failure).

    `on_result` is called with each check's result as soon as it is known (in the order they finish).
    """
    run = _Run(settings, on_result)
    start = time.monotonic()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settings.run_deadline):
            await run.main()
    return run.report((time.monotonic() - start) * 1000)


def run(settings: Settings, on_result: Callable[[CheckResult], None] | None = None) -> Report:
    """`diagnose` from synchronous code (starts and closes its own event loop).

    The SDK's DeprecationWarning for a deprecated model is silenced: the model check reports it, with the date.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return asyncio.run(diagnose(settings, on_result))
