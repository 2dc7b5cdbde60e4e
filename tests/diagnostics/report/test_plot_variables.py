"""diagnose.plot_variables: which scored variables the figures draw."""

from __future__ import annotations

from hens.diagnostics.report.plots import plotted_variables


def test_plotted_variables_follow_the_list_among_the_scored_ones():
    scored = ["t850", "u500", "z500", "z850"]
    assert plotted_variables(scored, ["z500", "t850", "v500"]) == ["z500", "t850"]  # list order, unscored dropped
    assert plotted_variables(scored, None) == scored  # null: every scored variable
    assert plotted_variables(scored, ["t2m"]) == scored  # none of them scored: every scored variable
