"""What the fake model says: list items, reasoned answers and judge scores.

Replies are derived from the prompt alone (the tag path, the requested count, the
question), so they are plausible, distinct and repeatable.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

_COUNT = re.compile(r"(?:exactly|恰好)\s*(\d+)", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")
_QUESTION_WORDS = re.compile(r"question|问题", re.IGNORECASE)
_LABEL_PREFIX = re.compile(r"^[^:：>]{0,40}[:：]\s*")

DEFAULT_COUNT = 5

ASPECTS_EN = (
    "Fundamentals", "History and Evolution", "Core Techniques", "Equipment and Tools",
    "Training Methods", "Rules and Standards", "Safety and Risk Management", "Psychology",
    "Nutrition and Recovery", "Competition Strategy", "Coaching Practice",
    "Performance Analysis", "Research Methods", "Biomechanics", "Ethics", "Career Paths",
    "Common Mistakes", "Case Studies", "Future Trends", "Measurement and Assessment",
    "Teamwork and Communication", "Injury Prevention", "Beginner Progressions",
    "Advanced Practice", "Regional Variations", "Economics", "Technology Use",
    "Policy and Governance", "Teaching Approaches", "Environmental Factors", "Key Terminology",
)  # fmt: skip
ASPECTS_ZH = (
    "基础知识", "历史与演变", "核心技术", "器材与工具", "训练方法", "规则与标准", "安全与风险管理",
    "心理因素", "营养与恢复", "竞赛策略", "教练实践", "表现分析", "研究方法", "生物力学",
    "伦理问题", "职业发展", "常见错误", "案例分析", "未来趋势", "测量与评估", "团队协作",
    "损伤预防", "入门进阶", "高级实践", "地区差异", "经济因素", "技术应用", "政策与管理",
    "教学方法", "环境因素", "关键术语",
)  # fmt: skip
QUESTIONS_EN = (
    "What role do {a} play in {leaf}?",
    "How do {a} influence results in {leaf}?",
    "Why are {a} important when studying {leaf}?",
    "What are common misconceptions about {a} in {leaf}?",
    "How should a beginner approach {a} in {leaf}?",
    "How have {a} in {leaf} changed over time?",
    "What evidence supports current views on {a} in {leaf}?",
    "How would you explain {a} in {leaf} to a new student?",
)
QUESTIONS_ZH = (
    "{leaf}中的{a}起什么作用？",
    "{a}如何影响{leaf}的结果？",
    "为什么学习{leaf}时{a}很重要？",
    "关于{leaf}中的{a}有哪些常见误解？",
    "初学者应如何了解{leaf}中的{a}？",
    "{leaf}中的{a}随时间发生了哪些变化？",
    "有哪些证据支持目前对{leaf}中{a}的看法？",
    "如何向新学生解释{leaf}中的{a}？",
)


def message_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if isinstance(m.get("content"), str)]


def user_text(messages: list[dict[str, Any]]) -> str:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    texts = [text for text in users if isinstance(text, str)]
    return texts[-1] if texts else ""


def request_kind(messages: list[dict[str, Any]]) -> str:
    """`list`, `score` or `answer`, by the prompt contract."""
    if "JSON array" in user_text(messages):
        return "list"
    if any('"score"' in text for text in message_texts(messages)):
        return "score"
    return "answer"


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


def _candidates(leaf: str, questions: bool, chinese: bool) -> list[str]:
    aspects = ASPECTS_ZH if chinese else ASPECTS_EN
    if not questions:
        if chinese:
            return [f"{leaf}的{a}" for a in aspects]
        return [f"{a} of {leaf}" for a in aspects]
    templates = QUESTIONS_ZH if chinese else QUESTIONS_EN
    items = []
    for shift in range(len(aspects)):
        for index, template in enumerate(templates):
            aspect = aspects[(shift + index) % len(aspects)]
            items.append(template.format(a=aspect if chinese else aspect.lower(), leaf=leaf))
    return items


def list_items(text: str, count: int | None = None) -> list[str]:
    """`count` distinct items for a list prompt, skipping any the prompt already names."""
    wanted = requested_count(text) if count is None else count
    leaf = tag_path(text)[-1]
    questions = bool(_QUESTION_WORDS.search(text))
    chinese = is_chinese(text)
    lowered = text.casefold()
    fresh = [item for item in _candidates(leaf, questions, chinese)]
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


def answer_for(text: str) -> tuple[str, str]:
    """(reasoning, answer) for a question prompt."""
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
        f"The user asks: {question}\nFirst I identify the core concept, then the main "
        "factors involved, and finally practical advice a learner can apply."
    )
    answer = (
        f"In short, {question[:1].lower() + question[1:]} comes down to three points. "
        "First, understand the underlying principles. Second, consider the context and "
        "the main factors that change the outcome. Third, practise deliberately and "
        f"measure progress. (ref {_digest(question) % 1000})"
    )
    return reasoning, answer


def score_for(texts: list[str]) -> dict[str, Any]:
    """A judge verdict: a 0–5 score in half steps, derived from the prompt."""
    digest = _digest("\n".join(texts))
    return {
        "score": (digest % 11) / 2,
        "reason": "Accurate and mostly complete; could be more specific.",
    }
