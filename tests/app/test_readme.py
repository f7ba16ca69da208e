"""The README's settings table documents exactly the settings that app/config.py reads."""

import re
from pathlib import Path

from app.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_settings_table_lists_every_setting_and_no_other():
    rows = re.findall(r"^\| `(IDC_[A-Z0-9_]+)` \|", README.read_text(), flags=re.MULTILINE)
    documented = set(rows)
    actual = {f"IDC_{name.upper()}" for name in Settings.model_fields}
    assert len(rows) == len(documented), "a setting is listed twice"
    assert documented == actual, {
        "undocumented": sorted(actual - documented),
        "not settings": sorted(documented - actual),
    }
