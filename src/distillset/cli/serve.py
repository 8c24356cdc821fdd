"""`distillset serve`: the web app and REST API, on loopback unless a token protects it."""

from __future__ import annotations

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
) -> None:
    """Serve the web app (pages, REST API under /api/v1, OpenAPI at /docs)."""
    import uvicorn

    from distillset.web import create_app

    if not is_loopback(host) and not token:
        raise InvalidInputError(
            f"refusing to listen on {host} without a token: pass --token or set DISTILLSET_TOKEN"
        )
    settings = state_of(ctx).settings
    web_app = create_app(settings, token=token)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"distillset serving on http://{shown}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(web_app, host=host, port=port, log_level="warning")
