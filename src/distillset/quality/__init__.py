"""Dataset quality: AI scoring with a judge model, duplicate reports."""

from distillset.quality.duplicates import DuplicateGroup, find_duplicates, label_duplicates
from distillset.quality.judge import JUDGE_KIND, create_judge_task, run_judge_task
from distillset.quality.verdict import Verdict, clamp_score, parse_verdict

__all__ = [
    "JUDGE_KIND",
    "DuplicateGroup",
    "Verdict",
    "clamp_score",
    "create_judge_task",
    "find_duplicates",
    "label_duplicates",
    "parse_verdict",
    "run_judge_task",
]
