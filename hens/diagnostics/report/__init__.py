"""Outputs of `hens diagnose` for people: PNG plots, the baseline comparison, verdicts, the Markdown/HTML report."""
