"""The pages and their htmx fragments through TestClient, against the fake model server."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from distillset.testing import FakeModelServer

HX = {"HX-Request": "true"}


@pytest.fixture
def project_id(client: TestClient, fake_server: FakeModelServer) -> int:
    created = client.post("/projects", data={"name": "Sports"}, follow_redirects=False)
    assert created.status_code == 303
    project = int(created.headers["location"].split("/")[2])
    added = client.post(
        f"/projects/{project}/endpoints",
        data={"alias": "fake", "base_url": fake_server.url, "model": "m"},
        headers=HX,
    )
    assert added.status_code == 200 and "Endpoint fake added" in added.text
    assert 'id="model-selects"' in added.text and "hx-swap-oob" in added.text
    saved = client.post(
        f"/projects/{project}/settings",
        data={"question_model": "fake", "answer_model": "fake", "answer_system_prompt": ""},
        headers=HX,
    )
    assert "Settings saved" in saved.text
    return project


def test_project_list_create_and_delete(client: TestClient) -> None:
    client.post("/projects", data={"name": "Chess", "language": "en"})
    listing = client.get("/").text
    assert "Chess" in listing and "hx-confirm" in listing
    deleted = client.post("/projects/1/delete", headers=HX)
    assert deleted.headers["HX-Redirect"] == "/"
    assert "Chess" not in client.get("/").text
    duplicate = client.post("/projects", data={"name": "X"}) and client.post(
        "/projects", data={"name": "X"}
    )
    assert duplicate.status_code == 409 and "already exists" in duplicate.text


def test_distill_workbench_flow(client: TestClient, project_id: int) -> None:
    base = f"/projects/{project_id}/distill"
    generated = client.post(f"{base}/generate-tags", data={"count": "2"}, headers=HX)
    assert "Created 2 of 2 tags" in generated.text
    assert 'id="children-root" hx-swap-oob="innerHTML"' in generated.text
    page = client.get(base).text
    assert page.count('class="node"') == 2

    sub = client.post(f"{base}/generate-tags", data={"count": "2", "parent_id": "1"}, headers=HX)
    assert "Created 2 of 2 tags" in sub.text and 'id="tag-1"' in sub.text
    children = client.get(f"{base}/children", params={"parent_id": 1}).text
    assert children.count('class="node"') == 2

    questions = client.post(f"{base}/tags/3/generate-questions", data={"count": "2"}, headers=HX)
    assert "Created 2 of 2 questions" in questions.text
    assert "Generate answer" in questions.text
    answered = client.post(f"{base}/questions/1/answer", headers=HX)
    assert "answered" in answered.text and "Reasoning" in answered.text

    renamed = client.post(f"{base}/tags/3/rename", data={"label": "Renamed tag"}, headers=HX)
    assert "Renamed tag" in renamed.text
    detail = client.get(f"{base}/tags/1").text
    assert "Delete tag" in detail and "with 2 sub-tags, 2 questions and 1 answers" in detail
    deleted = client.post(f"{base}/tags/1/delete", headers=HX)
    assert "3 tags, 2 questions and 1 answers" in deleted.text
    assert client.get(f"{base}/tags/1").status_code == 404

    by_hand = client.post(f"{base}/tags", data={"label": "Chess", "parent_id": ""}, headers=HX)
    assert "Added by hand" in by_hand.text
    clash = client.post(f"{base}/tags", data={"label": "chess"}, headers=HX)
    assert clash.status_code == 409 and clash.headers["HX-Retarget"] == "#messages"
    bad = client.post(f"{base}/generate-tags", data={"count": "0"}, headers=HX)
    assert bad.status_code == 422
    bad_parent = client.post(f"{base}/tags", data={"label": "X", "parent_id": "abc"}, headers=HX)
    assert (
        bad_parent.status_code == 422
        and "parent_id: Input should be a valid integer" in bad_parent.text
    )


def _out_of_band(reply: str, element_id: str) -> str:
    """The content an htmx reply swaps into #element_id out of band (besides its target)."""
    pattern = rf'<(\w+)[^>]* id="{element_id}"[^>]* hx-swap-oob="[^"]+"[^>]*>(.*?)</\1>'
    match = re.search(pattern, reply, re.S)
    assert match, f"the reply does not update #{element_id}"
    return match.group(2).strip()


