"""The ensemble-size report: the calibrated kσ reference against simulation, and the table laid out from a dataset."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hens.diagnostics.aggregate.subsample import SubsampleOptions, subsample_block_statistics
from hens.diagnostics.aggregate.subsample_scores import SubsampleSettings, subsample_dataset
from hens.diagnostics.metrics.subsample import member_subsets, sigma_exceedance
from hens.diagnostics.report.ensemble_size import calibrated_beyond, ensemble_size_table


@pytest.mark.parametrize(("m", "k"), [(5, 2.0), (8, 3.0)])
def test_calibrated_beyond_matches_a_simulated_calibrated_ensemble(m, k):
    rng = np.random.default_rng(m)
    n = 400_000
    x, y = rng.normal(size=(m, n)), rng.normal(size=n)  # truth exchangeable with the members
    p = calibrated_beyond(k, m)
    hit = sigma_exceedance(x, y, (k,))[0].mean()
    assert abs(hit - p) < 4.0 * np.sqrt(p * (1 - p) / n)
    assert calibrated_beyond(3.0, 10**7) == pytest.approx(2 * stats.norm.sf(3.0), rel=1e-5)


def test_table_has_a_row_per_variable_and_size_and_names_the_sufficient_size():
    rng = np.random.default_rng(2)
    m, sizes = 12, (4, 12)
    opts = SubsampleOptions(m, sizes, member_subsets(m, sizes, 2, 0), (1.0, 3.0))
    lat = np.linspace(60.0, -60.0, 4)
    masks = np.ones((1, 4, 5), bool)
    sums = {
        v: subsample_block_statistics(rng.normal(size=(m, 3, 4, 5)), 2 * rng.normal(size=(3, 4, 5)), lat, masks, opts)
        for v in ("a", "b")
    }
    ds = subsample_dataset(
        sums,
        lead_time=np.arange(3) * np.timedelta64(6, "h"),
        regions=["global"],
        options=opts,
        settings=SubsampleSettings(0, 0.05, "ecdf"),
    )
    intro, head, rows = ensemble_size_table(ds)
    assert len(rows) == 4 and all(len(r) == len(head) for r in rows)
    assert [r[:2] for r in rows] == [["a", "4"], ["a", "12"], ["b", "4"], ["b", "12"]]
    want = f"a: {float(ds['sufficient_size'].sel(variable='a', region='global')):g}"
    assert want in intro and "2 draws" in intro
    # pooled members-beyond at 1σ (leads > 0, both draws) from the raw sums
    idx = slice(1, None)
    pooled = sums["a"]["beyond"][idx, 0, 0, :, 0].sum() / sums["a"]["sigma_count"][idx, 0, 0, :, 0].sum()
    assert rows[0][head.index("members beyond truth at > 1σ")] == f"{pooled:.3g}"
