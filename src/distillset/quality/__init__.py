"""Dataset quality: AI scoring with a judge model."""

from distillset.quality.judge import create_judge_task, run_judge_task
from distillset.quality.verdict import Verdict, clamp_score, parse_verdict

__all__ = ["Verdict", "clamp_score", "create_judge_task", "parse_verdict", "run_judge_task"]
