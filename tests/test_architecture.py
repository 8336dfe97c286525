"""The one-door rule is enforced by a tool, and the tool really does catch a breach."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def run_lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_contract_holds_on_the_code_as_it_is(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "parcelguard", src / "parcelguard")
    result = run_lint_imports(src)
    assert result.returncode == 0, result.stdout


def test_a_module_outside_reveal_that_imports_decrypt_breaks_the_build(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "parcelguard", src / "parcelguard")
    (src / "parcelguard" / "cli" / "sneaky.py").write_text(
        "from parcelguard.vault import _decrypt\n", encoding="utf-8"
    )
    result = run_lint_imports(src)
    assert result.returncode != 0
    assert "One door" in result.stdout
    assert "parcelguard.cli.sneaky" in result.stdout
