"""`distillset serve`: the web app and REST API, on loopback unless a token protects it."""

from __future__ import annotations

import errno
import socket

import typer

from distillset.cli.app import app
from distillset.cli.common import state_of
from distillset.domain import InvalidInputError
from distillset.web.security import is_loopback


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="DISTILLSET_TOKEN",
        help="Access token every page and API call must carry (required off loopback).",
        show_envvar=True,
    ),
    queue: bool = typer.Option(
        False,
        "--queue",
        help="Run no task here: leave each to the workers (`distillset worker`).",
    ),
) -> None:
    """Serve the web app (pages, REST API under /api/v1, OpenAPI at /docs)."""
    import uvicorn

    from distillset.web import create_app

    if not is_loopback(host) and not token:
        raise InvalidInputError(
            f"refusing to listen on {host} without a token: pass --token or set DISTILLSET_TOKEN"
        )
    settings = state_of(ctx).settings
    if queue:
        settings = settings.model_copy(update={"queue_tasks": True})
    web_app = create_app(settings, token=token)
    # Bound here, before saying where it serves: a port in use is one clear error line.
    listener = bind_listener(host, port)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"distillset serving on http://{shown}:{port}/ (Ctrl+C stops it)")
    server = uvicorn.Server(uvicorn.Config(web_app, log_level="warning"))
    with listener:
        server.run(sockets=[listener])


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or InvalidInputError saying why it cannot be."""
    address = host.strip("[]")
    try:
        family, kind, proto, _name, sockaddr = socket.getaddrinfo(
            address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise InvalidInputError(f"cannot listen on {host}: {exc.strerror}") from None
    listener = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restart may rebind while old connections linger in TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(sockaddr)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise InvalidInputError(
            f"cannot listen on {host}:{port}: {reason}; stop what uses it or pick --port"
        ) from None
    return listener
