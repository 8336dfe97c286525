"""``parcelguard guard tune`` end to end, on simulated worlds, in process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parcelguard.cli import app
from parcelguard.events import read_folder, write_folder
from parcelguard.reveal.guard.config import DEFAULT_QUOTAS, GuardConfig

runner = CliRunner()
WORLD = ["--days", "3", "--employees", "400", "--waybills-per-day", "1500", "--scenarios", "all"]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two worlds of different seeds: one to tune on, one to check the proposal on."""
    root = tmp_path_factory.mktemp("worlds")
    for seed in ("5", "6"):
        done = runner.invoke(app, ["simulate", "--out", str(root / seed), *WORLD, "--seed", seed])
        assert done.exit_code == 0, done.stderr
    return root / "5", root / "6"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARCELGUARD_HOME", str(tmp_path / "home"))
    return tmp_path


def tune(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["guard", "tune", *args])
    return result.exit_code, result.stdout, result.stderr


def last_json(stdout: str) -> dict[str, object]:
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_proposal_in_json_with_its_basis_and_an_out_of_sample_check(
    worlds: tuple[Path, Path], home: Path
) -> None:
    tuned, other = worlds
    code, out, err = tune("--events", str(tuned), "--check", str(other), "--json")
    assert code == 0, err
    found = last_json(out)
    assert found["ok"] is True
    assert found["target_share"] == 0.005
    assert found["insiders_excluded"] == 12  # the simulator's labelled insiders
    groups = {g["group"]: g for g in found["groups"]}  # type: ignore[union-attr]
    courier = groups["courier@station"]
    assert courier["learned"] is True
    assert courier["accounts"] > 100
    assert courier["reveals"] > 2_000
    assert courier["affected_any"] <= 0.005
    assert all(q >= f for q, f in zip(courier["quota"], DEFAULT_QUOTAS["courier"], strict=True))
    assert groups["it_engineer"]["learned"] is False  # a handful of accounts
    checked = found["check"]
    assert isinstance(checked, dict)
    assert checked["events"] == str(other)
    assert checked["legit_reveals"] > 2_000
    assert 0 <= checked["legit_stepped_up_share"] <= checked["unfloored_stepped_up_share"] < 0.05
    assert found["out"] is None
    assert not list(home.glob("**/guard.toml"))  # nothing written without --out


@pytest.mark.parametrize(
    ("lang", "header"), [("en", "quota 10m/1h/1d"), ("zh", "配额 10分/1时/1天")]
)
def test_the_table_speaks_both_languages(
    worlds: tuple[Path, Path], home: Path, lang: str, header: str
) -> None:
    code, out, err = tune("--events", str(worlds[0]), "--lang", lang)
    assert code == 0, err
    assert header in out
    assert "courier@station" in out


def test_out_writes_a_guard_toml_the_guard_loads_and_never_overwrites_silently(
    worlds: tuple[Path, Path], home: Path
) -> None:
    target = home / "guard.toml"
    code, out, err = tune("--events", str(worlds[0]), "--out", str(target), "--json")
    assert code == 0, err
    proposed = last_json(out)["quotas"]
    assert isinstance(proposed, dict)
    assert "courier@station" in proposed
    loaded = GuardConfig.load(target)
    assert {k: list(loaded.quotas[k]) for k in proposed} == proposed

    target.write_text('[guard]\nhard_factor = 3.0\n\n[quotas]\n"courier" = [61, 201, 601]\n')
    before = target.read_bytes()
    code, _, err = tune("--events", str(worlds[0]), "--out", str(target))
    assert code == 2
    assert f"--out {target}: exists; add --force" in err
    assert target.read_bytes() == before

    code, _, err = tune("--events", str(worlds[0]), "--out", str(target), "--force")
    assert code == 0, err
    replaced = GuardConfig.load(target)
    assert replaced.hard_factor == 3.0  # the [guard] table of the replaced file is kept
    assert replaced.quota("courier", "station") == tuple(proposed["courier@station"])
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []  # no temp files left


def _empty_history(world: Path, into: Path) -> Path:
    shutil.copytree(world, into)
    accesses = read_folder(into, ["accesses"])["accesses"]
    write_folder(into, {"accesses": accesses.slice(0, 0)}, "parquet")
    return into


def _without_sites(world: Path, into: Path) -> Path:
    shutil.copytree(world, into)
    (into / "sites.parquet").unlink()
    return into


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda w, t: t / "nowhere", [], "nowhere: not a folder of event tables"),
        (lambda w, t: t.parent, [], "no table employees"),  # a folder, but no world
        (_without_sites, [], "no table sites"),
        (_empty_history, [], "no allowed reveals of unlabelled accounts"),
        (lambda w, t: w, ["--target-share", "0.7"], "--target-share 0.7: give a share"),
        (lambda w, t: w, ["--target-share", "0"], "--target-share 0.0: give a share"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(
    worlds: tuple[Path, Path], home: Path, make, extra: list[str], message: str
) -> None:
    events = make(worlds[0], home / "copy")
    out = home / "guard.toml"
    code, stdout, err = tune("--events", str(events), "--out", str(out), *extra, "--json")
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert last_json(stdout)["ok"] is False
    assert not out.exists()
