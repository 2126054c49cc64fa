"""The verification page's HTML: the code form, and the page the browser lands on after the IdP. Every value shown
is HTML-escaped; the headers forbid framing and any script, and let the form post only to the gateway."""

from __future__ import annotations

import html

__all__ = ["page_headers", "result_page", "verify_page"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
    "input[name=user_code]{font-size:1.6rem;letter-spacing:.2rem;width:12rem;text-transform:uppercase}"
    "button{font-size:1.1rem;padding:.4rem 1.2rem}.error{color:#a00}"
)


def page_headers(idp_origin: str, *, cookies: list[bytes] | None = None) -> bytes:
    """Headers of a sign-in page: no caching, no framing, no scripts; forms post here (and redirect to the IdP)."""
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
        f"form-action 'self' {idp_origin}"
    )
    lines = [
        b"content-type: text/html; charset=utf-8\r\n",
        b"cache-control: no-store\r\n",
        b"x-frame-options: DENY\r\n",
        b"x-content-type-options: nosniff\r\n",
        b"referrer-policy: no-referrer\r\n",
        b"content-security-policy: " + csp.encode("ascii", "replace") + b"\r\n",
    ]
    lines += [b"set-cookie: " + c + b"\r\n" for c in cookies or ()]
    return b"".join(lines)


def verify_page(csrf: str, prefill: str = "", error: str = "") -> bytes:
    """The form where the user confirms the code their terminal shows."""
    problem = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign in to the Claude gateway</title>"
        f"<style>{_STYLE}</style></head><body><h1>Sign in to the Claude gateway</h1>"
        "<p>Check that this code is the one your terminal shows, then continue to your organisation's sign-in.</p>"
        f'{problem}<form method="post" action="/device">'
        f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
        f'<p><input name="user_code" value="{html.escape(prefill)}" autocomplete="off" required '
        'aria-label="code"></p><p><button type="submit">Continue</button></p></form></body></html>'
    ).encode()


def result_page(signed_in: bool, message: str) -> bytes:
    """What the browser shows at the end: signed in, or why not."""
    title = "Signed in" if signed_in else "Not signed in"
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title><style>{_STYLE}</style>"
        f"</head><body><h1>{title}</h1><p{'' if signed_in else ' class=error'}>{html.escape(message)}</p>"
        "</body></html>"
    ).encode()
