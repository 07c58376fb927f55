"""A helper module beside the corpus scripts (used by sibling_helpers.py)."""

SCALE = 2.0


def clip(data, limit):
    data.clip(-limit, limit, out=data)
