"""Next steps and highlights from recogniser output: the slips a small recogniser makes in a
promise (dropped contractions, sound-alike verbs, a garbled team name, a sentence cut at a
pause) are read as meant, and what reads correctly is left alone."""

from __future__ import annotations

import pytest

from callscope.insights.analyzers import analyze, next_steps
from callscope.insights.misheard import repaired
from tests.helpers.utterances import said


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        # a dropped or misheard contraction before an action verb
        ("Okay, well ship the replacement tomorrow.", "Okay, we'll ship the replacement tomorrow."),
        ("You all get a text when it ships.", "You'll get a text when it ships."),
        ("you all need to restart the box", "you'll need to restart the box"),
        ("the all call you back this afternoon", "they'll call you back this afternoon"),
        ("we all send a courier", "we'll send a courier"),
        ("It all take a week to clear.", "It'll take a week to clear."),
        ("Will send you a new card tomorrow.", "We'll send you a new card tomorrow."),
        ("I'm gonna book the engineer.", "I'm going to book the engineer."),
        ("You gotta unplug it for a minute.", "You have to unplug it for a minute."),
        ("The only email you the quote.", "They'll email you the quote."),
        # a plural role written as a possessive with nothing owned after it
        (
            "I've passed it to our network technician's under case 7730.",
            "I've passed it to our network technicians under case 7730.",
        ),
        ("Our installer's will come on Monday.", "Our installers will come on Monday."),
        # "I <verb>" with a time to come is a promise whose "'ll" was lost
        ("I mail the warranty card on Friday.", "I'll mail the warranty card on Friday."),
        ("Sure, I email you the form tonight.", "Sure, I'll email you the form tonight."),
        # "I'll" heard as "I hold" before an action verb
        ("I hold transfer your records today.", "I'll transfer your records today."),
        # the commas around a condition, left out
        (
            "I'll upload it today and if you sign it by Friday the transfer team will release it.",
            "I'll upload it today, and if you sign it by Friday, the transfer team will release it.",
        ),
        (
            "If it hasn't come by Friday I'll chase it.",
            "If it hasn't come by Friday, I'll chase it.",
        ),
        # sound-alike verbs after a first-person subject
        ("I'm waving the late fee.", "I'm waiving the late fee."),
        ("We're also heading a credit of $10.", "We're also adding a credit of $10."),
        ("I've re-booked your table.", "I've rebooked your table."),
        # what reads correctly stays
        ("Well, ship it whenever you like.", "Well, ship it whenever you like."),
        ("Well done on finding the serial number.", "Well done on finding the serial number."),
        ("I mail these cards every month.", "I mail these cards every month."),
        ("We all know the feeling.", "We all know the feeling."),
        ("The only option is a refund.", "The only option is a refund."),
        ("Will send it to my office?", "Will send it to my office?"),
        ("It all went wrong last week.", "It all went wrong last week."),
        ("The installer's van is outside.", "The installer's van is outside."),
        ("The flags were waving in the wind.", "The flags were waving in the wind."),
        ("I'll send it tomorrow.", "I'll send it tomorrow."),
        # nobody contacts themselves: a third party's "she'll" heard as "you should"
        ("You should call you before two today.", "They'll call you before two today."),
        ("You should call us if it happens again.", "You should call us if it happens again."),
        ("You'll email your landlord tonight.", "You'll email your landlord tonight."),
    ],
)
def test_slips_undone_and_correct_text_left_alone(heard: str, meant: str) -> None:
    assert repaired(heard) == meant


@pytest.mark.parametrize(
    ("speaker", "text", "found"),
    [
        ("agent", "Okay, well ship the replacement tomorrow.", ["Ship the replacement tomorrow."]),
        ("agent", "I'm waving the late fee on this statement.", ["Waive the late fee on this statement."]),
        ("agent", "I mail the warranty card on Friday.", ["Mail the warranty card on Friday."]),
        ("agent", "Will send you a new card tomorrow.", ["Send the customer a new card tomorrow."]),
        ("agent", "I'm gonna book the engineer for Monday.", ["Book the engineer for Monday."]),
        ("agent", "So you gotta restart the router tonight.", ["Customer to restart the router tonight."]),
        # a third party of any name (here garbled) who is to get in touch
        (
            "agent",
            "The inspecter will call you on Monday.",
            ["Inspecter to call the customer on Monday."],
        ),
        ("agent", "The all text you when the parcel ships.", ["The team to text the customer when the parcel ships."]),
        # procedure before the call's business is no step, whatever the verb was heard as
        ("agent", "I'm going to review a quick disclosure before we start.", []),
        # a plain present is no promise
        ("agent", "I mail these cards every month.", []),
        # a consequence is no third party: "the parcel will arrive" stays a consequence
        ("agent", "The delivery will arrive on Tuesday.", []),
    ],
)  # fmt: skip
def test_promises_heard_with_slips(speaker: str, text: str, found: list[str]) -> None:
    assert [s.value for s in next_steps(said((speaker, text)))] == found


