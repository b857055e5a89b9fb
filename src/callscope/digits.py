"""Digit checks for fields that must be numbers.

``str.isdigit()`` also takes superscripts and other scripts' digits ("²", "٣"), and
``int()`` refuses some of them ("²"): a check that passes them lets a request or a stream
message crash the code that reads the number. Ids, counts and sequence numbers arrive as
ASCII digits or not at all.
"""

from __future__ import annotations

__all__ = ["is_digits"]


def is_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits (``0``-``9``) and nothing else."""
    return text.isascii() and text.isdigit()