def _form_target(html: str, action: str) -> str:
    match = re.search(rf'<form [^>]*hx-post="[^"]*{action}" hx-target="([^"]+)"', html)
    assert match, f"no form posting to {action}"
    return match.group(1)


def test_rename_shows_the_panel_again_and_renames_the_tree_node(
    client: TestClient, project_id: int
) -> None:
    base = f"/projects/{project_id}/distill"
    client.post(f"{base}/tags", data={"label": "Alpha"}, headers=HX)
    client.post(f"{base}/tags", data={"label": "Child", "parent_id": "1"}, headers=HX)
    panel = client.get(f"{base}/tags/2").text
    # The reply's own part is the preview card: it goes to the preview, not over the panel.
    assert _form_target(panel, "/tags/2/rename") == "#preview"

    renamed = client.post(f"{base}/tags/2/rename", data={"label": "Beta"}, headers=HX)
    assert renamed.status_code == 200
    assert re.search(r"<h3>Renamed</h3>\s*<ul><li>Beta</li></ul>", renamed.text)
    new_panel = renamed.text.split('<div id="detail" hx-swap-oob="innerHTML">', 1)[1]
    assert '<h2 class="path">Alpha &gt; Beta</h2>' in new_panel
    assert 'name="label" value="Beta"' in new_panel and "Generate questions" in new_panel
    # The tree node's label is swapped in place, so the open tree keeps its shape.
    assert _out_of_band(renamed.text, "tag-label-2") == "Beta"
    assert 'id="tag-label-2"' in client.get(f"{base}/children", params={"parent_id": 1}).text


def test_an_answer_updates_the_answered_counts_of_the_tree_node_and_the_panel(
    client: TestClient, project_id: int
) -> None:
    base = f"/projects/{project_id}/distill"
    client.post(f"{base}/tags", data={"label": "Golf"}, headers=HX)
    client.post(f"{base}/tags/1/generate-questions", data={"count": "2"}, headers=HX)
    tree, panel = client.get(base).text, client.get(f"{base}/tags/1").text
    assert 'id="tag-counts-1"' in tree and "2 q · 0 answered" in tree
    assert 'id="detail-counts-1"' in panel and 'id="tag-delete-1"' in panel

    answered = client.post(f"{base}/questions/1/answer", headers=HX)
    assert answered.status_code == 200 and 'id="question-1"' in answered.text
    assert _out_of_band(answered.text, "tag-counts-1") == "0 sub-tags · 2 q · 1 answered"
    assert (
        _out_of_band(answered.text, "detail-counts-1")
        == "0 sub-tags · 2 questions · 1 answered · manual"
    )
    assert _out_of_band(answered.text, "tag-delete-1") == "Delete tag"
    assert "2 questions and 1 answers?" in answered.text
    again = client.post(f"{base}/questions/2/answer", headers=HX)
    assert _out_of_band(again.text, "tag-counts-1") == "0 sub-tags · 2 q · 2 answered"
    assert 'id="messages"' not in again.text


