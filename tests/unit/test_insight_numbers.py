"""Spoken numbers as digits (callscope.insights.numbers): what the summary's grounding check
and the steps' deadlines compare and print."""

from __future__ import annotations

import pytest

from callscope.insights.numbers import DEADLINE, normalise_deadline, spoken_numbers


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


@pytest.mark.parametrize(
    ("text", "deadline"),
    [
        ("sign it and send it back before the twentieth, we can hold them", "before the twentieth"),
        ("he'll fit it on the fourteenth at nine", "on the fourteenth"),
        ("get it back to me by the thirty-first.", "by the thirty-first"),
        ("until the third of March", "until the third"),
        # an ordinal that names no day
        ("the lift is on the second floor", None),
        ("we'll reverse the second charge", None),
        ("by the third time it happened", None),
    ],
)
def test_a_day_said_as_a_spoken_ordinal_is_a_deadline(text: str, deadline: str | None) -> None:
    found = DEADLINE.search(text)
    assert (found.group(0) if found else None) == deadline


@pytest.mark.parametrize(
    ("text", "deadline", "written"),
    [
        ("drop the van at our workshop by seven thirty that morning", "by seven thirty", "by 7:30"),
        ("the certificate by half past four", "by half past four", "by half past 4"),
        ("have the cellar unlocked before nine tomorrow", "before nine", "before 9"),
        ("the driver will be there by eleven", "by eleven", "by 11"),
        # a number after "by" that is a size, a count or a span: no time
        ("the nine by twelve metre marquee", None, None),
        ("we'll have it sorted by two weeks from now", None, None),
        ("the order went up by five pallets", None, None),
        # a time word inside another word is no time
        ("the raw files from that afternoon", None, None),
        ("the 15pm slot", "15pm", "15pm"),
        ("on Mondays we're closed", None, None),
    ],
)
def test_a_clock_time_said_in_words_is_a_deadline(
    text: str, deadline: str | None, written: str | None
) -> None:
    found = DEADLINE.search(text)
    assert (found.group(0) if found else None) == deadline
    if found is not None:
        assert normalise_deadline(found.group(0)) == written
