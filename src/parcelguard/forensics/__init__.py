"""Leak forensics: from a seized or leaked file to the accounts behind it.

The flow is ingest (recognise, normalise, deduplicate into persons) → match (blind index only,
nothing decrypted) → attribute (the audit log and virtual numbers) → report (PDF, JSON and an
evidence bundle that verifies offline). A case lives in one directory; see
:mod:`parcelguard.forensics.case`.
"""
