"""A helper package beside the corpus scripts (used by sibling_helpers.py)."""
