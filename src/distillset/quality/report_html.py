"""The quality report as one self-contained HTML page: inline CSS and SVG charts, no script,
nothing fetched (it opens offline and can be mailed). Every text from the data is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:68rem;padding:0 1rem;
color:#1b1b1f;background:#fff}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;text-align:left;
border-bottom:1px solid #e3e3ea;vertical-align:top}th{background:#f3f3f7}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}figure{margin:0}figcaption{font-weight:600}
.muted{color:#555}
"""
# On the SVG elements themselves, so the charts look the same inside the web app's pages.
_BAR = 'fill="#3a5fcd"'
_AXIS = 'font-size="11" fill="#333"'
_ROW = 'style="display:flex;flex-wrap:wrap;gap:1.5rem"'


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float]) -> str:
    """A labelled vertical bar chart as inline SVG (values above the bars)."""
    width, height, top, bottom = max(240, 44 * len(values) + 20), 200, 20, 40
    peak = max(values, default=0) or 1
    step = (width - 20) / max(1, len(values))
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar = (height - top - bottom) * value / peak
        x = 10 + index * step
        y = height - bottom - bar
        middle = x + step / 2
        parts.append(
            f'<rect {_BAR} x="{x + 2:.1f}" y="{y:.1f}" width="{step - 4:.1f}" '
            f'height="{bar:.1f}"></rect>'
            f'<text {_AXIS} x="{middle:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
            f"{_number(value)}</text>"
            f'<text {_AXIS} x="{middle:.1f}" y="{height - bottom + 14}" '
            f'text-anchor="middle">{escape(str(label))[:12]}</text>'
        )
    parts.append("</svg>")
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"


def hbar_chart(title: str, labels: Sequence[str], values: Sequence[float]) -> str:
    """A horizontal bar chart (for named categories, whose labels need room) as inline SVG."""
    label_width, bar_width, row = 170, 260, 22
    width, height = label_width + bar_width + 50, row * max(1, len(values)) + 8
    peak = max(values, default=0) or 1
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 4 + index * row
        length = bar_width * value / peak
        parts.append(
            f'<text {_AXIS} x="{label_width - 6}" y="{y + 15}" text-anchor="end">'
            f"{escape(str(label))[:28]}</text>"
            f'<rect {_BAR} x="{label_width}" y="{y + 3}" width="{length:.1f}" '
            f'height="{row - 6}"></rect>'
            f'<text {_AXIS} x="{label_width + length + 4:.1f}" y="{y + 15}">'
            f"{_number(value)}</text>"
        )
    parts.append("</svg>")
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"


