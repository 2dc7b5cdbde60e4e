"""The skill file: written and read back, pooled or per checkpoint, and one-line errors for what it lacks."""

from __future__ import annotations

import pytest

from hens.errors import HensError
from hens.io.skill_file import read_skill_file, rmse_at_lead, write_skill_file

CONTENT = {
    "pooled": True,
    "channels": ["z500", "t2m"],
    "lead_hours": [0.0, 24.0, 48.0],
    "rmse": {
        "pooled": {"z500": [0.0, 100.0, 200.0], "t2m": [0.0, 0.5, 1.0]},
        "checkpoints": {"a": {"z500": [0.0, 90.0, 180.0], "t2m": [0.0, 0.4, 0.8]}},
    },
}


def test_pooled_and_per_checkpoint_tables(tmp_path):
    path = write_skill_file(tmp_path / "s.json", CONTENT)
    content = read_skill_file(path)
    assert rmse_at_lead(content, "a") == {"z500": 200.0, "t2m": 1.0}
    assert rmse_at_lead(content, "anything") == {"z500": 200.0, "t2m": 1.0}
    own = {**content, "pooled": False}
    assert rmse_at_lead(own, "a") == {"z500": 180.0, "t2m": 0.8}
    with pytest.raises(HensError, match="no RMSE of checkpoint b"):
        rmse_at_lead(own, "b")
    with pytest.raises(HensError, match="skill.n_steps"):
        rmse_at_lead({**content, "lead_hours": [0.0, 6.0, 12.0]}, "a")


def test_missing_or_foreign_files_are_one_line_errors(tmp_path):
    with pytest.raises(HensError, match="does not exist"):
        read_skill_file(tmp_path / "none.json")
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(HensError, match="not a hens skill file"):
        read_skill_file(tmp_path / "x.json")
