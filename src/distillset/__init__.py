"""distillset: distilled datasets from a teacher model."""
