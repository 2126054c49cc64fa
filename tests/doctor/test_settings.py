"""Settings come from the environment users already have: keys, base URL, proxies (any case) and NO_PROXY."""

from __future__ import annotations

import pytest

from claudewire.doctor import DEFAULT_BASE_URL, Profile, Settings, Status, run
from claudewire.doctor.config import check_config
from claudewire.doctor.settings import choose_proxy, no_proxy_matches, redact_url
from claudewire.sim import SimServer
from tests.doctor.conftest import KEY, settings_for


def test_defaults_from_an_empty_environment() -> None:
    """No variables: the public API, no key, no proxy, the api profile."""
    settings = Settings.from_env({})
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.api_key is None
    assert settings.proxy.url is None
    assert settings.profile is Profile.API


def test_key_and_base_url_from_the_environment() -> None:
    """ANTHROPIC_API_KEY wins over ANTHROPIC_AUTH_TOKEN; arguments win over both."""
    env = {"ANTHROPIC_API_KEY": "k1", "ANTHROPIC_AUTH_TOKEN": "k2", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1"}
    assert Settings.from_env(env).api_key == "k1"
    assert Settings.from_env(env).key_source == "ANTHROPIC_API_KEY"
    assert Settings.from_env({"ANTHROPIC_AUTH_TOKEN": "k2"}).key_source == "ANTHROPIC_AUTH_TOKEN"
    explicit = Settings.from_env(env, api_key="k3", base_url="https://gw.example")
    assert (explicit.api_key, explicit.key_source, explicit.base_url) == ("k3", "--api-key", "https://gw.example")


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
def test_proxy_variables_in_any_case(name: str) -> None:
    """HTTPS_PROXY / ALL_PROXY are read in upper or lower case for an https target."""
    choice = choose_proxy({name: "http://proxy.corp:3128"}, "https", "api.anthropic.com", 443)
    assert choice.url == "http://proxy.corp:3128"
    assert choice.source == name


def test_http_proxy_is_for_http_targets_only() -> None:
    """HTTP_PROXY does not apply to an https target (as in curl and httpx)."""
    assert choose_proxy({"HTTP_PROXY": "http://p:1"}, "https", "api.anthropic.com", 443).url is None
    assert choose_proxy({"HTTP_PROXY": "http://p:1"}, "http", "gw.local", 80).url == "http://p:1"


@pytest.mark.parametrize(
    ("no_proxy", "bypassed"),
    [
        ("anthropic.com", True),
        (".anthropic.com", True),
        ("*.anthropic.com", True),
        ("*", True),
        ("api.anthropic.com:443", True),
        ("api.anthropic.com:8443", False),
        ("example.com,localhost", False),
        ("thropic.com", False),
    ],
)
def test_no_proxy_matching(no_proxy: str, bypassed: bool) -> None:
    """NO_PROXY entries match the host exactly or as a domain suffix, with an optional port, or '*'."""
    assert no_proxy_matches(no_proxy, "api.anthropic.com", 443) is bypassed


def test_no_proxy_bypass_is_reported_by_the_proxy_check(sim: SimServer) -> None:
    """A proxy that NO_PROXY bypasses for the target is named in the proxy check, which passes (direct)."""
    env = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}
    settings = Settings.from_env(env, base_url=sim.base_url, api_key=KEY, timeout=2.0)
    report = run(settings)
    proxy = report.get("proxy")
    assert proxy.status is Status.PASS
    assert "NO_PROXY" in proxy.detail and "directly" in proxy.detail
    assert report.verdict.value == "pass"


def test_proxy_credentials_are_redacted() -> None:
    """A proxy URL's password never appears in what the doctor shows."""
    assert redact_url("http://alice:hunter2@proxy:3128") == "http://alice:***@proxy:3128"
    assert redact_url("http://proxy:3128") == "http://proxy:3128"


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (None, "no API key"),
        (f" {KEY}\n", "whitespace"),
        (f'"{KEY}"', "quotes"),
        ("sk-ant-api03-abc def", "whitespace"),
    ],
)
def test_malformed_keys_fail_config(key: str | None, words: str) -> None:
    """A missing key, stray whitespace or quotes fail the config check with a fix; the key is shown redacted."""
    outcome = check_config(settings_for("https://api.anthropic.com", api_key=key))
    assert outcome.result.status is Status.FAIL
    assert words in outcome.result.detail
    assert outcome.key_ok is False
    assert outcome.result.fix
    assert KEY not in str(outcome.result)


def test_base_url_with_v1_warns_and_non_http_fails() -> None:
    """A base URL ending in /v1 warns (the SDK adds it); a non-http(s) URL fails and stops the run."""
    warned = check_config(settings_for("https://api.anthropic.com/v1"))
    assert warned.result.status is Status.WARN
    assert "/v1" in warned.result.detail
    failed = check_config(settings_for("ftp://api.anthropic.com"))
    assert failed.result.status is Status.FAIL
    assert failed.target_ok is False


def test_missing_key_skips_only_the_keyed_checks(sim: SimServer) -> None:
    """With no key the network checks still run; auth onwards skip naming config."""
    report = run(settings_for(sim.base_url, api_key=None, key_source=None))
    assert report.get("config").status is Status.FAIL
    assert report.get("http").status is Status.PASS
    assert report.get("auth").status is Status.SKIP
    assert report.get("auth").evidence["prerequisite"] == "config"


def test_verification_switched_off_in_the_environment_warns() -> None:
    """NODE_TLS_REJECT_UNAUTHORIZED=0 makes config warn, and the fix is to trust the CA, never to keep it off."""
    settings = Settings.from_env({"ANTHROPIC_API_KEY": KEY, "NODE_TLS_REJECT_UNAUTHORIZED": "0"})
    outcome = check_config(settings)
    assert outcome.result.status is Status.WARN
    assert "NODE_TLS_REJECT_UNAUTHORIZED=0 switches certificate verification off" in outcome.result.detail
    assert "unset the variable" in (outcome.result.fix or "")
    assert "NODE_EXTRA_CA_CERTS" in (outcome.result.fix or "")
    assert Settings.from_env({"NODE_TLS_REJECT_UNAUTHORIZED": "1"}).insecure_env == ()
