"""The fake model server itself: content by the prompt contract, counters, process mode."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

from distillset.testing import FakeModelServer
from distillset.testing.fake_content import list_items, requested_count, tag_path


def _post(server_url: str, body: dict[str, Any], path: str = "/chat/completions") -> Any:
    request = urllib.request.Request(
        server_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _content(reply: dict[str, Any]) -> str:
    return str(reply["choices"][0]["message"]["content"])


def test_list_prompt_gets_exactly_n_distinct_items_about_the_leaf(
    fake_server: FakeModelServer,
) -> None:
    prompt = "Path: Sports > Ball games > Football\nGive exactly 12 sub-tags as a JSON array."
    items = json.loads(
        _content(_post(fake_server.url, {"messages": [{"role": "user", "content": prompt}]}))
    )
    assert len(items) == 12 and len(set(items)) == 12
    assert all("Football" in item for item in items)
    assert fake_server.stats().by_kind == {"list": 1}


def test_items_named_in_the_prompt_are_not_repeated() -> None:
    base = "Path: Sports > Swimming\nWrite exactly 5 questions as a JSON array."
    first = list_items(base)
    second = list_items(base + "\nExisting questions:\n" + "\n".join(first))
    assert not set(first) & set(second)
    assert len(second) == 5


def test_chinese_prompt_gets_chinese_items() -> None:
    prompt = "标签路径：体育 > 球类运动\n请生成恰好 4 个子标签，以 JSON array 返回。"
    assert requested_count(prompt) == 4
    assert tag_path(prompt) == ["体育", "球类运动"]
    items = list_items(prompt)
    assert len(items) == 4 and all("球类运动" in item for item in items)


def test_score_prompt_gets_a_score_object(fake_server: FakeModelServer) -> None:
    messages = [
        {"role": "system", "content": 'Reply with a JSON object with "score" and "reason".'},
        {"role": "user", "content": "Question: ...\nAnswer: ..."},
    ]
    fake_server.configure(reasoning_style="none")
    verdict = json.loads(_content(_post(fake_server.url, {"messages": messages})))
    assert verdict["score"] in [x / 2 for x in range(11)] and verdict["reason"]


def test_models_listing_and_key_requirement(fake_server: FakeModelServer) -> None:
    with urllib.request.urlopen(fake_server.url + "/models", timeout=10) as response:
        assert json.loads(response.read())["data"][0]["id"] == "fake-model"
    fake_server.configure(require_api_key="sk-fake")
    with pytest.raises(urllib.error.HTTPError) as caught:
        _post(fake_server.url, {"messages": [{"role": "user", "content": "hi"}]})
    assert caught.value.code == 401
    assert fake_server.stats().by_status == {401: 1}


def test_seeded_fault_mix_is_repeatable(fake_server: FakeModelServer) -> None:
    def outcomes() -> dict[str, int]:
        fake_server.reset()
        fake_server.configure(seed=7, rate_500=0.3, rate_truncated=0.2)
        for i in range(40):
            with contextlib.suppress(urllib.error.HTTPError):
                _post(fake_server.url, {"messages": [{"role": "user", "content": f"q{i}"}]})
        return fake_server.stats().by_outcome

    first = outcomes()
    assert first == outcomes()
    assert set(first) == {"ok", "500", "truncated"}


def test_runs_as_its_own_process_with_admin_endpoints() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "distillset.testing.fake_server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        root = url.removesuffix("/v1")
        assert root.startswith("http://127.0.0.1:")
        _post(url, {"messages": [{"role": "user", "content": "hi"}]})
        assert _post(root, {"rate_500": 1.0}, path="/_fake/config")["rate_500"] == 1.0
        with pytest.raises(urllib.error.HTTPError) as caught:
            _post(url, {"messages": [{"role": "user", "content": "hi"}]})
        assert caught.value.code == 500
        with urllib.request.urlopen(root + "/_fake/stats", timeout=10) as response:
            stats = json.loads(response.read())
        assert stats["total"] == 2 and stats["by_status"] == {"200": 1, "500": 1}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_embeddings_are_deterministic_unit_vectors_of_the_words(
    fake_server: FakeModelServer,
) -> None:
    texts = ["What is a volley in tennis?", "In tennis, what is a VOLLEY?", "How to pace a race?"]
    reply = _post(fake_server.url, {"model": "e", "input": texts}, path="/embeddings")
    vectors = [item["embedding"] for item in sorted(reply["data"], key=lambda i: i["index"])]
    assert [len(vector) for vector in vectors] == [64, 64, 64]
    assert vectors[0] == vectors[1] != vectors[2]
    assert abs(sum(value * value for value in vectors[2]) - 1.0) < 1e-9
    again = _post(fake_server.url, {"input": texts[2]}, path="/embeddings")
    assert again["data"][0]["embedding"] == vectors[2] and again["usage"]["total_tokens"] > 0
    fake_server.configure(embedding_dims=8)
    small = _post(fake_server.url, {"input": ["x"]}, path="/embeddings")
    assert len(small["data"][0]["embedding"]) == 8


@pytest.mark.parametrize("body", [{}, {"input": []}, {"input": [1, 2]}, {"input": None}])
def test_an_embeddings_request_without_texts_is_refused(
    fake_server: FakeModelServer, body: dict[str, Any]
) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        _post(fake_server.url, body, path="/embeddings")
    assert refused.value.code == 400
