"""The distillation steps and the streaming scheduler of automatic distillation."""
