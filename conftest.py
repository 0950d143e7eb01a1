"""Shared test set-up."""

# Notebooks that the runner's tests execute as fixtures; they are not tutorial pages for nbval.
collect_ignore = ["tests/fixtures"]
