"""An evaluation's report: per student, overall and per tag, the mean grade against the
teacher's reference, both answers' grades without it (the student's as a fraction of the
teacher's), and the pairwise win / tie / loss rates. JSON, a table, or Markdown."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    """One student's answer to one held-out question, as judged."""

    tag: str
    score: float  # 0-5, the teacher's answer as reference
    student_score: float  # 0-5, no reference
    teacher_score: float  # 0-5, the same prompt on the teacher's answer
    verdict: str  # win / tie / loss


def _figures(outcomes: list[Outcome]) -> dict[str, Any]:
    n = len(outcomes)
    if n == 0:
        return {"records": 0}
    student = sum(o.student_score for o in outcomes) / n
    teacher = sum(o.teacher_score for o in outcomes) / n
    return {
        "records": n,
        "score": round(sum(o.score for o in outcomes) / n, 3),
        "student_score": round(student, 3),
        "teacher_score": round(teacher, 3),
        "fraction_of_teacher": round(student / teacher, 3) if teacher else None,
        "win": round(sum(o.verdict == "win" for o in outcomes) / n, 3),
        "tie": round(sum(o.verdict == "tie" for o in outcomes) / n, 3),
        "loss": round(sum(o.verdict == "loss" for o in outcomes) / n, 3),
    }


def student_report(name: str, outcomes: list[Outcome], failed: int) -> dict[str, Any]:
    by_tag: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_tag[outcome.tag].append(outcome)
    return {
        "student": name,
        "overall": _figures(outcomes),
        "tags": {tag: _figures(items) for tag, items in sorted(by_tag.items())},
        "failed": failed,
    }


COLUMNS = (
    ("records", "records"),
    ("score", "score vs ref"),
    ("student_score", "score"),
    ("teacher_score", "teacher"),
    ("fraction_of_teacher", "of teacher"),
    ("win", "win"),
    ("tie", "tie"),
    ("loss", "loss"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    """Rows (student, tag, then the columns): overall first, then each tag."""
    rows = []
    for student in report.get("students", []):
        groups = [("(all)", student["overall"]), *student["tags"].items()]
        for tag, figures in groups:
            rows.append([student["student"], tag, *(_cell(figures.get(k)) for k, _ in COLUMNS)])
    return rows


def as_markdown(report: dict[str, Any]) -> str:
    header = ["student", "tag", *(label for _, label in COLUMNS)]
    lines = [
        f"# Evaluation on {report.get('records', 0)} held-out questions",
        "",
        f"Judge: `{report.get('judge')}`. Score vs ref: 0–5 with the teacher's answer as the "
        "reference; score and teacher: 0–5 without it; win / tie / loss: the pairwise verdict "
        "asked in both orders.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(report)]
    return "\n".join(lines) + "\n"
