"""Automatic distillation: the plan, the streaming scheduler, and the distill task kinds."""
