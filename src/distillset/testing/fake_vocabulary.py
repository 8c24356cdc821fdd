"""The words the fake model builds its tags, questions and answers from.

Aspects name the areas of a subject (the first level under a topic, or under any plain
label); facets name the parts of an area (every level below an aspect). Questions are
written around a noun phrase for the leaf, so they read well at any depth.
"""

from __future__ import annotations

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
FACETS_EN = (
    "Key Concepts", "Core Principles", "Practical Applications", "Typical Challenges",
    "Assessment Criteria", "Historical Milestones", "Current Debates", "Tools and Resources",
    "Worked Examples", "Best Practices", "Learning Progressions", "Influential Figures",
    "Standards and Guidelines", "Methods and Procedures", "Frequent Misconceptions",
    "Recent Research", "Planning and Preparation", "Evaluation Methods", "Cultural Context",
    "Professional Skills", "Decision Making", "Quality Control", "Special Populations",
    "Open Questions",
)  # fmt: skip
# {n}: the leaf as a noun phrase; {t}: the topic. No verb agrees with {n} (it may be plural).
QUESTIONS_EN = (
    "What are the central ideas behind {n}, and why do they matter?",
    "How would you explain {n} to a newcomer?",
    "What mistakes do learners often make with {n}, and how can they avoid them?",
    "How has thinking about {n} changed over time, and what drove the change?",
    "How can progress in {n} be measured in practice?",
    "Compare two different approaches to {n}: where does each work best?",
    "What evidence supports current practice in {n}?",
    "Describe a realistic situation in which a good grasp of {n} makes a decisive difference.",
    "What should a beginner focus on first when studying {n}?",
    "What links {n} to other areas of {t}?",
    "What risks or trade-offs should practitioners weigh in {n}?",
    "Which tools or resources help most with {n}, and how should they be used?",
)
# {a}: an aspect, for questions beyond the ones above.
ASPECT_QUESTIONS_EN = (
    "What can {a} teach us about {n}?",
    "Why should anyone studying {n} pay attention to {a}?",
    "How can knowledge of {a} improve work on {n}?",
)
ORDINALS_EN = ("First", "Second", "Finally")
ANSWER_POINTS_EN = (
    (
        "start from the underlying ideas and the terms used to describe them.",
        "look at the conditions and the people involved, since they change what works.",
        "apply it deliberately, get feedback and measure progress over time.",
    ),
    (
        "be precise about what is meant before comparing options.",
        "prefer what has been tested and replicated over habit or anecdote.",
        "adapt the general rule to the level and goals of the learner.",
    ),
    (
        "understand the basic mechanisms, which explain most of what happens.",
        "weigh the trade-offs: every approach gains something and gives something up.",
        "check the results regularly and adjust the plan when they stall.",
    ),
)

ASPECTS_ZH = (
    "基础知识", "历史与演变", "核心技术", "器材与工具", "训练方法", "规则与标准", "安全与风险管理",
    "心理因素", "营养与恢复", "竞赛策略", "教练实践", "表现分析", "研究方法", "生物力学",
    "伦理问题", "职业发展", "常见错误", "案例分析", "未来趋势", "测量与评估", "团队协作",
    "损伤预防", "入门进阶", "高级实践", "地区差异", "经济因素", "技术应用", "政策与管理",
    "教学方法", "环境因素", "关键术语",
)  # fmt: skip
FACETS_ZH = (
    "核心概念", "基本原则", "实际应用", "常见挑战", "评价标准", "重要里程碑", "当前争议",
    "工具与资源", "典型实例", "最佳实践", "学习路径", "代表人物", "标准与规范", "方法与流程",
    "常见误区", "最新研究", "计划与准备", "评估方法", "文化背景", "专业技能", "决策要点",
    "质量控制", "特殊人群", "待解问题",
)  # fmt: skip
QUESTIONS_ZH = (
    "{n}的核心思想是什么？为什么重要？",
    "如何向初次接触的人解释{n}？",
    "学习{n}时常见的错误有哪些？如何避免？",
    "人们对{n}的认识是如何随时间变化的？原因是什么？",
    "在实践中如何衡量{n}方面的进步？",
    "比较{n}的两种不同做法：各自在什么情况下最有效？",
    "有哪些证据支持{n}的现有做法？",
    "请描述一个真实情境，说明掌握{n}如何起到决定性作用。",
    "初学者学习{n}时应首先关注什么？",
    "{n}与{t}的其他领域有哪些联系？",
    "在{n}中，实践者需要权衡哪些风险或取舍？",
    "哪些工具或资源对{n}最有帮助？应如何使用？",
)
ASPECT_QUESTIONS_ZH = (
    "{a}能让我们对{n}有哪些认识？",
    "为什么研究{n}的人应当关注{a}？",
    "了解{a}如何帮助改进{n}方面的工作？",
)
