"""How one HTTP reply is judged, and the usage it reports even when it is rejected."""

from __future__ import annotations

import json

from distillset.llm.attempts import judge_reply
from distillset.llm.completion import Usage
from distillset.llm.transport import RawReply

USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}


def _reply(body: object, status: int = 200) -> RawReply:
    return RawReply(status, {}, body if isinstance(body, str) else json.dumps(body))


def test_a_body_without_choices_is_retried_but_its_usage_is_kept() -> None:
    outcome = judge_reply(_reply({"id": "x", "choices": [], "usage": USAGE}))
    assert outcome.retryable and outcome.error == "the response has no choices"
    assert outcome.usage == Usage(input_tokens=12, output_tokens=30)


def test_a_cut_reply_reports_its_usage() -> None:
    message = {"role": "assistant", "content": "Half an ans"}
    body = {"choices": [{"message": message, "finish_reason": "length"}], "usage": USAGE}
    outcome = judge_reply(_reply(body))
    assert outcome.retryable and "finish_reason=length" in (outcome.error or "")
    assert outcome.usage.total == 42


def test_unreadable_json_reports_no_usage() -> None:
    outcome = judge_reply(_reply('{"choices": [{"message": {"content": "cut'))
    assert outcome.retryable and not outcome.usage.reported


def test_usage_adds_up_and_unknown_stays_unknown() -> None:
    summed = Usage(10, 5, None) + Usage(None, 7, None) + Usage()
    assert summed == Usage(input_tokens=10, output_tokens=12, reasoning_tokens=None)
    assert Usage(output_tokens=3).total is None  # no input count: nothing to settle with
