"""The repeated follow-up flag: a user turn that says again what an earlier one said."""

from __future__ import annotations

from distillset.review.conversations import REPEATED_FOLLOW_UP, TurnView, repeated_follow_ups


def turns(*texts: str) -> list[TurnView]:
    return [
        TurnView(position, "assistant" if position % 2 else "user", text)
        for position, text in enumerate(texts)
    ]


def test_a_follow_up_repeating_an_earlier_user_turn_is_flagged() -> None:
    talk = turns(
        "How do I start a sprint?",
        "Push hard.",
        "What about my arms?",
        "Drive them.",
        "What about my arms??",  # the simulator says it again, punctuation aside
        "As I said.",
        "How do I start a sprint",  # the question again
        "Push.",
    )
    assert repeated_follow_ups(talk) == [
        {"kind": REPEATED_FOLLOW_UP, "position": 4, "detail": "turn 4 repeats turn 2"},
        {"kind": REPEATED_FOLLOW_UP, "position": 6, "detail": "turn 6 repeats turn 0"},
    ]


def test_different_follow_ups_and_repeated_teacher_replies_are_not_flagged() -> None:
    talk = turns(
        "How do I start a sprint?",
        "Same reply.",
        "What about my arms?",
        "Same reply.",
        "What about my legs in the second phase?",
        "Same reply.",
        "What about round 2?",
    )
    assert repeated_follow_ups(talk) == []
    numbers = turns("What is drill 1?", "A.", "What is drill 2?")
    assert repeated_follow_ups(numbers) == []
