"""Inputs of `hens diagnose`: the ensemble store, its verification, and the climatology of the extremes."""
