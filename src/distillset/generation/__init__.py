"""What every generation step shares: the prompt context, targets checked before
a request is sent, top-up rounds and duplicate filtering."""

from distillset.generation.context import DistillContext, load_context
from distillset.generation.targets import TargetGone

__all__ = [
    "DistillContext",
    "TargetGone",
    "load_context",
]
