"""README's configuration stays true: every setting mnemo has is documented under its environment variable."""

from __future__ import annotations

from pathlib import Path

from mnemo.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_by_its_environment_variable() -> None:
    text = README.read_text()
    undocumented = [f"MNEMO_{name.upper()}" for name in Settings.model_fields if f"MNEMO_{name.upper()}" not in text]
    assert not undocumented, f"README's configuration does not mention: {', '.join(undocumented)}"
