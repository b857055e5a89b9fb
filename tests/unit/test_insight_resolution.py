"""The resolution and problem highlights: the agent's confirmation that the matter is settled
(with its vetoes), the result reported after a hold, the problem turn the recogniser cut in
two, and what the summary says the agent did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callscope.errors import ConfigError
from callscope.insights.analyzers import Utterance, analyze, next_steps, sentences
from callscope.insights.clauses import clauses, frame
from callscope.insights.resolution import (
    FEATURES,
    ResolutionModel,
    candidates,
    confirms,
    load_model,
    resolution,
    weights_path,
)
from callscope.insights.summary import resolution_candidates, summary
from tests.helpers.utterances import said


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
        "Done, it's booked.",
        "Right, that's all confirmed for Tuesday.",
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
        # what ought to have happened is no confirmation
        "You're right, the invoice should have been updated.",
        "That fee should've been waived last month.",
    ],
)
def test_no_confirmation_when_negated_asked_conditional_or_not_said(text: str) -> None:
    assert not confirms(text)


def test_a_confirmation_is_the_resolution_when_nothing_is_planned() -> None:
    call = said(
        ("agent", "Harbor Credit Union, this is Priya."),
        ("customer", "I sent a transfer of $300 to the wrong account this morning."),
        ("agent", "I'm checking the transfer now."),
        ("customer", "Okay, thanks."),
        ("agent", "Okay, the transfer has been reversed and the money is back in your account."),
        ("agent", "Have a nice day."),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["utteranceId"] == 4
    assert resolution["value"].startswith("Okay, the transfer has been reversed")


def test_the_plan_after_a_hold_wins_over_an_earlier_act_on_a_side_matter() -> None:
    # readers who never saw the rules mark where the plan that settles the problem is given,
    # not the agent's first act (here on the fee the customer mentioned on the way)
    call = said(
        ("agent", "Harwood Funeral Directors, Martin speaking."),
        ("customer", "I need to move my mother's service, my brother can't fly in until the 14th."),
        ("agent", "I've taken the $95 admin fee off the estimate just now."),
        ("customer", "Thank you. And the date?"),
        ("agent", "Let me ring the crematorium, one moment."),
        (
            "agent",
            "Thanks for waiting. I've held the 15th at two o'clock. "
            "Their office will send us written confirmation by Thursday.",
        ),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["utteranceId"] == 5
    # the turn's report is quoted, not its lead-in nor the paperwork that follows
    assert resolution["value"] == "I've held the 15th at two o'clock."


def test_the_quoted_sentence_is_not_the_turns_lead_in() -> None:
    call = said(
        ("agent", "Summit Roofing, Carl speaking."),
        ("customer", "There's water coming through my bedroom ceiling since the rain last night."),
        ("customer", "So I just sit here with a bucket?"),
        (
            "agent",
            "Not quite. Our emergency crew will be there at seven tomorrow morning to put a "
            "temporary cover over it.",
        ),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["value"].startswith("Our emergency crew will be there")


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
        ("customer", "Okay, and the hotel tonight?"),
        ("agent", "The hotel desk at the airport can help you with that."),
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


# --- the recogniser's slips: a dropped comma, a garbled verb, a problem without its word ---


def test_an_and_with_a_new_subject_and_modal_opens_a_clause() -> None:
    # the recogniser dropped the comma of "I've approved the claim, and a plumber will…"
    parts = clauses(
        "I've approved the claim and a plumber from our network will contact you today.", "agent"
    )
    assert [c.text for c in parts] == [
        "I've approved the claim",
        "a plumber from our network will contact you today.",
    ]
    assert frame(parts[0]).kind == "past"
    assert frame(parts[1]).owner == "third party"
    assert [c.text for c in clauses("I've reset it and they'll call you back.", "agent")] == [
        "I've reset it",
        "they'll call you back.",
    ]
    # no new subject with a modal: one clause
    for text in (
        "I've checked the modem and the router for you.",
        "I'll send the form and the label tonight.",
        "I've refunded the fee and the tax on it.",
    ):
        assert len(clauses(text, "agent")) == 1, text


def test_an_act_with_a_third_partys_promise_is_the_resolution() -> None:
    call = said(
        ("agent", "Homeguard warranty claims, this is Luis."),
        ("customer", "My water heater stopped working on Sunday, we have no hot water."),
        ("agent", "I've approved the claim and a plumber will contact you today."),
        ("agent", "You're welcome to call us back any time."),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["utteranceId"] == 2
    assert "approved the claim" in analyze(call, 20.0).summary


def test_a_step_said_in_other_words_marks_its_own_turn() -> None:
    # the step is read as "Manny will install it tomorrow at nine", words the turn never says:
    # its turn, reported after the hold, is still the one that commits
    call = said(
        ("agent", "Office Systems service desk, this is Dana."),
        ("customer", "Our printer is down again, it jams every few pages."),
        ("agent", "Let me see where the part is. Can you hold for a moment?"),
        ("customer", "Sure."),
        (
            "agent",
            "Thanks for holding. The part came into our depot yesterday. I've spoken to "
            "dispatch, and Manny's booked for tomorrow at nine to install it.",
        ),
        ("customer", "Finally."),
        ("agent", "And if it doesn't fix it, I'll get you a loaner by Friday morning."),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["utteranceId"] == 4
    assert "Manny's booked" in resolution["value"]


@pytest.mark.parametrize(
    ("speaker", "text", "kind", "verb"),
    [
        (
            "agent",
            "In the meantime I'm booting a loaner card on hold for you.",
            "progressive",
            "boot",
        ),
        ("agent", "We're shopping the replacement today.", "progressive", "shop"),
        # not an act: no object, an unlisted state, or the customer's
        ("agent", "I'm hoping the part comes in time.", "", ""),
        ("agent", "I'm showing two payments on the account.", "", ""),
        ("agent", "I'm wondering about that too.", "", ""),
        ("agent", "I'm booting up now.", "", ""),
        ("customer", "I'm booting a loaner card on hold for you.", "", ""),
    ],
)
def test_a_garbled_progressive_verb_is_guessed(
    speaker: str, text: str, kind: str, verb: str
) -> None:
    f = frame(clauses(text, speaker)[0])
    assert (f.kind, f.verb) == (kind, verb)
    assert f.guessed == bool(kind)


def test_a_guessed_act_counts_as_done_only_when_the_classifier_kept_it() -> None:
    call = said(
        ("agent", "Gearhouse Auto, this is Sam."),
        ("customer", "I dropped off my car this morning and I have no way to get to work."),
        ("agent", "In the meantime I'm booting a loaner car on hold for you."),
    )
    sents = sentences(call)
    steps = next_steps(call)
    assert [s.value for s in steps] == ["Boot a loaner car on hold for the customer."]
    text, marks = summary(call, sents, steps)
    assert "The agent booted a loaner car on hold for the customer." in text
    assert [m.sentence.utterance.id for m in marks if m.kind == "resolution"] == [2]
    # without the classifier's word the unlisted verb is no act
    text, marks = summary(call, sents, [])
    assert "booted" not in text
    assert not [m for m in marks if m.kind == "resolution"]


def test_a_fact_about_the_account_is_the_problem_before_a_later_complaint() -> None:
    call = said(
        ("agent", "Bluewave Mobile, this is Dan."),
        ("customer", "I just got my bill and there are $120 in roaming charges from my trip."),
        ("agent", "Give me one second."),
        ("customer", "You told me last month it was included, so this is really frustrating."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1


@pytest.mark.parametrize(
    "first",
    [
        # an answer to identity questions, a question, small talk: no statement of the matter
        "Sure, my account number is 4 4 1 0 2 and my postcode is 9 0 2.",
        "Can you tell me what the balance on my account is?",
        "Yes, I've been with you for about six years now.",
    ],
)
def test_no_fact_no_problem_the_later_complaint_is(first: str) -> None:
    call = said(
        ("agent", "Bluewave Mobile, this is Dan."),
        ("customer", first),
        ("agent", "Give me one second."),
        ("customer", "The travel pass never switched on and this is really frustrating."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 3


@pytest.mark.parametrize(
    "first",
    [
        # fewer or other than ordered, with no problem word
        "We ordered twenty chairs for the hall and received only twelve on the day.",
        "They sent the blue sofa instead of the grey one we picked.",
        # the customer citing the order by its reference
        "Hello, I'm ringing about booking BK-55120 for next weekend at the lake house.",
        # damage, or a service lost, with no problem word
        "I went in yesterday and the boxes at the bottom of my unit are soaked.",
        "Since the storm the box just says no signal on every channel.",
        "There's water dripping from the light fitting in the kitchen.",
    ],
)
def test_a_short_delivery_damage_or_a_cited_reference_is_the_problem(first: str) -> None:
    call = said(
        ("agent", "Harbour Home, this is Lee."),
        ("customer", first),
        ("agent", "Let me pull that up."),
        ("customer", "Honestly this is the second time and it's really frustrating."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (
            "Morning Sophie, it's David Okoro. I've got a marquee booked with you for my "
            "daughter's eighteenth, booking reference MQ7730.",
            "That's the one. The trouble is, the guest list has got out of hand.",
        ),
        (
            "Hello Ian. My name's Margaret Hughes. I'm ringing about my scooter again. My "
            "reference is MS55130.",
            "It just won't go. The lights come on, but when I push the lever nothing happens.",
        ),
        # a problem named without what is wrong: the next turn says what
        (
            "Hi, it's Dave Collins from Collins Carpentry. I've got a problem with a delivery "
            "this morning, order number SO88213.",
            "What turned up is forty sheets of twelve mil and only sixteen joists, and I've got "
            "two lads on site who can't do anything.",
        ),
    ],
)
def test_who_calls_and_about_what_then_what_is_wrong_is_the_problem(first: str, then: str) -> None:
    # the opening turn only names the booking; after the look-up the customer says what is wrong
    call = said(
        ("agent", "Fernleigh Services, Sophie speaking. How can I help?"),
        ("customer", first),
        ("agent", "One moment, I'll bring it up. Yes, here we are. What's happening?"),
        ("customer", then),
        ("agent", "I see. Let me look at the options."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 3


@pytest.mark.parametrize("asked", ["What's happening?", "What's happened?"])
def test_the_answer_to_what_is_happening_is_the_problem_not_the_domain_asked_for(
    asked: str,
) -> None:
    call = said(
        ("agent", "NameHarbor support, this is Carla. Can I get the domain you're calling about?"),
        ("customer", "Yes, it's brightleaf bakery dot com. My name is Tom Becker."),
        ("agent", f"Thanks, Tom. Let me just verify the account. {asked}"),
        (
            "customer",
            "Since this morning our website's down and none of our email is coming in.",
        ),
        ("agent", "Let me check."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 3


def test_after_a_reference_only_the_next_turn_may_say_what_is_wrong() -> None:
    opening = (
        "Hi Jasmine. My name's Michael Reyes. I ordered my daughter's school photos, and the "
        "order number is BD48816."
    )
    wrong_photos = said(
        ("agent", "Bright Day School Portraits, this is Jasmine. How can I help?"),
        ("customer", opening),
        ("agent", "Thanks. The Deluxe package for Sofia Reyes. What can I do for you?"),
        ("customer", "Yes. So the package came home yesterday, and they're not her photos."),
        ("agent", "Oh no, I'm so sorry."),
    )
    problem = highlight(wrong_photos, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 3
    # the next turn only confirms the order: a complaint later is no reason to leave it
    later_complaint = said(
        ("agent", "Bright Day School Portraits, this is Jasmine. How can I help?"),
        ("customer", opening),
        ("agent", "Thanks. The Deluxe package for Sofia Reyes at Lincoln Elementary?"),
        ("customer", "Yes, that's the one, for Sofia at Lincoln Elementary in Sacramento."),
        ("agent", "Let me look at the batch."),
        ("customer", "Your website said you'd email me when it shipped and I never got anything."),
    )
    problem = highlight(later_complaint, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1


def test_an_outage_in_the_opening_turn_is_the_problem_before_a_later_complaint() -> None:
    call = said(
        ("agent", "Skyline Hosting support, this is Ana."),
        (
            "customer",
            "Hi Ana, our mail server was down for most of the morning, the office was offline.",
        ),
        ("agent", "Let me look at the incident."),
        ("customer", "We pay for the premium tier so this doesn't happen, and nobody told us."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1


@pytest.mark.parametrize(
    "first",
    [
        # no problem word at all: the reply to "How can I help?" is the matter
        "My box sat on my porch in the sun all afternoon and the ice packs were all melted.",
        # an expectation not met, or nothing heard since
        "It was meant to be collected yesterday, and the skip's still sat there, full.",
        "I had a blood test on the ninth, and it's been a week and there's still nothing.",
        "The delivery came sixty towels short and we'll run out by Friday.",
    ],
)
def test_the_reply_to_how_can_i_help_or_an_unmet_expectation_is_the_problem(first: str) -> None:
    call = said(
        ("agent", "Harbour Home, this is Lee. How can I help you today?"),
        ("customer", first),
        ("agent", "I'm sorry. Can I take your account number?"),
        ("customer", "Honestly this is the second time and it's really frustrating."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1


def test_when_the_agent_asks_again_what_is_wrong_the_reply_with_the_problem_is_it() -> None:
    call = said(
        ("agent", "HomeFix, this is Tanya. How can I help you today?"),
        ("customer", "You sent a technician out last Tuesday for my washing machine."),
        ("agent", "Okay, I've got it here. What's going on with the washer?"),
        ("customer", "It's still leaking, there's a puddle underneath every time it spins."),
        ("agent", "What's the address on the account?"),
        ("customer", "It's 1840 Sunset Drive and the account number is BW-7713."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 3


def test_the_closing_anything_else_question_asks_for_no_problem() -> None:
    call = said(
        ("agent", "Thanks for calling, how can I help?"),
        ("customer", "Hi, my router keeps dropping the connection every evening."),
        (
            "agent",
            "I've reset the line from our end and it should be stable now. Is there anything "
            "else I can help with?",
        ),
        ("customer", "No, that's everything, thanks again for all your help today."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1


def test_the_shipped_weights_load_and_name_every_feature() -> None:
    model = load_model()
    assert len(model.weights) == len(FEATURES)
    body = json.loads(weights_path().read_text())
    assert tuple(body["features"]) == FEATURES
    # what the weights were fitted to find: a turn that commits, reports back after a hold
    # or holds the first act speaks for a sentence; a refusal speaks against it
    named = dict(zip(FEATURES, model.weights, strict=True))
    assert named["turn_commits"] > 0
    assert named["turn_after_hold"] > 0
    assert named["confirms"] > 0
    assert named["negated"] < 0
    # a later turn that commits after a hold outweighs the first turn that commits
    assert named["turn_after_hold"] > named["first_commit_turn"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"features": ["turn_commits"], "weights": [1.0], "bias": 0.0}',
        '{"weights": [1, 2, 3, 4, 5], "bias": 0.0}',
    ],
)
def test_weights_that_do_not_fit_this_version_are_refused(tmp_path: Path, body: str) -> None:
    path = tmp_path / "resolution.json"
    path.write_text(body)
    with pytest.raises(ConfigError, match="resolution weights"):
        ResolutionModel.read(path)


def test_the_candidates_are_the_agents_sentences_after_the_problem_with_their_turns() -> None:
    call = said(
        ("agent", "Riverside Council, Gemma speaking."),
        ("customer", "My recycling bin hasn't been emptied for three weeks now."),
        ("agent", "I can't send a crew today. Thanks for waiting, I've checked the rota."),
        ("agent", "The crew will empty your bin by Wednesday evening."),
    )
    sents = sentences(call)
    found = resolution_candidates(sents, next_steps(call))
    cands, rows = found.sentences, found.rows
    assert [s.text for s in cands] == [
        "I can't send a crew today.",
        "Thanks for waiting, I've checked the rota.",
        "The crew will empty your bin by Wednesday evening.",
    ]
    named = [dict(zip(FEATURES, r, strict=True)) for r in rows]
    # the refusal and the report back share their turn; the crew's promise is a turn of its own
    assert [n["negated"] for n in named] == [1.0, 0.0, 0.0]
    assert [n["turn_after_hold"] for n in named] == [1.0, 1.0, 0.0]
    assert [n["turn_commits"] for n in named] == [0.0, 0.0, 1.0]
    assert [n["first_commit_turn"] for n in named] == [0.0, 0.0, 1.0]
    # no act done in the call: nothing to fall back on
    assert found.fallback is None
    # the greeting, said before the problem, is no candidate
    assert all(s.utterance.id >= 2 for s in cands)


def test_the_highest_score_wins_and_a_sentence_nothing_speaks_for_is_no_resolution() -> None:
    call = said(
        ("agent", "Harbor Credit Union, this is Priya."),
        ("customer", "My card was swallowed by your machine on Main Street."),
        ("agent", "I see the machine on Main Street."),
        ("agent", "A new card will reach you by Friday."),
    )
    sents = sentences(call)
    committed = [sents[-1]]
    commits_only = ResolutionModel((1.0, 0.0, 0.0, 0.0, 0.0), -1.0)
    assert len(FEATURES) == 5
    assert resolution(sents, [], committed, after=3.5, model=commits_only) is sents[-1]
    # nothing done, planned, reported after a hold or confirmed: no resolution at all,
    # whatever the weights
    generous = ResolutionModel((1.0, 1.0, 1.0, 1.0, 1.0), 5.0)
    assert resolution(sents, [], [], after=3.5, model=generous) is None
    # a refusal alone speaks for nothing either
    assert generous.best([[0.0, 0.0, 1.0, 0.0, 0.0]]) is None
    # with nothing that speaks, the agent's first act done in the call is the resolution
    assert resolution(sents, [sents[-2]], [], after=3.5, model=generous) is sents[-2]
    # a tie goes to the earlier sentence
    rows = candidates(sents, [], committed, after=3.5).rows
    assert len(rows) == 2
    assert generous.best([[1.0] * len(FEATURES)] * 3) == 0


def test_a_fact_given_in_answer_to_the_agents_question_is_not_the_problem() -> None:
    call = said(
        ("agent", "Summit Roofing, Carl speaking."),
        (
            "customer",
            "You replaced part of my roof in August, and after the rain last night there's "
            "water coming through the bedroom ceiling.",
        ),
        ("agent", "Do you have the job number from your invoice?"),
        ("customer", "It's SR-6127. The invoice was $7,850, with a ten year warranty."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1
    # a fact in answer to "how can I help?" is the matter itself
    call = said(
        ("agent", "Bluewave Mobile, this is Dan. What can I do for you?"),
        ("customer", "I just got my bill and there are $120 in roaming charges on it."),
        ("agent", "Give me one second."),
        ("customer", "You told me last month it was included, so this is really frustrating."),
    )
    problem = highlight(call, "problem")
    assert problem is not None
    assert problem["utteranceId"] == 1


def test_paperwork_is_not_the_resolution_the_act_before_it_is() -> None:
    call = said(
        ("agent", "Harbor Credit Union, this is Priya."),
        ("customer", "I sent $300 to the wrong account this morning and I need it back."),
        ("agent", "Okay, the transfer has been reversed and the $300 is back in your account."),
        ("customer", "Great, thank you."),
        ("agent", "I'm sending you a confirmation email now."),
    )
    resolution = highlight(call, "resolution")
    assert resolution is not None
    assert resolution["utteranceId"] == 2
