"""Aggregation: per-block statistics, the Dask graph that sums them, and the finish step to the scores dataset."""
