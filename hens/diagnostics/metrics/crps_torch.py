"""Fair and empirical-CDF CRPS on torch tensors, on the CPU or a CUDA GPU (``diagnose.device``).

The same sorted-member formula as :mod:`hens.diagnostics.metrics.crps` (the NumPy reference, whose docstring
derives it), evaluated with torch in float64 on ``device``: NumPy in, NumPy out, so Dask blocks call it like the
NumPy function.  On the CPU it equals the reference to rounding (≈ 1e-15 relative; the sums run in another
order); on a GPU the float64 sort and sums give the same to ≈ 1e-12 relative.
"""

from __future__ import annotations

import numpy as np
import torch

from hens.diagnostics.metrics.members import expand_obs, member_count

__all__ = ["crps_pair_torch", "crps_torch"]


def crps_torch(
    forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0, fair: bool = True, device: str = "cpu"
) -> np.ndarray:
    r"""Fair (``fair=True``, Ferro 2014) or ecdf CRPS of members along ``member_axis`` against ``obs``, on torch.

    .. math::
        \mathrm{CRPS} = \frac{1}{M}\sum_i |x_i - y| - \frac{1}{M\,D}\sum_{k=1}^M (2k - M - 1)\, (x - y)_{(k)},
        \qquad D = M - 1 \text{ (fair) or } M \text{ (ecdf)}

    Args:
        forecast: members along ``member_axis`` (any float dtype); M ≥ 2 for the fair score.
        obs: observation, the forecast's shape without the member axis.
        member_axis: axis of the members.
        fair: the fair score (else the ecdf one).
        device: torch device the work runs on, ``cpu`` or ``cuda`` (see
            :func:`hens.diagnostics.metrics.device.kernel_device`).

    Returns:
        float64 NumPy array with the shape of ``obs``, units of the data (NaN where a member or ``obs`` is NaN).
    """
    forecast = np.asarray(forecast)
    m = member_count(forecast, member_axis)
    if fair and m < 2:
        raise ValueError("fair CRPS needs at least 2 members")
    skill, spread = _skill_and_spread(forecast, obs, member_axis, device)
    out = skill / m - spread / (m * ((m - 1.0) if fair else float(m)))
    return out.cpu().numpy()


def crps_pair_torch(
    forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """``(fair CRPS, ecdf CRPS)`` of the same members from one sort (see :func:`crps_torch`); M ≥ 2.

    The ensemble-size statistics score every sub-ensemble with both, so sharing the sort halves their cost.
    """
    forecast = np.asarray(forecast)
    m = member_count(forecast, member_axis)
    if m < 2:
        raise ValueError("fair CRPS needs at least 2 members")
    skill, spread = _skill_and_spread(forecast, obs, member_axis, device)
    fair = skill / m - spread / (m * (m - 1.0))
    ecdf = skill / m - spread / (m * float(m))
    return fair.cpu().numpy(), ecdf.cpu().numpy()


def _skill_and_spread(
    forecast: np.ndarray, obs: np.ndarray, member_axis: int, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``Σ_i |x_i − y|`` and ``½ Σ_i Σ_j |x_i − x_j|`` as float64 tensors on ``device`` (shape of ``obs``)."""
    m = forecast.shape[member_axis]
    ax = member_axis % forecast.ndim
    x = torch.as_tensor(np.ascontiguousarray(forecast)).to(device=device, dtype=torch.float64)
    y = torch.as_tensor(np.ascontiguousarray(expand_obs(obs, ax, forecast.ndim))).to(device=device, dtype=torch.float64)
    d = torch.sort(torch.movedim(x - y, ax, -1), dim=-1).values  # shift-invariant spread term, see crps.py
    coef = 2.0 * torch.arange(1, m + 1, dtype=torch.float64, device=device) - m - 1.0
    return d.abs().sum(dim=-1), (d * coef).sum(dim=-1)
