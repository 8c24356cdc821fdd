"""Training a student on the project's records: SFT and knowledge distillation (KD) on the
captured soft labels (docs/training.md).

Needs the `train` extra (torch, transformers, trl, peft, datasets, accelerate); this surface
imports none of them: a training run loads them when it starts.
"""

from distillset.train.options import METHODS, REASONING_MODES, TAILS, TrainOptions
from distillset.train.task import TRAIN_KIND, check_training, create_train_task

__all__ = [
    "METHODS",
    "REASONING_MODES",
    "TAILS",
    "TRAIN_KIND",
    "TrainOptions",
    "check_training",
    "create_train_task",
]
