"""The skill file of `hens skill`: deterministic RMSE per channel and lead time (JSON), and what
``ensemble.bred_vector.amplitude_file`` reads from it — each channel's 48-h RMSE for a checkpoint.

Layout (``format: hens-skill/1``)::

    {"format": "hens-skill/1", "pooled": true, "channels": [...], "lead_hours": [0, 6, ..., 48],
     "start_dates": [...], "truth": {...}, "config": "<resolved YAML>",
     "rmse": {"pooled": {"<channel>": [per lead]},                 # √ of the MSE averaged over checkpoints and dates
              "checkpoints": {"<name>": {"<channel>": [per lead]}}}}  # √ of the MSE averaged over dates

With ``pooled: true`` every checkpoint takes the pooled table; with ``false`` each takes its own.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hens.errors import HensError

__all__ = ["SKILL_FORMAT", "read_skill_file", "rmse_at_lead", "write_skill_file"]

SKILL_FORMAT = "hens-skill/1"
AMPLITUDE_LEAD_HOURS = 48.0


def write_skill_file(path: str | Path, content: Mapping[str, Any]) -> Path:
    """Write ``content`` (the layout of the module docstring, ``format`` added) atomically as JSON."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"format": SKILL_FORMAT, **content}, indent=1))
    os.replace(tmp, p)
    return p


def read_skill_file(path: str | Path, key: str = "ensemble.bred_vector.amplitude_file") -> dict[str, Any]:
    """Read and check a skill file.

    Raises:
        HensError: naming ``key`` when the file is missing, not JSON or not a hens skill file.
    """
    p = Path(path)
    if not p.is_file():
        raise HensError(f"{key}={path} does not exist; write it with `hens skill` or set {key}=null")
    try:
        content = json.loads(p.read_text())
    except (OSError, ValueError) as err:
        raise HensError(f"{key}={path} is not a JSON file ({err}); write it with `hens skill`") from err
    if not isinstance(content, dict) or content.get("format") != SKILL_FORMAT:
        raise HensError(f"{key}={path} is not a hens skill file (format {SKILL_FORMAT}); write it with `hens skill`")
    return content


def rmse_at_lead(
    content: Mapping[str, Any],
    checkpoint: str,
    *,
    lead_hours: float = AMPLITUDE_LEAD_HOURS,
    key: str = "amplitude_file",
) -> dict[str, float]:
    """Channel → RMSE at ``lead_hours`` for ``checkpoint``: the pooled table when the file is pooled, else its own.

    Raises:
        HensError: the lead is not in the file (too few steps), or the checkpoint has no table.
    """
    leads = [float(h) for h in content["lead_hours"]]
    hits = [i for i, h in enumerate(leads) if math.isclose(h, lead_hours)]
    if not hits:
        raise HensError(
            f"{key} has lead times up to {leads[-1]:g} h, not {lead_hours:g} h; rerun hens skill with more "
            "skill.n_steps"
        )
    rmse = content["rmse"]
    if content.get("pooled", True):
        table = rmse["pooled"]
    else:
        tables = rmse["checkpoints"]
        if checkpoint not in tables:
            raise HensError(
                f"{key} has no RMSE of checkpoint {checkpoint} (it has {', '.join(tables)}); rerun hens skill with "
                "these checkpoints or skill.pooled=true"
            )
        table = tables[checkpoint]
    return {channel: float(values[hits[0]]) for channel, values in table.items()}
