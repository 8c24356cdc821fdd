"""Model text (answers, reasoning) as sanitized HTML: Markdown with headings, lists, code and
tables; math stays text. Raw HTML in the text is never passed through: the parser escapes it
(``html=False``) and nh3 (ammonia) then keeps only the tags and attributes Markdown produces,
so a link can only be http(s) or mailto and opens nothing in the page's context."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# What CommonMark with tables and strikethrough produces, and nothing else.
_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
        "strong", "em", "s", "del", "code", "pre", "a", "table", "thead", "tbody", "tr", "th",
        "td",
    }
)  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
# Table alignment is the only style Markdown writes.
_STYLES = frozenset({"text-align"})
# Texts above this many characters start collapsed behind a "Show all" control.
LONG_TEXT = 1200


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # "commonmark" without raw HTML; tables and strikethrough as GitHub writes them. Linkify is
    # off (it needs another package, and a bare URL reads fine as text). Images are off: a
    # page never fetches an address a model wrote.
    parser = MarkdownIt("commonmark", {"html": False, "breaks": True})
    return parser.enable(["table", "strikethrough"]).disable("image")


def render_markdown(text: str | None) -> Markup:
    """The text as safe HTML for a page (empty text: empty markup)."""
    if not text:
        return Markup("")
    html = _parser().render(text)
    clean = nh3.clean(
        html,
        tags=set(_TAGS),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        filter_style_properties=set(_STYLES),
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704 - sanitized by nh3 just above


def is_long(text: str | None) -> bool:
    return bool(text) and len(text or "") > LONG_TEXT
