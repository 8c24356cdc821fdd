"""What every generation step shares: the prompt context, targets checked before
a request is sent, top-up rounds and duplicate filtering."""
