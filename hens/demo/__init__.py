"""The demo world: a chaotic two-layer baroclinic truth on the sphere, its analyses, and small SFNO checkpoints
trained on it."""
