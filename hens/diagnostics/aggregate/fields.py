"""Lazy per-field products that are not sums of blocks: angular power spectra and per-grid-point maps.

Both are xarray-over-Dask graphs the caller computes together with the block statistics
(:func:`hens.diagnostics.aggregate.graph.statistics_graph`), so all variables share one pass over the store.

* :func:`spectra_lazy` — angular power spectra of members, ensemble mean and truth, per start date.
* :func:`maps_lazy` — EFI maps and the best member's error per grid point at chosen lead times.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from hens.diagnostics.metrics.extremes import best_member_error, efi

__all__ = ["maps_lazy", "spectral_member_subset", "spectra_lazy"]

SPECTRAL_SUBSET_STREAM = 0x5E3C7
"""Mixed with ``diagnose.seed`` so the spectral subset's draw is independent of the rank tie-break's."""


def spectral_member_subset(n_members: int, max_members: int | None, seed: int) -> np.ndarray | None:
    """Positions (sorted, along the member axis) of the members whose spectra are averaged, or None for all.

    None when ``max_members`` is None or ≥ ``n_members``; else ``max_members`` positions drawn without
    replacement by ``numpy.random.default_rng([seed, SPECTRAL_SUBSET_STREAM])`` — the same subset for every
    variable, start date and lead time, and for every run with the same seed and ensemble size.
    """
    if max_members is None or max_members >= n_members:
        return None
    rng = np.random.default_rng([int(seed), SPECTRAL_SUBSET_STREAM])
    return np.sort(rng.choice(n_members, size=int(max_members), replace=False))


def spectra_lazy(
    forecast: xr.DataArray,
    obs: xr.DataArray,
    *,
    grid: str = "equiangular",
    member_subset: np.ndarray | None = None,
    device: str = "cpu",
) -> xr.DataArray:
    """Angular power spectra by total wavenumber, per start date (lazy).

    Kept per start date (the bootstrap unit of the spectra, :mod:`hens.diagnostics.aggregate.spectra_intervals`);
    their mean over dates is the pooled spectrum. ``members`` is the spectrum of each member averaged over members
    (over ``member_subset`` only, when given); ``ensemble_mean`` that of the ensemble mean of all members;
    ``truth`` that of the verification at the same valid times (see
    :func:`hens.diagnostics.metrics.spectra.angular_power_spectrum`, units of the field² · sr).
    With a subset, the result's ``spectra_members`` attribute lists the member labels used.

    Args:
        forecast: ``(init_time, member, lead_time, lat, lon)`` with each field's globe in one chunk (the store's
            chunks; members may be split over chunks — the member average is a Dask reduction).
        obs: ``(init_time, lead_time, lat, lon)``.
        grid: the torch-harmonics grid of the latitudes.
        member_subset: positions along ``member`` (:func:`spectral_member_subset`); None: every member.
        device: where the transforms run, ``cpu`` | ``cuda`` (``diagnose.device``).

    Returns:
        Lazy float64 DataArray ``(spectrum, init_time, lead_time, degree)`` with ``spectrum = [members,
        ensemble_mean, truth]``.
    """
    from hens.diagnostics.metrics.spectra import angular_power_spectrum, default_lmax

    lat = np.asarray(forecast["lat"].values, dtype=np.float64)
    n_l = default_lmax(forecast.sizes["lat"], forecast.sizes["lon"], grid=grid)

    def power(x: xr.DataArray) -> xr.DataArray:
        x = x.chunk({"lat": -1, "lon": -1})
        return xr.apply_ufunc(
            angular_power_spectrum,
            x,
            input_core_dims=[["lat", "lon"]],
            output_core_dims=[["degree"]],
            dask="parallelized",
            output_dtypes=[np.float64],
            dask_gufunc_kwargs={"output_sizes": {"degree": n_l}},
            kwargs={"lat_deg": lat, "grid": grid, "lmax": n_l, "device": device},
        ).astype(np.float64)

    chosen = forecast if member_subset is None else forecast.isel(member=np.asarray(member_subset))
    members = power(chosen).mean("member")
    ens_mean = power(forecast.mean("member", dtype=np.float64))  # float64 sums without a float64 copy of chunks
    truth = power(obs.astype(np.float64))
    out = xr.concat([members, ens_mean, truth], dim="spectrum", coords="minimal", compat="override")
    out = out.assign_coords(spectrum=["members", "ensemble_mean", "truth"], degree=np.arange(n_l))
    out = out.transpose("spectrum", "init_time", "lead_time", "degree")
    if member_subset is not None:
        out.attrs["spectra_members"] = [int(m) for m in chosen["member"].values]
    return out


def maps_lazy(
    forecast: xr.DataArray,
    obs: xr.DataArray,
    *,
    map_lead_index: Sequence[int],
    mclimate: xr.DataArray | None = None,
    mclimate_month_index: np.ndarray | None = None,
) -> xr.Dataset:
    """Per-grid-point maps at a few lead times (lazy): EFI and the best member's absolute error.

    Args:
        forecast: ``(init_time, member, lead_time, lat, lon)``.
        obs: ``(init_time, lead_time, lat, lon)``.
        map_lead_index: positions along ``lead_time`` to map.
        mclimate: model-climate quantiles ``(quantile, month, lat, lon)`` with coordinate ``quantile`` (levels in
            [0, 1]), or ``None`` to skip the EFI.
        mclimate_month_index: ``(init_time, lead_time)`` positions of each valid time in ``mclimate``'s month axis.

    Returns:
        Lazy dataset with ``efi(init_time, lead_time, lat, lon)`` (dimensionless, −1 … 1; if ``mclimate`` is
        given) and ``best_member_error(lead_time, lat, lon)`` (mean over start dates, units of the data).
    """
    idx = list(map_lead_index)
    fc = forecast.isel(lead_time=idx).chunk({"member": -1})
    ob = obs.isel(lead_time=idx)
    ob = ob.chunk(dict(zip(ob.dims, [fc.variable.chunksizes[d] for d in ob.dims], strict=True)))
    best = xr.apply_ufunc(
        best_member_error,
        fc,
        ob,
        input_core_dims=[["member"], []],
        dask="parallelized",
        output_dtypes=[np.float64],
        kwargs={"member_axis": -1},
    ).mean("init_time")
    out = xr.Dataset({"best_member_error": best})
    if mclimate is not None:
        if mclimate_month_index is None:
            raise ValueError("mclimate needs mclimate_month_index")
        sel = xr.DataArray(
            np.asarray(mclimate_month_index)[:, idx],
            dims=("init_time", "lead_time"),
            coords={"init_time": fc["init_time"], "lead_time": fc["lead_time"]},
        )
        # lazy (one month and one field tile per chunk), so the quantiles of every (start date, lead) are never
        # materialised at once
        mclim = mclimate.chunk(
            {"quantile": -1, "month": 1, "lat": fc.variable.chunksizes["lat"], "lon": fc.variable.chunksizes["lon"]}
        )
        q = mclim.isel(month=sel).transpose("init_time", "lead_time", "lat", "lon", "quantile")
        q = q.chunk({d: fc.variable.chunksizes[d] for d in ("init_time", "lead_time", "lat", "lon")} | {"quantile": -1})
        levels = np.asarray(mclimate["quantile"].values, dtype=np.float64)
        out["efi"] = xr.apply_ufunc(
            efi,
            q,
            fc,
            input_core_dims=[["quantile"], ["member"]],
            dask="parallelized",
            output_dtypes=[np.float64],
            kwargs={"member_axis": -1, "quantile_axis": -1, "quantile_levels": levels},
        )
    return out
