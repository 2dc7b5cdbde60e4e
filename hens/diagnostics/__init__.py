"""`hens diagnose`: ensemble diagnostics, by concern.

* :mod:`hens.diagnostics.metrics` — pure NumPy array functions (CRPS, rank histogram, spread, probability and
  extreme-event scores, spectra) and the registry of mean-type scores as statistics + finish functions.
* :mod:`hens.diagnostics.weights` — cos(latitude) weights, region masks, area-weighted means.
* :mod:`hens.diagnostics.aggregate` — per-block statistics, the Dask graph that sums them, lazy spectra and
  maps, and the finish step that turns the sums into the scores dataset.
* :mod:`hens.diagnostics.verification` — the inputs: the ensemble store, the verification and the climatology.
* :mod:`hens.diagnostics.report` — PNG plots, the comparison with a baseline store, verdicts and the
  Markdown/HTML report.
* :mod:`hens.diagnostics.run` — the pipeline of ``hens diagnose``; :mod:`hens.diagnostics.cluster` — the Dask
  scheduler it computes with; its validated config is :class:`hens.config.DiagnoseSpec`.

Layers point down: run → report, aggregate, verification → metrics → weights.
"""