def test_a_failed_new_sample_says_why_and_keeps_the_answer(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    base = f"/projects/{project_id}/distill"
    client.post(f"{base}/tags", data={"label": "Golf"}, headers=HX)
    client.post(f"{base}/tags/1/generate-questions", data={"count": "1"}, headers=HX)
    client.post(f"{base}/questions/1/answer", headers=HX)
    kept = client.get(f"/api/v1/projects/{project_id}/records/1").json()["answer"]
    client.patch(f"/api/v1/projects/{project_id}", json={"max_retries": 0})
    fake_server.queue_faults("500")

    failed = client.post(f"{base}/questions/1/answer", data={"fresh": "true"}, headers=HX)

    assert failed.status_code == 200
    # The reason shows on the question, beside its button, not in the page's message area.
    question = re.search(r'<li class="question" id="question-1">(.*?)</li>', failed.text, re.S)
    assert question and 'role="alert"' in question.group(1) and "HTTP 500" in question.group(1)
    assert 'id="messages"' not in failed.text
    assert client.get(f"/api/v1/projects/{project_id}/records/1").json()["answer"] == kept


def test_auto_distill_plan_start_and_progress_page(client: TestClient, project_id: int) -> None:
    form = {"topic": "Sports", "levels": "1", "tags_per_level": "2", "questions_per_tag": "1"}
    plan = client.post(f"/projects/{project_id}/distill/auto/plan", data=form, headers=HX)
    assert "<strong>2</strong> tags" in plan.text and "Start" in plan.text
    started = client.post(f"/projects/{project_id}/distill/auto/start", data=form, headers=HX)
    target = started.headers["HX-Redirect"]
    task_id = int(target.rsplit("/", 1)[1])
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events") as stream:
        last = [line for line in stream.iter_lines() if line.startswith("data: ")][-1]
    assert json.loads(last[6:])["status"] == "succeeded"
    page = client.get(target).text
    assert f'data-task-stream="/api/v1/tasks/{task_id}/events"' in page
    tasks = client.get(f"/projects/{project_id}/tasks").text
    assert "auto_distill" in tasks and "succeeded" in tasks
    assert client.get(f"/projects/{project_id}/tasks/999").status_code == 404


def test_questions_dataset_and_export_pages(client: TestClient, project_id: int) -> None:
    client.post(f"/api/v1/projects/{project_id}/tags", json={"label": "Golf"})
    client.post(f"/api/v1/projects/{project_id}/tags/1/questions/generate", json={"count": 2})
    client.post(f"/api/v1/projects/{project_id}/questions/1/answer")

    questions = client.get(f"/projects/{project_id}/questions", params={"answered": "no"}).text
    assert questions.count('<tr id="question-row-') == 1  # one unanswered question
    assert (
        client.get(f"/projects/{project_id}/questions", params={"tag": "Nope"}).status_code == 404
    )
    started = client.post(f"/projects/{project_id}/questions/answer-unanswered", headers=HX)
    assert "/tasks/" in started.headers["HX-Redirect"]

    dataset = client.get(f"/projects/{project_id}/dataset").text
    assert 'id="record-1"' in dataset
    confirmed = client.post(f"/projects/{project_id}/dataset/1", data={"confirmed": "true"})
    assert "Unconfirm" in confirmed.text
    scored = client.post(f"/projects/{project_id}/dataset/1", data={"score": "3.5"})
    assert "score 3.5" in scored.text
    unscored = client.post(f"/projects/{project_id}/dataset/1", data={"score": ""})
    assert "score –" in unscored.text
    noted = client.post(f"/projects/{project_id}/dataset/1", data={"note": "<i>check</i>"})
    assert "&lt;i&gt;check&lt;/i&gt;" in noted.text
    edited = client.post(
        f"/projects/{project_id}/dataset/1",
        data={"question": "Edited question?", "answer": "Edited answer.", "reasoning": ""},
    )
    assert "Edited answer." in edited.text and 'class="reasoning"' not in edited.text
    filtered = client.get(f"/projects/{project_id}/dataset", params={"confirmed": "yes"}).text
    assert 'id="record-1"' in filtered

    assert "Download" in client.get(f"/projects/{project_id}/export").text
    download = client.get(
        f"/projects/{project_id}/export/file",
        params={"format": "messages", "file_format": "json", "min_score": "", "balanced": ""},
    )
    assert download.status_code == 200 and json.loads(download.text)[0]["messages"]
    bad = client.get(f"/projects/{project_id}/export/file", params={"min_score": "high"})
    assert bad.status_code == 422 and "min score" in bad.text
    gone = client.post(f"/projects/{project_id}/dataset/1/delete", headers=HX)
    assert "deleted" in gone.text


def test_settings_page_endpoints_and_prompts(client: TestClient, project_id: int) -> None:
    page = client.get(f"/projects/{project_id}/settings").text
    assert "not set" in page and "fake" in page
    tested = client.post(f"/projects/{project_id}/endpoints/fake/test", headers=HX)
    assert "Answered in" in tested.text and "reasoning: works" in tested.text
    edited = client.post(
        f"/projects/{project_id}/endpoints/fake", data={"temperature": "0"}, headers=HX
    )
    assert "Endpoint fake saved" in edited.text
    assert client.get("/api/v1/endpoints/fake").json()["temperature"] == 0
    prompts = client.get(f"/projects/{project_id}/prompts").text
    assert "answer" in prompts and "default (en)" in prompts
    saved = client.post(
        f"/projects/{project_id}/prompts/answer", data={"template": "Q: {question}"}, headers=HX
    )
    assert "overridden" in saved.text
    refused = client.post(
        f"/projects/{project_id}/prompts/answer", data={"template": "nothing"}, headers=HX
    )
    assert refused.status_code == 422
    reset = client.post(f"/projects/{project_id}/prompts/answer/reset", headers=HX)
    assert "reset to the default" in reset.text
    removed = client.post(f"/projects/{project_id}/endpoints/fake/delete", headers=HX)
    assert "Endpoint fake removed" in removed.text


def test_outline_import_from_the_distill_page(client: TestClient) -> None:
    client.post("/projects", data={"name": "Music"})
    imported = client.post(
        "/projects/1/distill/import",
        files={"file": ("toc.yaml", b"- Theory\n- Instruments:\n  - Piano\n")},
        headers=HX,
    )
    assert "Imported 3 new tags (3 in the file)" in imported.text
    assert imported.text.count('class="node"') == 2
    refused = client.post(
        "/projects/1/distill/import", files={"file": ("toc.yaml", b"a: [")}, headers=HX
    )
    assert refused.status_code == 422 and refused.headers["HX-Retarget"] == "#messages"


def _post_pairs(client: TestClient, url: str, pairs: list[tuple[str, str]]) -> str:
    """A form post with a repeated field, as a browser sends a hidden input and a checkbox."""
    form = {"Content-Type": "application/x-www-form-urlencoded", **HX}
    return client.post(url, content=urlencode(pairs), headers=form).text


def test_settings_forms_remove_what_is_emptied_and_set_streaming(
    client: TestClient, project_id: int
) -> None:
    settings_url = f"/projects/{project_id}/settings"
    limited = {"requests_per_minute": "100", "answer_system_prompt": "Be brief."}
    assert "Settings saved" in client.post(settings_url, data=limited, headers=HX).text
    project = client.get(f"/api/v1/projects/{project_id}").json()
    assert (project["requests_per_minute"], project["answer_system_prompt"]) == (100, "Be brief.")
    emptied = {"requests_per_minute": "", "answer_system_prompt": "", "max_retries": ""}
    assert "Settings saved" in client.post(settings_url, data=emptied, headers=HX).text
    project = client.get(f"/api/v1/projects/{project_id}").json()
    assert (project["requests_per_minute"], project["answer_system_prompt"]) == (None, None)
    assert project["max_retries"] == 3  # not removable: an empty field leaves it as it was

    edit = f"/projects/{project_id}/endpoints/fake"
    # The form sends the hidden "false" first, then the ticked box's "true".
    ticked = [("price_input_per_m", "2"), ("stream", "false"), ("stream", "true")]
    assert "Endpoint fake saved" in _post_pairs(client, edit, ticked)
    endpoint = client.get("/api/v1/endpoints/fake").json()
    assert (endpoint["price_input_per_m"], endpoint["stream"]) == (2, True)
    unticked = [("price_input_per_m", ""), ("stream", "false")]
    assert "Endpoint fake saved" in _post_pairs(client, edit, unticked)
    endpoint = client.get("/api/v1/endpoints/fake").json()
    assert (endpoint["price_input_per_m"], endpoint["stream"]) == (None, False)
    page = client.get(settings_url).text
    assert 'name="stream" value="true" checked' not in page  # the edit form's box is unticked

    referenced = [("api_key_env", "MY_API_KEY")]
    assert "Endpoint fake saved" in _post_pairs(client, edit, referenced)
    assert client.get("/api/v1/endpoints/fake").json()["api_key_env"] == "MY_API_KEY"
    assert "Endpoint fake saved" in _post_pairs(client, edit, [("api_key_env", "")])
    assert client.get("/api/v1/endpoints/fake").json()["api_key_env"] is None


def test_a_refused_form_keeps_its_page_and_values(client: TestClient, project_id: int) -> None:
    blank = client.post("/projects", data={"name": "  ", "language": "zh"})
    assert blank.status_code == 422 and "cannot be blank" in blank.text
    assert 'id="new-project-error"' in blank.text and 'name="language" value="zh"' in blank.text
    assert "Something went wrong" not in blank.text

    dataset = client.get(f"/projects/{project_id}/dataset", params={"min_score": "9", "q": "pace"})
    assert dataset.status_code == 422 and "min score must be between 0 and 5" in dataset.text
    assert 'name="min_score" min="0" max="5" step="0.5" value="9"' in dataset.text
    assert 'value="pace"' in dataset.text and "No record matches" not in dataset.text
    questions = client.get(f"/projects/{project_id}/questions", params={"tag": "Nope"})
    assert questions.status_code == 404 and "no tag &#39;Nope&#39;" in questions.text
    assert 'id="filter-error"' in questions.text and 'value="Nope"' in questions.text


def test_an_export_page_download_that_matches_nothing_says_so(
    client: TestClient, project_id: int
) -> None:
    params = {"format": "sharegpt", "file_format": "jsonl", "confirmed_only": "true"}
    empty = client.get(f"/projects/{project_id}/export/file", params=params)
    assert empty.status_code == 404 and "content-disposition" not in empty.headers
    assert "no record matched the filters: there is nothing to download" in empty.text
    assert '<option value="sharegpt" selected' in empty.text and "checked" in empty.text
    # The API still streams the empty (valid) file a script asked for.
    api = client.get(f"/api/v1/projects/{project_id}/export", params={"file_format": "json"})
    assert api.status_code == 200 and json.loads(api.text) == []


def test_the_counts_fragment_refreshes_nodes_and_the_open_panel(
    client: TestClient, project_id: int
) -> None:
    base = f"/projects/{project_id}/distill"
    client.post(f"{base}/tags", data={"label": "Golf"}, headers=HX)
    client.post(f"{base}/tags", data={"label": "Chess"}, headers=HX)
    client.post(f"{base}/tags/1/generate-questions", data={"count": "2"}, headers=HX)
    client.post(f"/api/v1/projects/{project_id}/questions/1/answer")

    reply = client.get(f"{base}/counts", params=[("ids", 1), ("ids", 2), ("tag_id", 1)]).text
    assert _out_of_band(reply, "tag-counts-1") == "0 sub-tags · 2 q · 1 answered"
    assert _out_of_band(reply, "tag-counts-2") == "0 sub-tags · 0 q · 0 answered"
    assert _out_of_band(reply, "detail-counts-1").startswith("0 sub-tags · 2 questions · 1")
    questions = _out_of_band(reply, "tag-questions-1")
    assert questions.count('class="question"') == 2 and "Generate answer" in questions
    # Another project's tag, or a deleted one, is not shown: nothing to refresh.
    other = client.get(f"{base}/counts", params=[("ids", 999), ("tag_id", 999)])
    assert other.status_code == 200 and "hx-swap-oob" not in other.text
    too_many = client.get(f"{base}/counts", params=[("ids", i) for i in range(1, 1002)])
    assert too_many.status_code == 422
