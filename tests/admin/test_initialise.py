import os
import stat
from pathlib import Path

import pytest

from parcelguard.admin import doctor, initialise
from parcelguard.config import Settings
from parcelguard.core.errors import KeyError_
from parcelguard.vault.keys import LocalKeyFile


def file_env(tmp_path: Path, store_url: str) -> dict[str, str]:
    return {"PARCELGUARD_HOME": str(tmp_path / "home"), "PARCELGUARD_DB": store_url}


def test_init_creates_everything_once_and_is_idempotent(tmp_path: Path, store_url: str) -> None:
    settings = Settings.from_env(file_env(tmp_path, store_url))
    first = initialise(settings)
    assert {"kek", "schema", "blind_index_key", "policies"} <= set(first.created)
    second = initialise(settings)
    assert second.created == []
    assert second.kek_id == first.kek_id
    mode = stat.S_IMODE(os.stat(settings.kek_file).st_mode)
    assert mode == 0o600
    assert (settings.policy_dir / "reveal.cedar").exists()


def test_init_keeps_an_operators_edited_policy(tmp_path: Path, store_url: str) -> None:
    settings = Settings.from_env(file_env(tmp_path, store_url))
    initialise(settings)
    edited = settings.policy_dir / "reveal.cedar"
    edited.write_text("// mine\n", encoding="utf-8")
    initialise(settings)
    assert edited.read_text(encoding="utf-8") == "// mine\n"


def test_doctor_reports_a_healthy_installation(tmp_path: Path, store_url: str) -> None:
    settings = Settings.from_env(file_env(tmp_path, store_url))
    initialise(settings)
    report = doctor(settings)
    assert report["problems"] == []
    assert report["backend"] in {"sqlite", "postgresql"}
    assert report["schema_version"] == report["schema_head"]
    assert report["keys"]["kek"] == "ok"  # type: ignore[index]
    assert report["keys"]["index_key"] == "ok"  # type: ignore[index]


def test_doctor_finds_an_uninitialised_store(tmp_path: Path, store_url: str) -> None:
    report = doctor(Settings.from_env(file_env(tmp_path, store_url)))
    assert any("key file" in p for p in report["problems"])  # type: ignore[union-attr]
    assert any("run `parcelguard init`" in p for p in report["problems"])  # type: ignore[union-attr]


def test_doctor_notices_the_wrong_key_file(tmp_path: Path, store_url: str) -> None:
    settings = Settings.from_env(file_env(tmp_path, store_url))
    initialise(settings)
    settings.kek_file.unlink()
    other = Settings.from_env(
        {**file_env(tmp_path, store_url), "PARCELGUARD_KEK_FILE": str(tmp_path / "other.key")}
    )
    from parcelguard.vault.keys import create_key_file

    create_key_file(other.kek_file)
    report = doctor(other)
    assert any("does not unwrap" in p for p in report["problems"])  # type: ignore[union-attr]
    assert any("wrapped by KEK" in p for p in report["problems"])  # type: ignore[union-attr]


def test_init_refuses_to_replace_a_lost_key_file(tmp_path: Path, store_url: str) -> None:
    settings = Settings.from_env(file_env(tmp_path, store_url))
    initialise(settings)
    settings.kek_file.unlink()
    with pytest.raises(KeyError_, match="restore the key file"):
        initialise(settings)
    assert not settings.kek_file.exists()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = Settings.from_env({"PARCELGUARD_HOME": str(tmp_path / "home")})
    initialise(settings)
    settings.kek_file.chmod(0o644)
    with pytest.raises(KeyError_, match="chmod 600"):
        LocalKeyFile(settings.kek_file)


def test_a_corrupt_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "kek.key"
    path.write_text("not base64 at all!\n")
    path.chmod(0o600)
    with pytest.raises(KeyError_, match=r"kek.key: not base64"):
        LocalKeyFile(path)


def test_doctor_names_a_broken_policy_file(tmp_path: Path, store_url: str) -> None:
    settings = Settings.from_env(file_env(tmp_path, store_url))
    initialise(settings)
    (settings.policy_dir / "typo.cedar").write_text("permit (principal", encoding="utf-8")
    problems = doctor(settings)["problems"]
    assert any(p.startswith("reveal policies: policy file typo.cedar") for p in problems)  # type: ignore[union-attr]


def test_the_guard_alerts_through_the_notifier_given_else_the_log(
    tmp_path: Path, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A simulation reports containments itself; a server's go to the log a SIEM tails."""
    from datetime import UTC, datetime

    from parcelguard.admin import open_reveal_service
    from parcelguard.reveal.guard import Containment, LogNotifier, MemoryNotifier

    settings = Settings.from_env(file_env(tmp_path, store_url))
    initialise(settings)
    kept = MemoryNotifier()
    quiet = open_reveal_service(settings, notifier=kept)
    default = open_reveal_service(settings)
    try:
        assert quiet.guard is not None
        assert quiet.guard.notifier is kept
        assert default.guard is not None
        assert isinstance(default.guard.notifier, LogNotifier)
        alert = Containment(
            1, "E1", datetime.now(UTC), ("unexplained_lookups_refused",), "a1", "guard"
        )
        caplog.set_level("WARNING", logger="parcelguard.guard")
        quiet.guard.notifier.notify(alert)
        assert kept.sent == [alert]
        assert not caplog.records
        default.guard.notifier.notify(alert)
        assert "contained E1 (alert a1)" in caplog.text
    finally:
        quiet.engine.dispose()
        default.engine.dispose()
