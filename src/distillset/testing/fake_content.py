"""What the fake model says: list items, reasoned answers and judge scores.

Replies are derived from the prompt alone (the tag path, the requested count, the
question), so they are plausible, distinct and repeatable.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from distillset.testing.fake_vocabulary import (
    ANSWER_POINTS_EN,
    ASPECT_QUESTIONS_EN,
    ASPECT_QUESTIONS_ZH,
    ASPECTS_EN,
    ASPECTS_ZH,
    FACETS_EN,
    FACETS_ZH,
    ORDINALS_EN,
    QUESTIONS_EN,
    QUESTIONS_ZH,
)

_COUNT = re.compile(r"(?:exactly|恰好|tam olarak)\s*(\d+)", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")
_QUESTION_WORDS = re.compile(r"question|问题", re.IGNORECASE)
_LABEL_PREFIX = re.compile(r"^[^:：>]{0,40}[:：]\s*")

DEFAULT_COUNT = 5
# Longest first, so `Key Terminology of X` is not read as a shorter head.
_HEADS_EN = sorted({*ASPECTS_EN, *FACETS_EN}, key=len, reverse=True)
_HEADS_ZH = sorted({*ASPECTS_ZH, *FACETS_ZH}, key=len, reverse=True)


def message_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if isinstance(m.get("content"), str)]


def user_text(messages: list[dict[str, Any]]) -> str:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    texts = [text for text in users if isinstance(text, str)]
    return texts[-1] if texts else ""


# The heading the shipped refine prompts put before the advice (en, zh, tr).
_ADVICE_HEADING = re.compile(
    r"^(?:Reviewer's advice:|审阅意见：|Değerlendiricinin önerisi:)\s*$", re.MULTILINE
)


def request_kind(messages: list[dict[str, Any]]) -> str:
    """`list`, `place`, `difficulty`, `pairwise`, `score`, `refine`, `follow_up` (the user
    simulator's turn: the history between <conversation> tags) or `answer`, by the prompt
    contract."""
    if "JSON array" in user_text(messages):
        return "list"
    if '"placements"' in user_text(messages):
        return "place"
    if '"difficulty"' in user_text(messages):
        return "difficulty"
    if '"winner"' in user_text(messages):
        return "pairwise"
    if _ADVICE_HEADING.search(user_text(messages)):
        return "refine"
    if any('"score"' in text for text in message_texts(messages)):
        return "score"
    if "<conversation>" in user_text(messages):
        return "follow_up"
    return "answer"


_FOLLOW_UPS_EN = (
    "Thanks! Could you give me a concrete example of that for {leaf}?",
    "What is the most common mistake people make with {leaf}, and how do I avoid it?",
    "How would I practise this on my own, step by step?",
    "How can I tell whether I am doing it right?",
    "What should I focus on first if I only have a little time each week?",
    "Could you explain the second point in more detail?",
)
_FOLLOW_UPS_ZH = (
    "谢谢！能针对{leaf}举一个具体的例子吗？",
    "在{leaf}方面人们最常犯的错误是什么？怎样避免？",
    "我自己练习的话，应该怎样一步一步来？",
    "我怎样判断自己做得对不对？",
    "如果每周时间不多，我应该先关注什么？",
    "能把第二点再讲得详细一些吗？",
)
_HISTORY_TURN = re.compile(r"^\[(user|assistant)\]$", re.MULTILINE)


def follow_up_for(text: str) -> tuple[str, str]:
    """(reasoning, the next user turn) for a user-simulator prompt: a follow-up about the
    path's leaf that differs from round to round and from conversation to conversation."""
    history = text.partition("<conversation>")[2].partition("</conversation>")[0]
    turns = len(_HISTORY_TURN.findall(history))
    leaf = tag_path(text)[-1]
    chinese = is_chinese(text)
    pool = _FOLLOW_UPS_ZH if chinese else _FOLLOW_UPS_EN
    pick = (_digest(history.split("[assistant]")[0]) + turns // 2) % len(pool)
    reasoning = f"The user has seen {turns // 2} replies; asking about {leaf} next."
    return reasoning, pool[pick].format(leaf=leaf)


def is_chinese(text: str) -> bool:
    return "恰好" in text or len(_CJK.findall(text)) > 10


def requested_count(text: str) -> int:
    match = _COUNT.search(text)
    return int(match.group(1)) if match else DEFAULT_COUNT


def tag_path(text: str) -> list[str]:
    """The `A > B > C` path in the prompt, else a quoted topic, else a generic one."""
    for line in text.splitlines():
        if " > " in line:
            line = _LABEL_PREFIX.sub("", line.strip())
            parts = [p.strip(" \"'“”「」`*.。") for p in line.split(" > ")]
            return [p for p in parts if p] or ["the topic"]
    quoted = re.search(r"[\"“「]([^\"”」\n]{2,80})[\"”」]", text)
    if quoted:
        return [quoted.group(1).strip()]
    labelled = re.search(r"(?:topic|主题)\s*[:：]\s*(.+)", text, re.IGNORECASE)
    return [labelled.group(1).strip()] if labelled else ["the topic"]


def _split_en(label: str) -> tuple[str, str, str] | None:
    """`Key Concepts in Ethics` -> (`Key Concepts`, `in`, `Ethics`) for a label of ours."""
    for head in _HEADS_EN:
        for joint in ("of", "in"):
            if label.startswith(f"{head} {joint} "):
                return head, joint, label[len(head) + len(joint) + 2 :]
    return None


def _split_zh(label: str) -> tuple[str, str] | None:
    """`训练方法中的核心概念` -> (`训练方法`, `核心概念`) for a label of ours."""
    for head in _HEADS_ZH:
        if label.endswith(head) and len(label) > len(head):
            rest = label[: -len(head)]
            for joint in ("中的", "的"):
                if rest.endswith(joint) and len(rest) > len(joint):
                    return rest[: -len(joint)], head
    return None


def _child_labels(path: list[str], chinese: bool) -> list[str]:
    """Sub-tags of the leaf: aspects of a plain label, facets of an aspect or a facet.

    The topic is dropped below the first level (the path already says it) and a facet is
    never one the parent names, so no label repeats its parent's words.
    """
    topic, leaf = path[0], path[-1]
    if chinese:
        split = None if leaf == topic else _split_zh(leaf)
        if split is None:
            return [f"{leaf}的{aspect}" for aspect in ASPECTS_ZH]
        body = leaf.removeprefix(f"{topic}的")
        joint = "中的" if split[1] in ASPECTS_ZH else "的"
        return [f"{body}{joint}{facet}" for facet in FACETS_ZH if facet not in leaf]
    split_en = None if leaf == topic else _split_en(leaf)
    if split_en is None:
        return [f"{aspect} of {leaf}" for aspect in ASPECTS_EN]
    body = leaf.removesuffix(f" of {topic}")
    joint = "in" if split_en[0] in ASPECTS_EN else "of"
    taken = _words(leaf)
    return [f"{facet} {joint} {body}" for facet in FACETS_EN if not _words(facet) & taken]


def _words(text: str) -> set[str]:
    """The words that carry meaning: `Core Principles` and `Core Techniques` share one."""
    return {word for word in text.casefold().split() if len(word) > 3}


def _noun_phrase_en(label: str, topic: str, *, article: bool = True) -> str:
    """A label of ours as it reads in a sentence: `the key concepts in the ethics of T`.

    A bare aspect (the parent's label without the topic) gets the topic back, since a
    question has to make sense without its path.
    """
    the = "the " if article else ""
    if label in ASPECTS_EN:
        return f"the {label.lower()} of {topic}"
    split = _split_en(label)
    if split is None:
        return label
    head, joint, rest = split
    return f"{the}{head.lower()} {joint} {_noun_phrase_en(rest, topic, article=False)}"


def _questions(path: list[str], chinese: bool) -> list[str]:
    """Questions about the leaf, the general ones first, then one per aspect."""
    topic, leaf = path[0], path[-1]
    aspects: tuple[str, ...]
    if chinese:
        phrase, templates, extra, aspects = leaf, QUESTIONS_ZH, ASPECT_QUESTIONS_ZH, ASPECTS_ZH
    else:
        phrase, templates, extra = _noun_phrase_en(leaf, topic), QUESTIONS_EN, ASPECT_QUESTIONS_EN
        aspects = tuple(aspect.lower() for aspect in ASPECTS_EN)
    items = [template.format(n=phrase, t=topic) for template in templates]
    for aspect in aspects:
        if aspect.casefold() not in phrase.casefold():
            items += [template.format(a=aspect, n=phrase) for template in extra]
    return list(dict.fromkeys(items))


def _candidates(path: list[str], questions: bool, chinese: bool) -> list[str]:
    return _questions(path, chinese) if questions else _child_labels(path, chinese)


def list_items(text: str, count: int | None = None) -> list[str]:
    """`count` distinct items for a list prompt, skipping any the prompt already names."""
    wanted = requested_count(text) if count is None else count
    path = tag_path(text)
    questions = bool(_QUESTION_WORDS.search(text))
    chinese = is_chinese(text)
    lowered = text.casefold()
    fresh = _candidates(path, questions, chinese)
    unused = [item for item in fresh if item.casefold() not in lowered]
    pool = unused if len(unused) >= wanted else unused + [i for i in fresh if i not in unused]
    items = pool[:wanted]
    suffix = 2
    while len(items) < wanted:  # more asked than the pool holds: number the extras
        items.append(f"{fresh[len(items) % len(fresh)]} ({suffix})")
        suffix += 1
    return items


def _digest(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def final_answer_for(question: str, sample: int) -> str:
    """The short final answer of a sampled reply: two samples in three agree (the question's
    number), the third is off by one, so a majority vote has something to decide."""
    base = _digest(question) % 90 + 10
    return str(base + 1 if sample % 3 == 2 else base)


def answer_for(text: str, sample: int | None = None) -> tuple[str, str]:
    """(reasoning, answer) for a question prompt. A sampled answer (``sample`` k, at a
    temperature above 0) differs with k and ends with a short final answer line."""
    reasoning, answer = _plain_answer(text, sample or 0)
    if sample is None:
        return reasoning, answer
    question = text.strip().splitlines()[-1] if text.strip() else "the question"
    reasoning += f"\nSample {sample + 1}: weighing the options once more."
    return reasoning, f"{answer}\n\nFinal answer: {final_answer_for(question, sample)}"


def _plain_answer(text: str, shift: int) -> tuple[str, str]:
    question = text.strip().splitlines()[-1] if text.strip() else "the question"
    if is_chinese(text):
        reasoning = (
            f"用户问的是：{question}\n首先明确核心概念，然后分析主要因素，最后给出可以实践的建议。"
        )
        answer = (
            f"关于“{question}”：核心在于理解基本原理。第一，掌握关键概念；"
            "第二，结合实际情况分析；第三，循序渐进地练习并评估效果。"
        )
        return reasoning, answer
    reasoning = (
        f"The user asks: {question}\nI will start from the core idea, then the factors that "
        "change the outcome, and finish with advice a learner can act on."
    )
    points = ANSWER_POINTS_EN[(_digest(question) + shift) % len(ANSWER_POINTS_EN)]
    opening = question[:1].lower() + question[1:] if question[1:2].islower() else question
    # Prose, not a numbered list: a reply to a list prompt must not parse as a list by chance.
    body = " ".join(f"{order}, {point}" for order, point in zip(ORDINALS_EN, points, strict=True))
    answer = f"In short, {opening} It comes down to three things.\n\n{body}"
    return reasoning, answer


def difficulty_for(text: str) -> dict[str, Any]:
    """A difficulty rating 1-10, derived from the question the prompt ends with."""
    question = text.strip().splitlines()
    asked = next((line for line in question if line.rstrip().endswith(("?", "？"))), text)
    return {
        "difficulty": _digest(asked) % 10 + 1,
        "reason": "Needs a few connected ideas and some care to answer well.",
    }


def winner_for(texts: list[str]) -> dict[str, Any]:
    """A pairwise verdict: A, B or tie, derived from the prompt."""
    winner = ("A", "B", "tie")[_digest("\n".join(texts)) % 3]
    return {"winner": winner, "reason": "More complete and better organised."}


def score_for(texts: list[str]) -> dict[str, Any]:
    """A judge verdict: a 0–5 score in half steps, derived from the prompt."""
    digest = _digest("\n".join(texts))
    return {
        "score": (digest % 11) / 2,
        "reason": "Accurate and mostly complete; could be more specific.",
    }


def refine_for(text: str) -> tuple[str, str]:
    """(reasoning, answer) for a refine prompt: the answer quotes the advice it followed,
    so a test sees that the advice reached the model and the rewrite came back."""
    heading = _ADVICE_HEADING.search(text)
    advice = text[heading.end() :].strip().split("\n\n")[0].strip() if heading else ""
    digest = _digest(text) % 1000
    if is_chinese(text):
        return (
            f"审阅者的意见是：{advice}\n我按照意见重新组织回答。",
            f"修订后的回答（{digest}）：已按照“{advice}”修改。核心在于理解基本原理并循序渐进地练习。",
        )
    return (
        f"The reviewer asks: {advice}\nI rework the answer to follow it.",
        f'Revised answer ({digest}), following the advice "{advice}": the core idea comes '
        "first, then the factors that change the outcome, then advice a learner can act on.",
    )


_WORD = re.compile(r"\w{4,}")
_LEAF_LINE = re.compile(r"^- (.+)$", re.MULTILINE)
_NUMBERED_LINE = re.compile(r"^(\d+)\. (.+)$", re.MULTILINE)
# What the fake names when no leaf shares a word with the question: a path the tree lacks,
# as a real model sometimes invents one.
INVENTED_LEAF = "Miscellaneous"


def placements_for(text: str) -> dict[str, Any]:
    """A placement reply: each numbered question on the listed leaf whose path shares the
    most words with it (the first on a tie), or on INVENTED_LEAF when none shares any."""
    # The leaves are the listed block just before the numbered questions (the rules above
    # them are listed too).
    blocks = text.split("\n\n")
    asked = next((n for n, block in enumerate(blocks) if _NUMBERED_LINE.search(block)), 0)
    leaves = _LEAF_LINE.findall(blocks[asked - 1]) if asked else []
    placements = []
    for number, question in _NUMBERED_LINE.findall(text):
        words = set(_WORD.findall(question.casefold()))
        best, shared = INVENTED_LEAF, 0
        for leaf in leaves:
            overlap = len(words & set(_WORD.findall(leaf.casefold())))
            if overlap > shared:
                best, shared = leaf, overlap
        placements.append({"question": int(number), "leaf": best})
    return {"placements": placements}
