"""Spoken numbers as digits (callscope.insights.numbers): what the summary's grounding check
and the steps' deadlines compare and print."""

from __future__ import annotations

import pytest

from callscope.insights.numbers import normalise_deadline, spoken_numbers


@pytest.mark.parametrize(
    ("said", "read"),
    [
        ("within forty eight hours", "within 48 hours"),
        ("seventy five pounds", "75 pounds"),
        ("eighty-two", "82"),
        ("twenty minutes", "20 minutes"),
        # a compound ordinal is a date ("20-second" before)
        ("on the twenty-second", "on the 22nd"),
        ("the thirty first of May", "the 31st of May"),
        ("the twenty-third", "the 23rd"),
        # a single-word ordinal stays a word; a duration stays a duration
        ("first thing in the morning", "first thing in the morning"),
        ("a twenty second wait", "a twenty second wait"),
        ("no numbers here", "no numbers here"),
    ],
)
def test_spoken_numbers_are_read_as_digits(said: str, read: str) -> None:
    assert spoken_numbers(said) == read


def test_a_deadline_on_a_spoken_date() -> None:
    assert normalise_deadline("by the twenty-second.") == "by the 22nd"
    assert normalise_deadline("right after we hang up") == "after the call"
