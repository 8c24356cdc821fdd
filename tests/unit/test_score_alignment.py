"""Reading vLLM's prompt_logprobs for an answer: which entry at each position is the
prompt's own token is told by the text, whatever order a vLLM version writes them in."""

from __future__ import annotations

import pytest

from distillset.answers.score_tokens import CannotScore, answer_labels, prompt_scores


def row(*entries: tuple[str, int, float, int]) -> dict[str, dict[str, object]]:
    return {
        str(token_id): {"decoded_token": text, "logprob": logprob, "rank": rank}
        for text, token_id, logprob, rank in entries
    }


def test_the_own_token_is_found_by_the_text_and_the_top_k_kept_by_rank() -> None:
    body = {
        "prompt_logprobs": [
            None,
            row(("<|assistant|>", 1, -0.1, 1)),
            # The answer's first token shares its position with template text.
            row(("\nHello", 2, -0.5, 1), ("\nHi", 3, -1.0, 2)),
            row((" dog", 4, -0.2, 1), (" cat", 5, -0.9, 2)),
            # The best-ranked candidate also ends the text, but nothing before it spells
            # the rest: the search goes back and takes the other.
            row(("ts", 7, -0.3, 1), ("s", 8, -0.4, 2)),
        ]
    }

    labels = answer_labels(prompt_scores(body), "Hello cats", 2)

    assert labels.tokens == [b"Hello", b" cat", b"s"]
    assert labels.ids == [2, 5, 8] and labels.logprobs == [-0.5, -0.9, -0.4]
    assert labels.top_tokens[1] == [b" dog", b" cat"]


def test_own_token_outside_the_top_k_keeps_its_logprob_and_the_top_k_alternatives() -> None:
    body = {
        "prompt_logprobs": [
            None,
            row(("A", 1, -0.1, 1)),
            row((" b", 2, -0.2, 1), (" c", 3, -0.3, 2), (" z", 9, -7.5, 3)),
        ]
    }

    labels = answer_labels(prompt_scores(body), "A z", 2)

    assert labels.tokens == [b"A", b" z"] and labels.logprobs == [-0.1, -7.5]
    assert labels.ids == [1, 9]
    assert labels.top_tokens[1] == [b" b", b" c"]  # the top 2, not the injected own token


def test_text_the_tokens_cannot_spell_is_refused() -> None:
    body = {"prompt_logprobs": [None, row(("A", 1, -0.1, 1)), row((" b", 2, -0.2, 1))]}
    with pytest.raises(CannotScore, match="do not spell the stored answer"):
        answer_labels(prompt_scores(body), "A c", 5)
    with pytest.raises(CannotScore, match="no prompt_logprobs"):
        prompt_scores({"choices": [{"message": {"content": "x"}}]})
