"""The Jinja2 environment of the pages: autoescape on, a few formatting filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def format_cost(value: float | None) -> str:
    return "" if value is None else f"${value:.4f}"


templates.env.filters["time"] = format_time
templates.env.filters["cost"] = format_cost
