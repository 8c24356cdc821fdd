"""Training a student on the project's records: SFT and knowledge distillation (KD) on the
captured soft labels. Needs the `train` extra (torch, transformers, trl, peft); nothing here
imports torch until a training run starts."""

__all__: list[str] = []
