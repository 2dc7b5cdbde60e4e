"""The demo world: a shallow-water truth on the sphere and small SFNO checkpoints trained on it."""