def test_a_sentence_cut_at_a_pause_is_joined() -> None:
    steps = next_steps(said(("agent", "I'll mail the"), ("agent", "warranty card tomorrow.")))
    assert [(s.value, s.utterance_id) for s in steps] == [("Mail the warranty card tomorrow.", 0)]
    # not across a long silence, nor across the other speaker's turn
    apart = next_steps(
        said(("agent", "I'll mail the"), ("agent", "warranty card tomorrow."), gap=2.5)
    )
    assert "Mail the warranty card tomorrow." not in [s.value for s in apart]
    between = next_steps(
        said(
            ("agent", "I'll mail the"),
            ("customer", "Uh huh."),
            ("agent", "warranty card tomorrow."),
        )
    )
    assert "Mail the warranty card tomorrow." not in [s.value for s in between]
    # a finished sentence is not continued by the next capitalised one
    two = next_steps(said(("agent", "I'll mail the card."), ("agent", "Have a nice day.")))
    assert [s.value for s in two] == ["Mail the card."]


def test_they_heard_as_the_only_is_named_from_the_plural_team() -> None:
    steps = next_steps(
        said(
            ("agent", "I'm sending the fault to our field technician's under case 7730."),
            ("agent", "The only call you to book a visit."),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("agent", "Send the fault to the field technicians under case 7730."),
        ("third party", "Field technicians to call the customer to book a visit."),
    ]


def test_a_consequence_in_the_next_utterance_and_a_trailing_condition_join_their_act() -> None:
    steps = next_steps(
        said(
            ("agent", "I've cancelled the duplicate order."),
            ("agent", "You all get the refund in three days."),
            ("customer", "I'll reset the router. Once I get home."),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("agent", "Cancel the duplicate order, the customer will get the refund in 3 days."),
        ("customer", "Customer to reset the router, once they get home."),
    ]


def test_the_problem_said_as_two_times() -> None:
    result = analyze(
        said(
            ("agent", "Harbor gas and electric, this is Lee."),
            ("customer", "Hello, the direct debit took $80 two times from my account in May."),
            ("agent", "I see it. I've refunded the second debit of $80."),
            ("customer", "Also the paper bill shows the wrong postcode."),
        ),
        14.0,
    )
    kinds = {h["kind"]: h for h in result.highlights}
    assert kinds["problem"]["utteranceId"] == 1
    assert kinds["resolution"]["utteranceId"] == 2


def test_the_reason_is_the_first_long_turn_when_a_later_one_raises_a_further_issue() -> None:
    # the recogniser left no problem word in the first turn; the later "also" turn has one
    result = analyze(
        said(
            ("agent", "Northwind parcels, Sam speaking."),
            ("customer", "Hello, my tracker says delivered yet the porch was empty this morning."),
            ("agent", "I've resent the parcel, it'll arrive tomorrow."),
            ("customer", "I also noticed the wrong name on the receipt."),
        ),
        14.0,
    )
    kinds = {h["kind"]: h for h in result.highlights}
    assert kinds["problem"]["utteranceId"] == 1
    assert kinds["resolution"]["utteranceId"] == 2
    # with no earlier long turn, the "also" turn is the reason
    alone = analyze(
        said(
            ("agent", "Northwind parcels, Sam speaking."),
            ("customer", "Hi."),
            ("customer", "I also noticed the wrong name on the receipt."),
        ),
        10.0,
    )
    assert {h["kind"]: h["utteranceId"] for h in alone.highlights}["problem"] == 2


def test_a_call_to_the_customer_heard_as_their_own_is_the_person_named_before() -> None:
    # "…to our production planner, Ewa. She'll call you…" as whisper heard it
    steps = next_steps(
        said(
            (
                "agent",
                "I'm escalating the second one to our production planner. You should call you "
                "before two today to confirm whether she can fit it in tomorrow.",
            ),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        (
            "third party",
            "Production planner to call the customer before 2 today to confirm whether she "
            "can fit it in tomorrow.",
        ),
    ]
