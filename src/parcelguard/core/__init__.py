"""Pure domain values and rules: no I/O, no storage, no framework imports."""
