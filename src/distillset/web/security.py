"""Access control: an optional token for every request, and cross-site request refusal.

Without a token the app must only listen on loopback (the `serve` command enforces it) and
answers only requests addressed to a loopback name. With a token, a request carries it as
``Authorization: Bearer T`` or in the login cookie. State-changing requests from another site
are refused whatever the token, using the browser's own ``Sec-Fetch-Site`` header, or
``Origin`` against ``Host`` for browsers that lack it.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

TOKEN_COOKIE = "distillset_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = ("/login", "/static/", "/favicon.ico")

Handler = Callable[[Request], Awaitable[Response]]
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether a host name or address (IPv6 with or without brackets) is this machine's."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_cross_site(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # No Origin: not a browser cross-site form post (browsers send it on POST); a script.
        return origin == "null"
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(TOKEN_COOKIE)


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def install_security(app: FastAPI, token: str | None) -> None:
    app.state.token = token

    @app.middleware("http")
    async def guard(request: Request, call_next: Handler) -> Response:
        if not token and not is_loopback(host_name(request)):
            # Without a token only loopback names are served: a web page that rebinds its own
            # DNS name to 127.0.0.1 cannot read or drive the app.
            return JSONResponse({"detail": "unexpected Host header"}, status_code=400)
        if request.method not in SAFE_METHODS and is_cross_site(request):
            return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        path = request.url.path
        needs_token = token is not None and not path.startswith(OPEN_PATHS)
        if needs_token and not token_matches(presented_token(request), token or ""):
            if path.startswith("/api/") or request.method not in SAFE_METHODS:
                return JSONResponse(
                    {"detail": "a valid token is required"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            target = quote(path + (f"?{request.url.query}" if request.url.query else ""))
            return RedirectResponse(f"/login?next={target}", status_code=303)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
