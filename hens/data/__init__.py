"""Initial conditions and verification: the demo world and (later) ERA5-layout Zarr readers."""
