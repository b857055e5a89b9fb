"""The resolution and problem highlights: the agent's confirmation that the matter is settled
(with its vetoes), the result reported after a hold, the problem turn the recogniser cut in
two, and what the summary says the agent did."""

from __future__ import annotations

from typing import Any

import pytest

from callscope.insights.analyzers import Utterance, analyze
from callscope.insights.resolution import confirms


def said(*turns: tuple[str, str]) -> list[Utterance]:
    out, t = [], 0.0
    for i, (speaker, text) in enumerate(turns):
        out.append(Utterance(i, speaker, f"p-{speaker}", t, t + 3.0, text))
        t += 3.5
    return out


def highlight(call: list[Utterance], kind: str) -> dict[str, Any] | None:
    marks = analyze(call, 60.0).highlights
    return next((h for h in marks if h["kind"] == kind), None)


@pytest.mark.parametrize(
    "text",
    [
        "That's all sorted now.",
        "Okay, you're all set.",
        "I've processed the refund of the fuel fee.",
        "The transfer has been reversed and the money is back in your account.",
        "You should be all set.",
        "Your account is now unlocked.",
        "Everything is taken care of.",
        "Great, we're good to go.",
        "Your refund has been processed.",
        "The late fee is now waived.",
    ],
)
def test_a_confirmation_is_read(text: str) -> None:
    assert confirms(text)


@pytest.mark.parametrize(
    "text",
    [
        "I can't sort that out today.",
        "I'm afraid that's not sorted yet.",
        "Is that all sorted?",
        "Once that's processed, you'll get an email.",
        "If the photos are clear, you're all set.",
        "You're all set once the payment clears.",
        "That would be all set if you had the receipt.",
        "Your refund hasn't been processed.",
        "Nothing is fixed yet.",
        "Your plan is set to renew next month.",
        "Payments are processed on the first of each month.",
        "I'll get it done by Friday.",
        "You're welcome, take care.",
    ],
)
def test_no_confirmation_when_negated_asked_conditional_or_not_said(text: str) -> None:
    assert not confirms(text)


def test_the_confirmation_near_the_end_is_the_resolution() -> None:
    call = said(
        ("agent", "Harbor Credit Union, this is Priya."),
        ("customer", "I sent a transfer of $300 to the wrong account this morning."),
        ("agent", "I'm checking the transfer now."),
        ("agent", "I'm sending you a form to fill in."),
        ("customer", "Okay, thanks."),
        ("agent", "Okay, the transfer has been reversed and the money is back in your account."),
        ("agent", "Have a nice day."),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["utteranceId"] == 5
    assert resolution["value"].startswith("Okay, the transfer has been reversed")


def test_a_refusal_at_the_end_is_no_resolution_the_first_act_is() -> None:
    call = said(
        ("agent", "Stride Shoes, this is Kim."),
        ("customer", "The shoes I ordered arrived in the wrong size."),
        ("agent", "I've emailed you a prepaid return label."),
        ("customer", "And the shipping fee?"),
        ("agent", "I can't sort that out today, sorry."),
        ("agent", "Is that all sorted for you then?"),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["utteranceId"] == 2


def test_the_result_after_a_hold_even_with_its_verb_misheard() -> None:
    # the recogniser heard "I've rebooked you" as "I've read what you"
    call = said(
        ("agent", "Skyline Airways, this is Mark."),
        ("customer", "My flight to Denver was cancelled tonight and I need to get there."),
        ("agent", "Please hold while I check availability."),
        ("agent", "Thanks for waiting. I've read what you want flight to 1-8 tomorrow at 7:40."),
        ("agent", "I'm adding a meal voucher of $25 to your reservation."),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["utteranceId"] == 3
    assert resolution["value"].startswith("I've read what you")


def test_the_resolution_is_never_the_customers() -> None:
    call = said(
        ("agent", "Swiftpost parcels, this is Dana."),
        ("customer", "A parcel was marked as delivered yesterday, but it never arrived."),
        ("customer", "I'll keep my phone on."),
    )
    assert highlight(call, "resolution") is None


def test_a_problem_turn_cut_in_two_and_a_later_follow_up() -> None:
    call = [
        Utterance(0, "agent", "p-agent", 0.0, 2.0, "Brightsmile Dental, this is Julia."),
        Utterance(1, "customer", "p-customer", 2.5, 4.0, "Hello, I had a filling."),
        Utterance(2, "customer", "p-customer", 4.3, 8.0, "It fell out this morning, it hurts."),
        Utterance(3, "agent", "p-agent", 8.5, 10.0, "Let me look at the schedule."),
        Utterance(4, "customer", "p-customer", 10.5, 13.0, "I can't come in before Thursday."),
        Utterance(5, "customer", "p-customer", 20.0, 22.0, "Okay. I'll keep my phone on then."),
    ]
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1
    assert problem["value"] == "I had a filling. It fell out this morning, it hurts."
    # the recogniser's own utterance for the greeting is no part of the problem
    call[1] = Utterance(1, "customer", "p-customer", 2.5, 4.0, "Hi, Julia.")
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 2
    assert problem["value"] == "It fell out this morning, it hurts."


@pytest.mark.parametrize(
    ("text", "done"),
    [
        ("Okay, I've refunded the charge, it'll take three days.", "refunded the charge"),
        (
            "I see it, I've refunded the duplicate charge of $49.",
            "refunded the duplicate charge of $49",
        ),
        (
            "I've blocked the card ending 4,471, so no one can use it.",
            "blocked the card ending 4,471",
        ),
    ],
)
def test_what_the_agent_did_starts_at_the_verb(text: str, done: str) -> None:
    call = said(
        ("customer", "Somebody used my card and I need it blocked today."),
        ("agent", text),
    )
    summary = analyze(call, 10.0).summary
    assert f"The agent {done}." in summary
