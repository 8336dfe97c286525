"""法释〔2017〕10号 assessment: how serious a personal-information case is, with the sums shown.

Pure rules, no I/O: the CLI (``parcelguard legal assess``) and the leak report read and write
files and call ``assess`` here, so both give the same answer for the same case.
"""

from __future__ import annotations

from parcelguard.legal.assess import (
    Arithmetic,
    Assessment,
    Line,
    Note,
    Reason,
    Severity,
    assess,
)
from parcelguard.legal.case import CATEGORY_ZH, Category, Count, LegalCase
from parcelguard.legal.clauses import CLAUSES, Clause
from parcelguard.legal.waybill import DEFAULT_WAYBILL_CATEGORY, DEFAULT_WAYBILL_CATEGORY_REASON

__all__ = [
    "CATEGORY_ZH",
    "CLAUSES",
    "DEFAULT_WAYBILL_CATEGORY",
    "DEFAULT_WAYBILL_CATEGORY_REASON",
    "Arithmetic",
    "Assessment",
    "Category",
    "Clause",
    "Count",
    "LegalCase",
    "Line",
    "Note",
    "Reason",
    "Severity",
    "assess",
]
