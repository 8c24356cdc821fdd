"""The Jinja2 environment of the pages: autoescape on, a few formatting filters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from distillset.web.api._batch import batch_support
from distillset.web.pages.markdown import is_long, render_markdown

TEMPLATES_DIR = Path(__file__).parents[1] / "templates"

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def format_time(value: datetime | str | None) -> str:
    """A stored moment (a datetime, or its ISO text from a task dict) as `YYYY-MM-DD HH:MM:SS
    UTC`; the store writes UTC, and SQLite hands back naive datetimes."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def format_thousands(value: float | None) -> str:
    """A count with thousands separators (12,345); a fraction keeps two decimals."""
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def format_cost(value: float | None) -> str:
    return "" if value is None else f"${value:,.4f}"


templates.env.filters["time"] = format_time
templates.env.filters["cost"] = format_cost
templates.env.filters["markdown"] = render_markdown
templates.env.filters["is_long"] = is_long
templates.env.filters["thousands"] = format_thousands
# Whether a page offers batch answers for the project (its answer endpoint set up for them).
templates.env.filters["batch_support"] = batch_support