def _number(value: Any) -> str:
    """Counts with thousands separators (12,345); small fractions as they are (4.5)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"
    return escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(value)}</td>" for value in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return _number(value)


def _histogram_chart(title: str, data: dict[str, Any]) -> str:
    edges, counts = data["histogram"]["edges"], data["histogram"]["counts"]
    labels = [f"{edges[i]}–{edges[i + 1]}" for i in range(len(counts))]
    return bar_chart(title, labels, counts)


def _stages(report: dict[str, Any]) -> str:
    stages = report["stages"]
    names = ["tags", "questions", "answered", "failed", "records", "confirmed", "scored"]
    return "<h2>Counts</h2>" + hbar_chart("Items per stage", names, [stages[n] for n in names])


def _coverage(report: dict[str, Any]) -> str:
    cover = report["coverage"]
    summary = cover["questions_per_leaf"]
    rows = [
        ["leaf tags", cover["leaves"]],
        [
            "without records",
            f"{cover['without_records']} ({_share(cover['share_without_records'])})",
        ],
        [
            f"with fewer than {cover['few']} records",
            f"{cover['with_few_records']} ({_share(cover['share_with_few_records'])})",
        ],
        ["questions per leaf (min / median / max)", _spread(summary)],
    ]
    leaves = sorted(cover["per_leaf"], key=lambda item: item["records"])[:15]
    return (
        "<h2>Coverage of the tree</h2>"
        + _table(["", ""], rows)
        + "<p class=muted>Leaves with the fewest records:</p>"
        + _table(
            ["tag", "questions", "records"],
            [[i["tag_path"], i["questions"], i["records"]] for i in leaves],
        )
    )


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _spread(summary: dict[str, Any]) -> str:
    if not summary:
        return "–"
    return f"{summary['min']} / {summary['median']:g} / {summary['max']}"


def _lengths_and_scores(report: dict[str, Any]) -> str:
    lengths = report["lengths"]
    charts = [
        _histogram_chart(f"{part.capitalize()} length (approx. tokens)", lengths[part])
        for part in ("question", "reasoning", "answer")
    ]
    scores = report["scores"]
    charts.append(
        bar_chart(
            f"Scores ({scores['unscored']} unscored)",
            [f"{step:g}" for step in scores["steps"]],
            scores["counts"],
        )
    )
    difficulty = dict(report.get("difficulty") or {})
    if difficulty:
        unrated = difficulty.pop("unrated", 0)
        charts.append(
            bar_chart(
                f"Question difficulty ({unrated} unrated)",
                list(difficulty),
                list(difficulty.values()),
            )
        )
    rows = [
        [part, d["count"], d["mean"], d["median"], d["p90"], d["max"]]
        for part, d in lengths.items()
    ]
    return (
        "<h2>Lengths and scores</h2>"
        + _table(["part", "records", "mean", "median", "p90", "max"], rows)
        + f'<div class="charts" {_ROW}>{"".join(charts)}</div>'
    )


def _flags(report: dict[str, Any]) -> str:
    flags = report["flags"]
    by_kind = flags["by_kind"]
    languages = report["languages"]
    examples = [
        [kind, example["record"], example["tag_path"], example["question"], example["detail"]]
        for kind, shown in flags["examples"].items()
        for example in shown
    ]
    return (
        f"<h2>Flags</h2><p>{flags['flagged']} of {flags['records']} records carry a flag.</p>"
        + f'<div class="charts" {_ROW}>'
        + hbar_chart("Records per flag", list(by_kind), list(by_kind.values()))
        + hbar_chart("Answer languages", list(languages), list(languages.values()))
        + "</div>"
        + _table(["flag", "record", "tag", "question", "why"], examples)
    )


def _duplicates(report: dict[str, Any]) -> str:
    lexical = report["duplicates"]["lexical"]
    semantic = report["duplicates"]["semantic"]
    parts = [
        "<h2>Duplicates</h2>",
        f"<p>Lexical (same tag): {lexical['groups']} groups, "
        f"{lexical['duplicate_records']} duplicate records.</p>",
        _table(
            ["part", "tag", "keep", "duplicates", "text"],
            [
                [
                    g["part"],
                    g["tag_path"],
                    g["keep"],
                    ", ".join(map(str, g["duplicates"])),
                    g["text"],
                ]
                for g in lexical["examples"]
            ],
        ),
    ]
    if not semantic["computed"]:
        parts.append(f"<p class=muted>Semantic: not computed ({escape(semantic['reason'])}).</p>")
        return "".join(parts)
    parts.append(
        f"<p>Semantic ({escape(semantic['model'])}, similarity ≥ {semantic['threshold']:g}): "
        f"{semantic['groups']} groups, {semantic['duplicate_questions']} duplicate questions.</p>"
    )
    rows = [
        [q["id"], f"{q['similarity']:.3f}", q["tag_path"], q["text"]]
        for group in semantic["examples"]
        for q in group["questions"]
    ]
    parts.append(_table(["question", "similarity", "tag", "text"], rows))
    return "".join(parts)


def _diversity(report: dict[str, Any]) -> str:
    spread = report["diversity"]
    if not spread["computed"]:
        return f"<h2>Diversity</h2><p class=muted>Not computed ({escape(spread['reason'])}).</p>"
    rows = [
        ["questions", spread["questions"]],
        ["mean pairwise distance (1 − cosine)", spread["mean_distance"]],
        ["Vendi score (effective distinct questions)", spread["vendi"]],
    ]
    alike = [[t["tag_path"], t["questions"], t["similarity"]] for t in spread["alike_tags"]]
    return (
        "<h2>Diversity</h2>"
        + _table(["", ""], rows)
        + "<p class=muted>Tags whose questions are most alike:</p>"
        + _table(["tag", "questions", "mean similarity"], alike)
    )


def _cost(report: dict[str, Any]) -> str:
    cost = report["cost"]
    models = [
        [m["model"], m["records"], m["input_tokens"], m["output_tokens"]] for m in cost["models"]
    ]
    calls = [
        [purpose, c["calls"], c.get("cached_input_tokens", 0), c["cost"]]
        for purpose, c in cost["calls"].items()
    ]
    return (
        "<h2>Models and cost</h2>"
        + _table(["model", "records", "input tokens", "output tokens"], models)
        + _table(["purpose", "calls", "cached input tokens", "cost"], calls)
        + f"<p>Total cost: {_cell(cost['total_cost'])}; per record: "
        f"{_cell(cost['cost_per_record'])}.</p>"
    )


def render_sections(report: dict[str, Any]) -> str:
    """The report's sections (headings, tables, charts), for a page of one's own."""
    sections = [
        _stages(report),
        _coverage(report),
        _lengths_and_scores(report),
        _flags(report),
        _duplicates(report),
        _diversity(report),
        _cost(report),
    ]
    return "".join(sections)


def render_html(report: dict[str, Any]) -> str:
    """The report (see report.build_report) as a complete HTML document."""
    project = report["project"]
    title = f"Quality report: {project['name']}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(title)}</h1><p class=muted>Topic: {escape(project['topic'])} · "
        f"language: {escape(project['language'])}</p>"
        f"{render_sections(report)}</main></body></html>\n"
    )
