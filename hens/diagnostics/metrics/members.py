"""The member-axis conventions every metric function shares.

A forecast holds its M members along ``member_axis`` (default 0; under ``xarray.apply_ufunc`` the core dimension
is moved last, so callers pass ``member_axis=-1``); an observation or a per-point threshold has the forecast's
shape without that axis, or is a scalar.
"""

from __future__ import annotations

import numpy as np

__all__ = ["expand_obs", "member_count"]


def member_count(forecast: np.ndarray, member_axis: int) -> int:
    """The ensemble size M: the length of ``forecast`` along ``member_axis``.

    Raises:
        ValueError: if ``forecast`` is a scalar (it has no member axis).
    """
    if forecast.ndim == 0:
        raise ValueError("forecast must have a member axis")
    return forecast.shape[member_axis]


def expand_obs(obs: np.ndarray | float, member_axis: int, ndim: int) -> np.ndarray:
    """``obs`` with a length-1 axis where the member axis sits in an ``ndim``-dimensional forecast.

    The result broadcasts against the forecast (members compared with the observation point by point).

    Args:
        obs: observation or threshold, the forecast's shape without the member axis (``ndim − 1`` axes), or a
            scalar (returned as a 0-d array, which broadcasts as it is).
        member_axis: the forecast's member axis (negative values count from the end).
        ndim: number of axes of the forecast.

    Raises:
        ValueError: if ``obs`` has neither ``ndim − 1`` axes nor none.
    """
    obs = np.asarray(obs)
    if obs.ndim == 0:
        return obs
    if obs.ndim != ndim - 1:
        raise ValueError(
            f"obs/threshold must have the forecast's shape without the member axis (ndim {ndim - 1}), "
            f"got ndim {obs.ndim}"
        )
    return np.expand_dims(obs, member_axis % ndim)
