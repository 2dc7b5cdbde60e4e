"""Zarr store layout, chunk-aligned region writes, manifest / resume, CF metadata."""
