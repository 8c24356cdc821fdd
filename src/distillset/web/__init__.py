"""The web app: REST API under /api/v1 and server-rendered pages (Jinja2 + htmx)."""

from distillset.web.app import create_app

__all__ = ["create_app"]
