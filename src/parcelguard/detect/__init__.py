"""Detectors over the audit log and the workflow: what one account's own counts cannot show."""
