"""The ``parcelguard`` command: one Typer app, each job a thin shell over the core."""

from __future__ import annotations

from parcelguard.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
