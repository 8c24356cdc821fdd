"""The teacher's confidence in each token of an answer, as shaded HTML: each token a span whose
shade says how likely the teacher found it, its probability and the alternatives it weighed in
its title (shown on hover, and on focus for the tokens worth a look)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from distillset.review import TokenConfidence

# Shade classes from least to most confident: below 25 %, 50 %, 70 %, 90 %, and the rest.
BANDS = ((0.25, "p0"), (0.5, "p1"), (0.7, "p2"), (0.9, "p3"))
LEGEND = (
    ("p0", "below 25%"),
    ("p1", "25–50%"),
    ("p2", "50–70%"),
    ("p3", "70–90%"),
    ("p4", "90% and above"),
)
# Tokens below this probability take keyboard focus, so their alternatives can be read
# without a mouse (every token would make thousands of tab stops).
FOCUS_BELOW = 0.5


def band(probability: float) -> str:
    for limit, name in BANDS:
        if probability < limit:
            return name
    return "p4"


def describe(token: TokenConfidence) -> str:
    """`"Paris": 62.1% · alternatives: "Lyon" 20.3%, "Nice" 4.0%` (the sampled token is left
    out of its alternatives)."""
    others = [(text, p) for text, p in token.alternatives if text != token.token]
    shown = ", ".join(f"{text!r} {p:.1%}" for text, p in others[:8])
    return f"{token.token!r}: {token.probability:.1%}" + (
        f" · alternatives: {shown}" if shown else ""
    )


def shade(tokens: Sequence[TokenConfidence]) -> Markup:
    """The tokens as adjacent spans (no whitespace between them: the text is the tokens)."""
    parts = []
    for token in tokens:
        focus = ' tabindex="0"' if token.probability < FOCUS_BELOW else ""
        parts.append(
            f'<span class="tok {band(token.probability)}" title="{escape(describe(token))}"'
            f"{focus}>{escape(token.token)}</span>"
        )
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
