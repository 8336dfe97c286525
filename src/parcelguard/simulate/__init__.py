"""Synthetic data: never real people, always reproducible from a seed."""
