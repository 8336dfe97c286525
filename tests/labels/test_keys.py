"""The label key: its own 0600 file, created once, refused when exposed or damaged."""

import base64
import stat
from pathlib import Path

import pytest

from parcelguard.config import Settings
from parcelguard.core.errors import KeyError_
from parcelguard.labels.keys import label_key, label_key_path


@pytest.fixture
def home_settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"PARCELGUARD_HOME": str(tmp_path / "home")})


def test_created_once_with_mode_0600_and_read_back(home_settings: Settings) -> None:
    path = label_key_path(home_settings)
    assert path == home_settings.home / "keys" / "label.key"
    key = label_key(home_settings, create=True)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert label_key(home_settings, create=True) == key  # never replaced
    assert label_key(home_settings, create=False) == key


def test_missing_without_create_says_to_run_init(home_settings: Settings) -> None:
    with pytest.raises(KeyError_, match="not found"):
        label_key(home_settings, create=False)
    assert not label_key_path(home_settings).exists()


def test_an_exposed_or_damaged_key_file_is_refused(home_settings: Settings) -> None:
    path = label_key_path(home_settings)
    label_key(home_settings, create=True)
    path.chmod(0o644)
    with pytest.raises(KeyError_, match="lets others read it"):
        label_key(home_settings, create=False)
    path.chmod(0o600)
    path.write_text("not base64!\n", encoding="ascii")
    with pytest.raises(KeyError_, match="not base64"):
        label_key(home_settings, create=True)
    path.write_text(base64.b64encode(bytes(16)).decode() + "\n", encoding="ascii")
    with pytest.raises(KeyError_, match="32 bytes, this one is 16"):
        label_key(home_settings, create=False)
