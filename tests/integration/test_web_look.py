"""The web app's shared look through TestClient, on SQLite and PostgreSQL: model text as
sanitized Markdown with its raw text beside it, the record view's token shading from stored
soft labels, and the usage and cost page and REST endpoint (figures from the usage log)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import Result

from distillset.store import LlmCall, Store
from distillset.web.pages.markdown import LONG_TEXT, render_markdown

NAME = "Rowing"
Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def project(database: str, cli: Cli, cli_project_factory: Callable[[str], str]) -> str:
    """Two answers with soft labels (k=4), one without, then a price on the endpoint."""
    cli_project_factory(NAME)
    ok(cli("tags", "add", NAME, "--path", "Technique"))
    ok(cli("questions", "generate", NAME, "--tag", "Technique", "--count", "2"))
    ok(cli("model", "set", "fake", "--logprobs", "4"))
    ok(cli("answers", "generate", NAME))
    ok(cli("model", "set", "fake", "--logprobs", "0"))
    ok(cli("questions", "generate", NAME, "--tag", "Technique", "--count", "3"))
    ok(cli("answers", "generate", NAME))
    return NAME


def test_markdown_is_rendered_and_sanitized() -> None:
    html = str(
        render_markdown(
            "# Title\n\n- one\n- two\n\n```py\nx < 1\n```\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n"
            "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) "
            "![pic](http://example.com/p.png) $E = mc^2$"
        )
    )
    assert "<h1>Title</h1>" in html and "<li>one</li>" in html
    assert '<code class="language-py">x &lt; 1' in html and "<table>" in html
    assert (
        "<script" not in html and "<img" not in html and "javascript:" not in html.split("[x]")[0]
    )
    assert 'href="javascript' not in html and "onerror=" not in html.replace("onerror=alert", "")
    assert "$E = mc^2$" in html  # math stays text
    assert str(render_markdown(None)) == "" and str(render_markdown("")) == ""


def _record_ids(client: TestClient) -> list[int]:
    records = client.get("/api/v1/projects/1/records").json()["records"]
    return [r["id"] for r in records]


def test_dataset_page_renders_answers_as_markdown_with_the_raw_text(
    project: str, client: TestClient
) -> None:
    first = _record_ids(client)[0]
    long_answer = "**Bold** start.\n\n" + "word " * (LONG_TEXT // 4)
    patched = client.patch(f"/api/v1/projects/1/records/{first}", json={"answer": long_answer})
    assert patched.status_code == 200
    page = client.get("/projects/1/dataset").text
    block = page[page.index(f'id="answer-{first}"') :]
    block = block[: block.index("</button>", block.index("data-expand"))]
    assert "<strong>Bold</strong>" in block  # rendered
    assert "**Bold** start." in block  # the raw text, one click away
    assert 'class="rich answer collapsed"' in page  # long: starts collapsed
    assert 'data-expand aria-expanded="false"' in block


def test_record_view_shades_each_token_with_its_alternatives(
    project: str, client: TestClient
) -> None:
    ids = _record_ids(client)
    with_labels, without = ids[0], ids[-1]
    page = client.get(f"/projects/1/dataset/{with_labels}")
    assert page.status_code == 200
    answer = client.get(f"/api/v1/projects/1/records/{with_labels}").json()["answer"]
    tokens_html = page.text[page.text.index('data-tokens="answer"') :]
    tokens_html = tokens_html[: tokens_html.index("</div>")]
    spans = re.findall(
        r'<span class="tok (p[0-4])" title="([^"]*)"[^>]*>([^<]*)</span>', tokens_html
    )
    assert spans, tokens_html[:500]
    # The spans spell the answer, each has a shade and a title naming its probability.
    import html as html_lib

    assert "".join(html_lib.unescape(text) for _, _, text in spans) == answer
    assert all(re.search(r"\d+\.\d%", title) for _, title, _ in spans)
    assert any("alternatives:" in title for _, title, _ in spans)
    assert 'id="lowest-tokens"' in page.text
    api = client.get(f"/api/v1/projects/1/records/{with_labels}/tokens").json()
    assert len(api["tokens"]) >= len(spans) and api["tokens"][0]["alternatives"]

    bare = client.get(f"/projects/1/dataset/{without}").text
    assert "has no soft labels" in bare and "/settings#endpoints" in bare
    assert client.get(f"/api/v1/projects/1/records/{without}/tokens").status_code == 404
    assert client.get("/projects/1/dataset/999999").status_code == 404


def test_usage_page_and_endpoint_sum_the_usage_log(
    project: str, client: TestClient, store: Store
) -> None:
    with store.session() as session:
        calls = session.scalars(select(LlmCall)).all()
    assert calls and all(call.project_id == 1 for call in calls)
    usage = client.get("/api/v1/projects/1/usage").json()
    totals = usage["totals"]
    # Every call of the log counted once; no price on the endpoint: the cost is unknown.
    assert totals == {
        "calls": len(calls),
        "failed": sum(call.status != "ok" for call in calls),
        "input_tokens": sum(call.input_tokens or 0 for call in calls),
        "output_tokens": sum(call.output_tokens or 0 for call in calls),
        "cost": None,
    }
    assert [m["endpoint"] for m in usage["models"]] == ["fake"]
    assert usage["models"][0]["model"] == "fake-model"
    assert sum(d["calls"] for d in usage["days"]) == len(calls) and len(usage["days"]) == 1
    assert usage["days"][0]["day"] == calls[0].created_at.strftime("%Y-%m-%d")
    latency = usage["latency"]
    assert latency["calls"] == len(calls) == sum(latency["counts"])
    slowest = max(call.latency_ms or 0 for call in calls)
    # Percentiles are the top of a 10 ms bin: at most 10 ms above the slowest call.
    assert latency["percentiles_ms"]["p50"] <= latency["percentiles_ms"]["p99"] <= slowest + 10
    tasks = {call.task_id for call in calls if call.task_id is not None}
    assert {t["task_id"] for t in usage["tasks"]} == tasks
    assert sum(t["calls"] for t in usage["tasks"]) == sum(c.task_id is not None for c in calls)

    page = client.get("/projects/1/usage").text
    assert page.count("<svg") >= 3 and "Calls per model" in page and "Latency" in page
    assert "The cost is unknown" in page and "/settings#endpoints" in page
    assert f'data-field="calls">{len(calls):,}<' in page


def test_usage_page_of_a_project_without_calls(client: TestClient, database: str) -> None:
    client.post("/projects", data={"name": "Empty"})
    page = client.get("/projects/1/usage")
    assert page.status_code == 200 and "No model call yet" in page.text
    assert client.get("/api/v1/projects/1/usage").json()["totals"]["calls"] == 0


def test_thousands_separators() -> None:
    from distillset.web.pages.templating import format_thousands

    assert format_thousands(1234567) == "1,234,567" and format_thousands(None) == "–"
    assert format_thousands(1234.5) == "1,234.50" and format_thousands(12.0) == "12"
    from distillset.web.pages.templating import format_cost

    assert format_cost(12345.6) == "$12,345.6000" and format_cost(None) == ""


def test_a_missing_model_links_to_its_setting_never_to_the_command_line(
    client: TestClient, database: str
) -> None:
    client.post("/projects", data={"name": "Sports"})
    page = client.get("/projects/1/distill").text
    assert 'id="no-model"' in page and 'href="/projects/1/settings#question_model"' in page
    refused = client.post(
        "/projects/1/distill/generate-tags", data={"count": "2"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422
    assert "has no question model" in refused.text
    assert 'href="/projects/1/settings#question_model" data-fix' in refused.text
    assert "distillset" not in refused.text.replace("/projects", "")  # no command to run
    # The settings page has the field the link names.
    assert 'id="question_model"' in client.get("/projects/1/settings").text
    # The REST API keeps the full message (a script's author reads it).
    api = client.post("/api/v1/projects/1/tags/generate", json={"count": 2})
    assert api.status_code == 422 and "project set" in api.json()["detail"]


def test_another_topic_on_a_tree_points_to_the_settings_topic(
    client: TestClient, database: str, fake_server: object
) -> None:
    client.post("/projects", data={"name": "Sports"})
    client.post("/api/v1/projects/1/tags", json={"label": "Running"})
    form = {"levels": "1", "tags_per_level": "2", "questions_per_tag": "1", "topic": "Chess"}
    page = client.post("/projects/1/distill/auto/plan", data=form, headers={"HX-Request": "true"})
    assert page.status_code == 422 and "already has a tree under the topic" in page.text
    assert 'href="/projects/1/settings#topic"' in page.text
    assert "distillset project set" not in page.text and "--topic" not in page.text


def test_latency_percentiles_and_buckets_from_bins(store: Store, database: str) -> None:
    """Known latencies: the buckets count each call once, the percentiles are the top of
    the 10 ms (1 s above 10 s) bin that holds the nth call, on both databases."""
    from distillset.projects import create_project
    from distillset.quality import usage_report

    latencies = [120.0, 499.0, 500.0, 505.0, 1999.0, 2500.0, 9999.0, 10_000.0, 45_000.0, 75_000.0]
    with store.session() as session:
        project = create_project(session, "Timing")
        for index, ms in enumerate(latencies):
            session.add(
                LlmCall(
                    project_id=project.id,
                    endpoint_alias="e",
                    purpose="answer",
                    request_key=f"{index:064d}",
                    status="ok",
                    latency_ms=ms,
                    input_tokens=1,
                    output_tokens=2,
                    cost=0.5,
                )
            )
        session.add(
            LlmCall(
                project_id=project.id,
                endpoint_alias="e",
                purpose="answer",
                request_key="f" * 64,
                status="error",
                latency_ms=1.0,
            )
        )
        session.flush()
        report = usage_report(session, project.id)
    latency = report["latency"]
    assert latency["calls"] == 10  # failures are not in the latency figures
    # <0.5, 0.5-1, 1-2, 2-5, 5-10, 10-30, 30-60, >=60 seconds
    assert latency["counts"] == [2, 2, 1, 1, 1, 1, 1, 1]
    assert latency["percentiles_ms"] == {"p50": 2000.0, "p90": 46_000.0, "p99": 76_000.0}
    assert report["totals"] == {
        "calls": 11,
        "failed": 1,
        "input_tokens": 10,
        "output_tokens": 20,
        "cost": 5.0,
    }
    assert report["models"][0]["model"] is None  # no endpoint of that alias (removed)


def test_usage_is_the_same_in_the_cli_python_and_rest(
    project: str, cli: Cli, client: TestClient, settings: Any
) -> None:
    from distillset import Project

    rest = client.get("/api/v1/projects/1/usage").json()
    printed = json.loads(ok(cli("usage", NAME, "--json")).stdout)
    python = json.loads(json.dumps(Project(NAME, settings=settings).usage(), default=str))
    for report in (printed, python):
        assert report["totals"] == rest["totals"] and report["models"] == rest["models"]
        assert report["days"] == rest["days"] and report["latency"] == rest["latency"]
        assert [t["task_id"] for t in report["tasks"]] == [t["task_id"] for t in rest["tasks"]]
    table = ok(cli("usage", NAME)).stdout
    assert "model fake" in table and f"{rest['totals']['calls']:,}" in table
    assert "latency of successful calls: p50" in table
    missing = cli("usage", "Nope")
    assert missing.exit_code == 2 and "Nope" in missing.output
