"""hens: huge ensembles of SFNO weather hindcasts — generate with bred vectors and many checkpoints, then diagnose."""

__version__ = "0.1.0"
