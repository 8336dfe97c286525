"""The one door to personal data (the reveal service).

Only this package may import ``parcelguard.vault._decrypt`` (import-linter contract "One
door"). It ships the default policy files that ``parcelguard init`` installs; the service
itself (Cedar decisions, risk guard, virtual numbers, audit) is built in its own issue.
"""
