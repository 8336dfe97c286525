"""Errors that a user can act on.

Every error names the input and the problem, and never carries a plaintext personal value:
messages are built from field names, line numbers and problem codes only, so that an error
can be logged, printed or sent to a ticket system without leaking what it is about.
"""

from __future__ import annotations

from dataclasses import dataclass


class ParcelGuardError(Exception):
    """Base of every error ParcelGuard raises on purpose (exit code 1 in the CLI)."""

    exit_code = 1
    code = "failure"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def detail_code(self) -> str:
        """The most specific code for this error (the first problem's, for a bad batch)."""
        return self.code

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


class BadInput(ParcelGuardError):
    """The user gave us something we cannot accept (exit code 2 in the CLI)."""

    exit_code = 2
    code = "bad_input"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in one place of an input: ``where`` is ``file:line`` or a field name."""

    where: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class BadRecords(BadInput):
    """An input batch with one or more bad records; nothing of the batch was written."""

    code = "bad_records"

    def __init__(self, problems: list[Problem], *, total: int | None = None) -> None:
        if not problems:
            raise ValueError("BadRecords needs at least one problem")
        self.problems = problems
        self.total = total if total is not None else len(problems)
        first = str(problems[0])
        more = self.total - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        super().__init__(first + suffix + "; nothing was written")

    @property
    def detail_code(self) -> str:
        return self.problems[0].code

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "problems": [
                {"where": p.where, "code": p.code, "message": p.message} for p in self.problems
            ],
            "problem_count": self.total,
        }


class StoreUnavailable(ParcelGuardError):
    """The database cannot be reached or used (exit code 1)."""

    code = "store_unavailable"


class KeyError_(ParcelGuardError):
    """A key is missing, unreadable, exposed or does not match the store."""

    code = "key_problem"
