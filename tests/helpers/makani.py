"""A small makani SFNO config (16×32 grid, 3 channels, every extra input on), shared by the makani tests and the
real-input end-to-end tests.  Its option names and defaults were read from NVIDIA makani's source (see
tests/models/test_makani_sfno.py)."""

from __future__ import annotations

import numpy as np

H, W = 16, 32
CHANNELS = ["u10m", "t2m", "z500"]
MEANS = np.array([1.0, 280.0, 5.5e4], dtype=np.float32)
STDS = np.array([5.0, 20.0, 3e3], dtype=np.float32)
TIMES = np.array(["2024-03-20T12:00", "2024-06-21T06:00", "2023-12-01T18:00"], dtype="datetime64[ns]")

# A makani config.json as makani's training writes it (HENS options, tiny sizes). Network inputs:
# 3 state + 1 zenith + 4 grid (sin of lat, lon at 2 frequencies; pre-0.2 packages have no cos) + 1 orography
# + 2 one-hot land mask = 11 = N_in_channels.
CONFIG = {
    "nettype": "SFNO",
    "channel_names": CHANNELS,
    "in_channels": [0, 1, 2],
    "out_channels": [0, 1, 2],
    "N_in_channels": 11,
    "N_out_channels": 3,
    "img_shape_x": H,
    "img_shape_y": W,
    "dt": 1,
    "dhours": 6,
    "n_history": 0,
    "normalization": "zscore",
    "spectral_transform": "sht",
    "model_grid_type": "equiangular",
    "sht_grid_type": "legendre-gauss",
    "filter_type": "linear",
    "operator_type": "dhconv",
    "scale_factor": 2,
    "embed_dim": 8,
    "num_layers": 2,
    "mlp_ratio": 2,
    "encoder_layers": 1,
    "normalization_layer": "instance_norm",
    "activation_function": "gelu",
    "big_skip": True,
    "pos_embed": "none",
    "hard_thresholding_fraction": 1.0,
    "use_mlp": True,
    "add_grid": True,
    "gridtype": "sinusoidal",
    "grid_num_frequencies": 2,
    "add_zenith": True,
    "add_orography": True,
    "add_landmask": True,
}
