"""The offline insight analyzers on small transcripts: commitments and their vetoes, owners,
instructions, highlights, summary, metrics, sentiment, keywords, the disclosure check, and the
similarity test on the packaged sentence-embedding model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from callscope.errors import ConfigError
from callscope.insights.analyzers import Utterance, analyze, next_steps
from callscope.insights.embeddings import MiniLM, packaged_paths
from callscope.insights.summary import entities, grounded, summary
from callscope.insights.types import sentences
from callscope.sim.runner import default_source
from tests.helpers.utterances import said

DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "insights"


@pytest.mark.parametrize(
    ("speaker", "text", "found"),
    [
        ("agent", "I'll send the label today.", ["Send the label today."]),
        ("agent", "I will email you the steps tonight.", ["Email the customer the steps tonight."]),
        ("agent", "We're going to refund your card.", ["Refund the customer's card."]),
        ("customer", "I'll call back tomorrow.", ["Customer to call back tomorrow."]),
        # present progressive and past acts with a consequence
        (
            "agent",
            "I'm adding a credit of $20 to your bill.",
            ["Add a credit of $20 to the customer's bill."],
        ),
        (
            "agent",
            "I've put in a request for a new modem, you'll see it in three days.",
            ["Put in a request for a new modem, the customer will see it in 3 days."],
        ),
        # third parties, named from the subject
        (
            "agent",
            "Our billing team will reverse the fee within forty eight hours.",
            ["Billing team to reverse the fee within 48 hours."],
        ),
        # the agent's instruction is the customer's step
        (
            "agent",
            "Please print the label and drop the box at the post office.",
            ["Customer to print the label and drop the box at the post office."],
        ),
        # a conditional promise with a date
        (
            "agent",
            "If the part isn't delivered by noon, I'll call you with a new time.",
            ["Call the customer with a new time if the part isn't delivered by noon."],
        ),
        # the "instruction" rewrite is grammatical
        (
            "agent",
            "You're right, I'll send the form to your office.",
            ["Send the form to the customer's office."],
        ),
        # an unlisted verb after "please" is still the customer's step; asking a team to act
        # is no question in the call
        (
            "agent",
            "Please avoid chewing on that side until Thursday.",
            ["Customer to avoid chewing on that side until Thursday."],
        ),
        (
            "agent",
            "I'm asking our billing team to send you a new invoice.",
            ["Billing team to send the customer a new invoice."],
        ),
        ("agent", "Please bear with me for a moment.", []),
        ("agent", "Please don't worry about the fee.", []),
        ("customer", "Please avoid calling me at work.", []),
        ("agent", "I'm asking because the system needs it.", []),
        ("agent", "I have to ask you a few security questions.", []),
        ("customer", "if it breaks I'll cancel", []),
        ("agent", "I won't charge you for this.", []),
        ("agent", "I will not send another bill.", []),
        ("agent", "Let me check that for you.", []),
        ("agent", "I'll put you on hold for a moment.", []),
        ("agent", "I'll need your date of birth.", []),
        ("agent", "I'll be happy to help.", []),
        ("agent", "I'm just pulling up your account.", []),
        ("customer", "Will you send it to my work address?", []),
        ("agent", "I can help with that.", []),
        ("agent", "I have unlocked it now.", []),  # done, nothing left to do
        ("agent", "If you had the premium plan, we would replace it for free.", []),
        ("customer", "You said you would call me back and you never did.", []),
        ("customer", "The last agent promised to refund the fee, and nothing happened.", []),
        ("customer", "I'm calling because my bill doubled.", []),
        # a negation in a purpose or reason clause vetoes no promise before it; one in the
        # promise's own clause does
        (
            "agent",
            "I'll drop off two heaters so you're not cold tonight.",
            ["Drop off two heaters so the customer is not cold tonight."],
        ),
        (
            "agent",
            "I'll refund the fee because the delay wasn't your fault.",
            ["Refund the fee because the delay wasn't the customer's fault."],
        ),
        ("agent", "I won't charge you so you don't pay twice.", []),
        ("agent", "I'm not going to close it so you can still reply.", []),
        # a third party named by title and name
        (
            "agent",
            "Dr. Okafor will call you this afternoon.",
            ["Dr. Okafor to call the customer this afternoon."],
        ),
        (
            "agent",
            "Ms. Lindqvist is going to file the amended return.",
            ["Ms. Lindqvist to file the amended return."],
        ),
        ("agent", "Dr. Okafor won't call you today.", []),
        ("customer", "Dr. Okafor said he would call me and he never did.", []),
        ("agent", "If you had asked, Mr. Patel would have replaced it.", []),
        # someone on the customer's side who must act is the customer
        (
            "agent",
            "Someone at your office will have to sign for the delivery.",
            ["Customer to sign for the delivery."],
        ),
        ("agent", "Someone will call you tomorrow.", ["Someone to call the customer tomorrow."]),
        ("agent", "Someone doesn't need to sign for it.", []),
        ("customer", "Last time you said someone would call me back and nobody did.", []),
        # the agent's request put as a question is the customer's step; the customer's bare
        # yes to it is none, a question asked for an answer now is none
        (
            "agent",
            "Could you send us a photo of the tear?",
            ["Customer to send the company a photo of the tear."],
        ),
        ("agent", "Could you give me your agreement number?", []),
        ("agent", "Can you hear me?", []),
        ("agent", "Would you like a callback?", []),
        ("customer", "Could you send me the label?", []),
        ("customer", "Sure, I'll do that tonight.", []),
        ("customer", "Will do.", []),
        ("customer", "I'll do the transfer tonight.", ["Customer to do the transfer tonight."]),
        ("customer", "I'll do the payment.", ["Customer to do the payment."]),
        # a third party named by any noun phrase or name opening the clause, an appositive
        # allowed; a thing that only happens ("the order will ship") is none
        (
            "agent",
            "Your bank will return the $180 within five working days.",
            ["Bank to return the $180 within 5 working days."],
        ),
        (
            "agent",
            "Marco, our depot supervisor, is going to search the bay this afternoon.",
            ["Depot supervisor Marco to search the bay this afternoon."],
        ),
        (
            "agent",
            "Your new teacher, Ms. Ortega, will send you the reading list.",
            ["New teacher Ms. Ortega to send the customer the reading list."],
        ),
        (
            "agent",
            "If nothing comes through, an electrician will visit next Tuesday.",
            ["Electrician to visit next Tuesday if nothing comes through."],
        ),
        ("agent", "The order will ship tomorrow.", []),
        ("agent", "The portal will email you a receipt for every payment.", []),
        ("agent", "Our policy will cover the repair.", []),
        (
            "agent",
            "Hollis Insurance will write to you with the outcome.",
            ["Hollis Insurance to write to the customer with the outcome."],
        ),
        (
            "agent",
            "Northgate Plumbing will send an engineer on Friday.",
            ["Northgate Plumbing to send an engineer on Friday."],
        ),
        ("agent", "Your plan will renew on the first.", []),
        ("agent", "Your bank won't return the fee.", []),
        ("agent", "Marco, our supervisor, won't call you.", []),
        ("agent", "Everything will be fine.", []),
        # an in-call verb put off to a time after the call is a step; "be home" is no in-call
        # "be"; what follows a hypothetical condition is hypothetical too
        (
            "agent",
            "I'll check the readings tomorrow morning.",
            ["Check the readings tomorrow morning."],
        ),
        ("agent", "I'll check your account now.", []),
        ("agent", "I'll check that in a minute.", []),
        (
            "agent",
            "Someone will need to be home to let the engineer in.",
            ["Customer to be home to let the engineer in."],
        ),
        ("agent", "I'll be there in a second.", []),
        (
            "agent",
            "If you miss another payment, it would be reported, so please call us first.",
            [],
        ),
        # a listed role with an unlisted verb; a name in a department; "they" named after a
        # team said before it in the same clause
        (
            "agent",
            "Our technician is going to swap the meter on Friday.",
            ["Technician to swap the meter on Friday."],
        ),
        (
            "agent",
            "Sarah in accounts will process the refund today.",
            ["Sarah in accounts to process the refund today."],
        ),
        (
            "agent",
            "I've raised it with the warehouse, they'll ship it tomorrow.",
            ["Warehouse to ship it tomorrow."],
        ),
        # a bare imperative after a condition, "go ahead and…", "you'll want to…", an inverted
        # "should it…" condition; a call to the company "if…" is advice, no step
        (
            "agent",
            "When the card arrives, activate it in the app.",
            ["Customer to activate it in the app when the card arrives."],
        ),
        (
            "agent",
            "Go ahead and restart the router tonight.",
            ["Customer to restart the router tonight."],
        ),
        (
            "agent",
            "You'll want to unplug it for thirty seconds tonight.",
            ["Customer to unplug it for thirty seconds tonight."],
        ),
        (
            "agent",
            "Should it still not work tomorrow, I'll book an engineer.",
            ["Book an engineer should it still not work tomorrow."],
        ),
        ("agent", "If the colour doesn't match, call us.", []),
        ("agent", "If the colour is wrong, just give us a call.", []),
        ("agent", "If it happens again, restart the router.", []),
        ("agent", "If you don't hear by Friday, please let us know.", []),
        (
            "agent",
            "Go ahead and delete the old profile tonight.",
            ["Customer to delete the old profile tonight."],
        ),
        ("agent", "If you want, check the settings page.", []),
        ("agent", "Do you want to reset it now?", []),
        # the recogniser's forms: an object garbled, no stop after a lead-in, "will do" run
        # into the thanks; a purpose "so that…" is no part of the step
        (
            "agent",
            "The crew will empty year-bin by Wednesday evening.",
            ["Crew to empty year-bin by Wednesday evening."],
        ),
        (
            "agent",
            "I understand Marco, our depot supervisor, is going to search the bay.",
            ["Depot supervisor Marco to search the bay."],
        ),
        ("customer", "Will do thank you for sorting it out.", []),
        ("customer", "I'll do it, thanks.", []),
        ("customer", "Sure, I'll do nothing to do.", []),
        (
            "agent",
            "Someone at your office will have to sign for it so that the count is confirmed.",
            ["Customer to sign for it."],
        ),
        # "what I'll do is…" is "I'll…"; "please…" after a comma is the customer's own clause;
        # "would you be able to…" asks; the customer's manner of speaking is no step
        ("agent", "What I'll do is send you a new link.", ["Send the customer a new link."]),
        (
            "agent",
            "I've sent the form to your email, please sign it and send it back by Friday.",
            ["Customer to sign the form and send it back by Friday."],
        ),
        (
            "agent",
            "Would you be able to send us a photo tonight?",
            ["Customer to send the company a photo tonight."],
        ),
        (
            "agent",
            "I've logged it with our engineers, you'll get a text when they're on the way.",
            # a contact with no sender named is the speaker's side's
            ["Text the customer when they're on the way."],
        ),
        ("agent", "I'm just logging into the system.", []),
        ("customer", "I'll be honest, I expected better.", []),
        ("customer", "I'll believe it when it arrives.", []),
        ("customer", "I'm going to have to think about it.", []),
        # "let you know" is no in-call "let"; telling or explaining in the call is in-call
        # unless put off; what is done as a rule and an offer on the customer's choice are no
        # promises
        ("agent", "I'll let you know by Friday.", ["Let the customer know by Friday."]),
        ("agent", "I'll let you go now.", []),
        ("agent", "I'll tell you what the problem is.", []),
        ("agent", "I'll explain the charges.", []),
        (
            "agent",
            "I'll go through the options with you on Friday.",
            ["Go through the options with the customer on Friday."],
        ),
        ("agent", "We'll always refund a missed delivery fee.", []),
        ("agent", "If you upgrade, we'll waive the setup fee.", []),
        ("agent", "If you cancel now, we'll charge a $30 fee.", []),
        # who is to get in touch, said from the customer's side; asking anyone but the customer
        # to act is a step; a done act taking effect later still has something to come
        (
            "agent",
            "You'll be contacted by our claims team within two days.",
            ["Claims team to contact the customer within 2 days."],
        ),
        (
            "agent",
            "You'll get a callback from the specialist this afternoon.",
            ["Specialist to call the customer this afternoon."],
        ),
        ("agent", "You'll get an email from the system shortly.", []),
        (
            "agent",
            "I've asked the courier to redeliver on Saturday.",
            # the one asked owns the step
            ["Courier to redeliver on Saturday."],
        ),
        ("agent", "I'll ask you to confirm your address.", []),
        ("agent", "There's a group starting on Monday and I've moved you into it.", []),
        (
            "agent",
            "I've set up a payment plan starting next month.",
            ["Set up a payment plan starting next month."],
        ),
        # a third party that "should" act; not one that "should have"
        (
            "agent",
            "The engineer should call you before he arrives.",
            ["Engineer to call the customer before he arrives."],
        ),
        ("agent", "The technician should have called you.", []),
        ("agent", "The refund should reach you in three days.", []),
        (
            "agent",
            "Accounts will reissue the invoice tomorrow.",
            ["Accounts to reissue the invoice tomorrow."],
        ),
        # more ways to tell the customer what to do; "you should receive…" is a consequence
        (
            "agent",
            "I need you to send us the meter reading by Friday.",
            ["Customer to send the company the meter reading by Friday."],
        ),
        ("agent", "I need you to confirm your date of birth.", []),
        (
            "agent",
            "All you need to do is reply to the text with YES.",
            ["Customer to reply to the text with YES."],
        ),
        ("agent", "Make sure you keep the receipt.", ["Customer to keep the receipt."]),
        (
            "agent",
            "Don't forget to bring the old card on Monday.",
            ["Customer to bring the old card on Monday."],
        ),
        ("agent", "Don't bring the old card.", []),
        (
            "agent",
            "You should restart the router tonight.",
            ["Customer to restart the router tonight."],
        ),
        ("agent", "You should receive the parcel tomorrow.", []),
        # a done act with the date it takes effect is no step; "would you mind…" asks for one
        ("agent", "I've cancelled the plan now, effective today.", []),
        (
            "agent",
            "Would you mind sending us the receipt tonight?",
            ["Customer to send the company the receipt tonight."],
        ),
        (
            "agent",
            "Could you reconnect it to your home Wi-Fi tonight?",
            ["Customer to reconnect it to their home Wi-Fi tonight."],
        ),
        # a request answered in the call is none; put off to later, or asking someone else
        # to act, or with an unlisted verb, an object and a later time, it is a step
        ("agent", "Could you read me the serial number?", []),
        (
            "agent",
            "Could you check the fuse box tonight?",
            ["Customer to check the fuse box tonight."],
        ),
        (
            "agent",
            "Could you ask your landlord to sign the consent form?",
            ["Customer to ask their landlord to sign the consent form."],
        ),
        (
            "agent",
            "Could you run a speed test tomorrow morning?",
            ["Customer to run a speed test tomorrow morning."],
        ),
        ("agent", "Could you describe the noise it makes?", []),
        # "you'll get … from us / me" and a document that "will follow" are the speaker's
        (
            "agent",
            "You'll get a text from us on Friday with the courier's name.",
            ["Text the customer on Friday with the courier's name."],
        ),
        (
            "agent",
            "You'll get that letter from me by Monday.",
            ["Write to the customer by Monday."],
        ),
        (
            "agent",
            "A copy of the new contract will follow by post next week.",
            ["Send the customer a copy of the new contract by post next week."],
        ),
        ("agent", "Your card will follow by post.", []),
        # anything else the customer is to get "from us", "also" said or not
        (
            "agent",
            "You'll get the corrected invoice from us by email before Friday.",
            ["Send the customer the corrected invoice by email before Friday."],
        ),
        (
            "agent",
            "You'll also get a 5 euro ride credit from us within twenty-four hours.",
            ["Send the customer a 5 euro ride credit within 24 hours."],
        ),
        ("agent", "You'll get a refund from the airline, not from us.", []),
        # a contact from someone just named, or from no one named; money seen back or paid
        # back in the passive
        (
            "agent",
            "I've flagged this with our manager, and you'll get a call from her by Friday.",
            ["Manager to call the customer by Friday."],
        ),
        (
            "agent",
            "You'll also get a text reminder on Friday with the appointment details.",
            ["Text the customer a reminder on Friday with the appointment details."],
        ),
        (
            "agent",
            "You'll see one credit of $63.50 on your next statement.",
            ["Put one credit of $63.50 on the customer's next statement."],
        ),
        ("agent", "You'll see the change on your next bill.", []),
        (
            "agent",
            "Agreed. This month's rent of $129 will be refunded to your card.",
            ["Refund this month's rent of $129 to the customer's card."],
        ),
        ("agent", "Refunds are usually credited to your card within a week.", []),
        # "you'd need to …" said as the answer is the customer's step; with an "if", none
        (
            "agent",
            "You'd need to fill in their claim form and send it in within thirty days.",
            ["Customer to fill in their claim form and send it in within 30 days."],
        ),
        ("agent", "If it's your pipe, you would need a plumber to repair it.", []),
        # an adverb before "going to"; a company named by its name acknowledging
        (
            "customer",
            "I'm also going to send you a photo of the gate.",
            ["Customer to send the agent a photo of the gate."],
        ),
        (
            "agent",
            "Fortis will acknowledge the claim within five working days.",
            ["Fortis to acknowledge the claim within 5 working days."],
        ),
        (
            "agent",
            "For the cleaning charge, could you email me the receipt by Monday?",
            ["Customer to email the agent the receipt by Monday."],
        ),
        # a need, a feeling or a forecast is no act; nor a hope hedged in the same sentence
        ("customer", "I'll need a courtesy car, because I can't get to work otherwise.", []),
        ("customer", "If I lose this car I'll be really upset.", []),
        ("customer", "We're fully booked, so we're going to run out by Friday.", []),
        (
            "agent",
            "She should look at how orders are checked, but I can't promise when that will be.",
            [],
        ),
        (
            "customer",
            "I'll need to check with my wife first.",
            ["Customer to need to check with their wife first."],
        ),
        # a team's check with what follows from it; "nobody" is no actor
        (
            "agent",
            "Our quality team will inspect them and credit any that turn out to be our fault.",
            ["Quality team to inspect them and credit any that turn out to be the fault."],
        ),
        ("customer", "Please move it to the 19th, so nobody will come while we are away.", []),
        # waiting on the line is no act; waiting in for a visit is
        ("customer", "That's fine, I'll wait.", []),
        ("customer", "Okay, I'll hang on.", []),
        (
            "customer",
            "I'll wait in for the engineer on Thursday.",
            ["Customer to wait in for the engineer on Thursday."],
        ),
        # "usually within …" after a promise is its timing, not a rule
        (
            "agent",
            "Our payments team will email you once it's released, normally within 24 hours.",
            ["Payments team to email the customer once it's released, normally within 24 hours."],
        ),
        ("agent", "We normally email you within 24 hours.", []),
        # money paid into an account, and someone the agent will have act
        (
            "agent",
            "The $12,000 will be paid into your account by 5 pm tomorrow.",
            ["Pay the $12,000 into the customer's account by 5 pm tomorrow."],
        ),
        (
            "agent",
            "I'll have the engineer ring you before he comes.",
            ["Engineer to call the customer before he comes."],
        ),
        # a purpose said before the request
        (
            "agent",
            "So the engineer can get in, could you leave the side gate unlocked tomorrow?",
            ["Customer to leave the side gate unlocked tomorrow."],
        ),
        # "could you also …" is a request like "could you …"
        (
            "agent",
            "Could you also send me the names of the new starters by Friday?",
            ["Customer to send the agent the names of the new starters by Friday."],
        ),
        # a relative clause's "usually" makes no rule of the promise before it
        (
            "agent",
            "We'll send the battery to the maker, which usually takes about ten days.",
            ["Send the battery to the maker, which usually takes about ten days."],
        ),
        ("agent", "We usually send the battery to the maker.", []),
        # a done act with its consequence to come (a doubled consonant: "submitted")
        (
            "agent",
            "I've submitted the refund, and it will appear on your card on Friday.",
            ["Submit the refund, it will appear on the customer's card on Friday."],
        ),
        # "be with you" / "be there" from a named third party is a visit
        (
            "agent",
            "Priya, our surveyor, will be with you on Tuesday at noon.",
            ["Surveyor Priya to be with the customer on Tuesday at noon."],
        ),
        ("agent", "Priya, our surveyor, will be happy with that.", []),
        # a role and a name in either order; a relative clause in the role is left out, and
        # the act is the verb after the future, not an earlier form in the description
        (
            "agent",
            "Then Luis, the foreman who did the job, is going to do the full repair on Thursday.",
            ["Foreman Luis to do the full repair on Thursday."],
        ),
        # "go through" and an act on a prepositional object are acts; "go" alone is not
        (
            "agent",
            "Jo, the room leader, will go through the medicine form with you at drop-off.",
            ["Room leader Jo to go through the medicine form with the customer at drop-off."],
        ),
        ("agent", "Jo, the room leader, will go home at five.", []),
        (
            "agent",
            "Our care manager, Nadia Shah, will decide on the refund by next Wednesday.",
            ["Care manager Nadia Shah to decide on the refund by next Wednesday."],
        ),
        (
            "agent",
            "The panel will look into your complaint this week.",
            ["Panel to look into the customer's complaint this week."],
        ),
        ("agent", "The panel will sit on Tuesday.", []),
        # money paid back in the passive, onto a bill or with only a time
        (
            "agent",
            "No, the 60 missing towels will be credited on this month's invoice.",
            ["Credit the 60 missing towels on this month's invoice."],
        ),
        (
            "agent",
            "Your deposit will be refunded by Friday.",
            ["Refund the customer's deposit by Friday."],
        ),
        ("agent", "The invoice will be paid by direct debit.", []),
        # any request put off to a time after the call is the customer's step
        (
            "agent",
            "Could you pull the shelving away from the wall tonight, so he can get to it?",
            ["Customer to pull the shelving away from the wall tonight."],
        ),
        ("agent", "Could you pull the shelving away from the wall for me?", []),
        # a name of three words after a condition; people sent somewhere to act
        (
            "agent",
            "If the check shows they're wrong, Clarity Lens Labs will remake them this week.",
            ["Clarity Lens Labs to remake them this week if the check shows they're wrong."],
        ),
        (
            "agent",
            "In this case, though, the site manager, Paul, will have two staff there on "
            "Saturday to move it all for you.",
            [
                "Site manager Paul to have two staff there on Saturday to move it all for the customer."
            ],
        ),
        ("agent", "In this case, the site manager, Paul, will have the keys.", []),
        # a comma joining acts of two actors: two steps, the condition kept with the first
        (
            "agent",
            "Once the bike is back, we'll send the battery to Veloria, they're going to ship "
            "a new one.",
            ["Send the battery to Veloria once the bike is back.", "Veloria to ship a new one."],
        ),
        (
            "agent",
            "Once the part arrives, they'll fit it.",
            ["The team to fit it once the part arrives."],
        ),
        # "were" states a fact outside a condition; inside one it is a hypothetical
        (
            "agent",
            "Our control room will write to the police today to confirm those were faults.",
            ["Control room to write to the police today to confirm those were faults."],
        ),
        ("agent", "If it were up to me, we'd send a new one.", []),
        # a request opened by "one more thing", its object a pronoun, its verb unlisted before
        (
            "agent",
            "One more thing, could you measure it with the roof box on by Thursday?",
            ["Customer to measure it with the roof box on by Thursday."],
        ),
        # a pronoun inside a title-case name stays; "you send" said of the customer agrees
        (
            "agent",
            "Please switch off Find My Device before you send your phone tomorrow.",
            ["Customer to switch off Find My Device before they send their phone tomorrow."],
        ),
        (
            "agent",
            "I'll call you once you get home tonight.",
            ["Call the customer once they get home tonight."],
        ),
        # someone the customer must have somewhere; "have a look" is no such step
        (
            "agent",
            "You'd need to have someone with a forklift licence there to sign for it.",
            ["Customer to have someone with a forklift licence there to sign for it."],
        ),
        ("agent", "You'll need to have a look at the manual.", []),
        # "otherwise" after the need is a warning; before it, the other branch
        (
            "agent",
            "You'd need to post the phone within 14 days, otherwise they can't process it.",
            ["Customer to post the phone within 14 days, otherwise they can't process it."],
        ),
        ("agent", "Otherwise you'd need to pay the fee.", []),
        # a bare verb after a request in the same sentence is asked too, as one step
        (
            "agent",
            "Could you keep bay 12 cordoned off, and email me a photo of the upright today?",
            [
                "Customer to keep bay 12 cordoned off and email the agent a photo of the upright today."
            ],
        ),
        # someone sent to act is that person's step; a letter sent is the agent's
        (
            "agent",
            "Our partner, AquaServ, is sending an engineer, Dave Rooney, to swap the unit today.",
            ["Engineer Dave Rooney to swap the unit today."],
        ),
        (
            "agent",
            "We're sending you a letter to confirm it.",
            ["Send the customer a letter to confirm it."],
        ),
        # a check run or a record opened in the call answers the customer now; later, a step
        ("agent", "I'm running a remote signal test now.", []),
        ("agent", "I'm just opening the lift log for Tuesday.", []),
        (
            "agent",
            "I'll run a full line test tomorrow morning.",
            ["Run a full line test tomorrow morning."],
        ),
        # "will be in touch" is a contact; "will be" with a state is none
        (
            "agent",
            "Customer relations will be in touch within five working days.",
            ["Customer relations to contact the customer within 5 working days."],
        ),
        ("agent", "He'll be due about now.", []),
        # "let <someone>, <name>, know" is a step; "tell you what…" inside a call back is one too
        (
            "agent",
            "I'm going to let our practice manager, Karen, know.",
            ["Let the practice manager, Karen, know."],
        ),
        (
            "agent",
            "If you haven't heard from her by four, I'll ring you and tell you what's happening.",
            [
                "Call the customer and tell them what's happening if the customer hasn't heard from her by 4."
            ],
        ),
        # having is no act; a sign-off is no promise
        ("agent", "The earliest slot I've got is Tuesday the 18th at 10am.", []),
        ("agent", "No problem at all, we'll speak soon.", []),
        ("agent", "I'll speak to the warehouse tomorrow.", ["Speak to the warehouse tomorrow."]),
        # a thing named by a time is no date to come for an act already done
        ("agent", "I've already taken them off this month's invoice.", []),
        ("agent", "I've booked the engineer for Thursday.", ["Book the engineer for Thursday."]),
        # a contingency to reply is advice for a case that may not come; coping is no act
        (
            "agent",
            "If the parcel hasn't come by Monday, just reply to my email and I'll chase it.",
            ["Chase it."],
        ),
        ("customer", "Don't worry, we'll manage until then.", []),
        ("customer", "Thanks, we'll manage.", []),
        (
            "customer",
            "I'll manage the booking myself tomorrow.",
            ["Customer to manage the booking themselves tomorrow."],
        ),
        # a hold however it is said is the call itself; "do" with nothing done is no act,
        # nor is the customer being away; being where a visit needs them is a step
        ("agent", "I'll just pop you on hold for a minute while I speak to the team.", []),
        ("agent", "Please do, because the January shipment goes on the card on file.", []),
        ("customer", "I'm going to be on the road most of October.", []),
        ("agent", "So here's what I'm doing.", []),
        # the day a change done in the call takes effect is no time to come
        ("agent", "I've moved your licence over to Forty-one Kingsway, effective from today.", []),
        # a named person acting after "Either way,"; a refund with what it usually takes
        (
            "agent",
            "Either way, Helen is going to review the check with the team on Monday.",
            ["Helen to review the check with the team on Monday."],
        ),
        (
            "agent",
            "I've refunded the forty-five pounds to your card. It usually takes three to five "
            "days to show on your statement.",
            [
                "Refund the forty-five pounds to the customer's card, it usually takes 3 to 5 "
                "days to show on their statement."
            ],
        ),
        (
            "customer",
            "I'll be home all day Friday for the engineer.",
            ["Customer to be home all day Friday for the engineer."],
        ),
        # someone the agent booked to act acts; a role with where it is from or a long name
        # acts; a team sending someone is under way; what "she'll see" follows the act before
        (
            "agent",
            "I've booked our account manager, Priya Nair, to visit you at the hotel on Monday.",
            ["Account manager Priya Nair to visit the customer at the hotel on Monday."],
        ),
        (
            "agent",
            "Then a loss adjuster from Meridian Claims will call you within forty-eight hours.",
            ["Loss adjuster from Meridian Claims to call the customer within 48 hours."],
        ),
        (
            "agent",
            "Once your photos are in, Doctor Okafor's clinical team will review them within "
            "two business days.",
            [
                "Doctor Okafor's clinical team to review them within 2 business days once the "
                "customer's photos are in."
            ],
        ),
        (
            "agent",
            "The team at our Place Caron shop will have all four sets ready for you on Sunday.",
            [
                "Team at our Place Caron shop to have all four sets ready for the customer on Sunday."
            ],
        ),
        (
            "agent",
            "The dispatch team are sending a rider to number fourteen to collect the envelope.",
            ["Dispatch team to send a rider to number fourteen to collect the envelope."],
        ),
        (
            "agent",
            "I'm sending a fresh invite to her address now, and she'll see it in her inbox "
            "within the hour.",
            ["Send a fresh invite to her address, she'll see it in her inbox within the hour."],
        ),
        # the condition of the agent's act asks for the customer's, after a topic too; what is
        # to be made sure of may be negative
        (
            "agent",
            "On the plumber's bill, if you email me the invoice today, we'll pay it back to you "
            "this week.",
            [
                "Customer to email the agent the invoice today.",
                "Pay it back to the customer this week.",
            ],
        ),
        (
            "agent",
            "Could you make sure the side gate is unlocked on Wednesday and the panel isn't "
            "blocked?",
            [
                "Customer to make sure the side gate is unlocked on Wednesday and the panel "
                "isn't blocked."
            ],
        ),
        # a verb whose past is its base form tells what happened; what only may follow a
        # done act is no consequence
        ("customer", "I put it in on Sunday and there's a crack running up the side.", []),
        ("agent", "I've added your mobile number to the booking, so the shop can reach you.", []),
        # what the customer wants to be sure of is no promise; replying to "our last email" if
        # something fails is advice for a case that may not come; a new end date set in the
        # call is no time to come
        ("customer", "I'm not keen on the waiting list. I need to know I'll have a car.", []),
        (
            "agent",
            "If the upload doesn't work for any reason, just reply to our last email and "
            "attach the photo there.",
            [],
        ),
        ("agent", "Given what happened, I've extended it to the thirtieth of next month.", []),
        ("agent", "I've extended your voucher until Friday.", []),
        # a credit that will "come off" a later bill is a consequence to come
        (
            "agent",
            "I've put a twenty pound goodwill credit on your account, and it'll come off next "
            "year's sweep automatically.",
            [
                "Put a twenty pound goodwill credit on the customer's account, it'll come off "
                "next year's sweep automatically."
            ],
        ),
        (
            "agent",
            "I've added a twenty-five dollar credit to your account, which will come off your "
            "January shipment.",
            [
                "Add a twenty-five dollar credit to the customer's account, which will come off "
                "their January shipment."
            ],
        ),
        # a third party's act done is a step by its consequence, not by a date that may be
        # past; someone "booked to" act acts; "the day before" is no part of who texts
        (
            "agent",
            "Billing has already voided the second charge, and you'll see it back on your card "
            "within five business days.",
            [
                "Billing to void the second charge, the customer will see it back on their card "
                "within 5 business days."
            ],
        ),
        (
            "agent",
            "Yes, the driver has marked it 60 towels short, the depot ran out on Monday.",
            [],
        ),
        ("agent", "The team has looked at it.", []),
        (
            "agent",
            "Craig is booked to come back on Thursday the twelfth to fit the island top.",
            ["Craig to come back on Thursday the twelfth to fit the island top."],
        ),
        (
            "agent",
            "I've spoken to dispatch, and Manny's booked for tomorrow at nine to install it.",
            ["Manny to install it tomorrow at nine."],
        ),
        (
            "agent",
            "I'm refunding the duplicate charge right now. There, that's gone through. You'll "
            "see it back on your card within three to five business days.",
            [
                "Refund the duplicate charge, the customer will see it back on their card "
                "within 3 to 5 business days."
            ],
        ),
        ("agent", "I've just resent it to your Gmail, it should be there now.", []),
        (
            "agent",
            "On the Thursday itself, could you make sure someone over eighteen is at home?",
            ["Customer to make sure someone over eighteen is at home on Thursday."],
        ),
        (
            "agent",
            "Tomorrow morning, could you send us the photos?",
            ["Customer to send the company the photos tomorrow morning."],
        ),
        ("agent", "First thing, can you switch it off at the wall for me now?", []),
        (
            "agent",
            "And because of the slope, I'm asking our site manager, Declan Byrne, to come out on "
            "Tuesday and check the ground.",
            ["Site manager Declan Byrne to come out on Tuesday and check the ground."],
        ),
        (
            "agent",
            "Billing caught that one. They reversed the second charge yesterday, so you'll see it "
            "back on your card within three to five business days.",
            [
                "Billing to reverse the second charge yesterday, the customer will see it back on "
                "their card within 3 to 5 business days."
            ],
        ),
        (
            "agent",
            "It's under warranty, so I'm scheduling a technician to come out and replace the "
            "control valve.",
            ["Technician to come out and replace the control valve."],
        ),
        (
            "agent",
            "I'm sending them to our lab for testing.",
            ["Send them to the lab for testing."],
        ),
        ("agent", "No, Gary will take them away with him.", ["Gary to take them away with him."]),
        ("agent", "The refund will take three days.", []),
        ("agent", "One moment, I'll bring it up.", []),
        (
            "customer",
            "I already called my bank, and they said they'll reverse one of them once the studio "
            "confirms in writing that it was a mistake.",
            [
                "Customer's bank to reverse one of them once the studio confirms in writing that "
                "it was a mistake."
            ],
        ),
        (
            "customer",
            "My mortgage broker actually said she'll ask Halifax to extend the offer by a month.",
            ["Customer's mortgage broker to ask Halifax to extend the offer by a month."],
        ),
        ("customer", "They said they would call me back and they never did.", []),
        (
            "agent",
            "Done. Harbor Outfitters will have four rod setups waiting for you at the dock at "
            "five thirty.",
            [
                "Harbor Outfitters to have four rod setups waiting for the customer at the dock "
                "at five thirty."
            ],
        ),
        (
            "agent",
            "So what I need from you is the storage agreement signed. If you sign it and send it "
            "back before the twentieth, we can hold the two containers for you.",
            ["Customer to sign the storage agreement before the twentieth."],
        ),
        (
            "agent",
            "If you can sign it and get it back to me by the thirty-first, it goes to our "
            "membership director for sign-off.",
            ["Customer to sign it and get it back to the agent by the 31st."],
        ),
        (
            "agent",
            "Our lift planner, Karen Walsh, will revise it for the Aire Valley crane and email "
            "it to you by Friday noon.",
            [
                "Lift planner Karen Walsh to revise it for the Aire Valley crane and email it to "
                "the customer by Friday noon."
            ],
        ),
        (
            "customer",
            "I'll stick a sign on the machine this afternoon telling people not to put coins in.",
            [
                "Customer to stick a sign on the machine this afternoon telling people not to put "
                "coins in."
            ],
        ),
        (
            "agent",
            "Could you do me a favor and email me a photo of one of the wrong plates today?",
            ["Customer to email the agent a photo of one of the wrong plates today."],
        ),
        ("agent", "Could you do two things on your end?", []),
        (
            "agent",
            "I've booked a FedEx pickup for tomorrow at four, so FedEx will have them with you by "
            "noon on Thursday.",
            ["FedEx to have them with the customer by noon on Thursday."],
        ),
        (
            "agent",
            "I'm putting a credit of thirty-six pounds fifty on your account, so it'll come off "
            "your March invoice. Our invoicing team will email you a credit note within two "
            "working days.",
            [
                "Put a credit of thirty-six pounds fifty on the customer's account, it'll come "
                "off their March invoice.",
                "Invoicing team to email the customer a credit note within 2 working days.",
            ],
        ),
        (
            "agent",
            "I've escalated this to our service manager, Priya Shah. And Priya's going to ring "
            "you herself this afternoon.",
            ["Service manager Priya Shah to call the customer herself this afternoon."],
        ),
        (
            "agent",
            "Priya's going to ring you this afternoon.",
            ["Priya to call the customer this afternoon."],
        ),
        ("agent", "Email it to me by Friday.", ["Customer to email it to the agent by Friday."]),
        (
            "agent",
            "Have a think about the wording and email it to me by Friday, so I've got time to "
            "get it engraved.",
            ["Customer to email it to the agent by Friday."],
        ),
        (
            "agent",
            "Our partner, Bellweather Rug Works, will call you to set up a pickup, and get it "
            "back to you within ten days.",
            ["Partner Bellweather Rug Works to call the customer to set up a pickup."],
        ),
        (
            "agent",
            "And this time I'll text you the moment it's ready, I promise.",
            ["Text the customer the moment it's ready."],
        ),
        (
            "agent",
            "I'll refit it with museum glass, which is anti-reflective and much tougher.",
            ["Refit it with museum glass."],
        ),
        (
            "agent",
            "I'll text you your callback number tonight, which is WC402.",
            ["Text the customer their callback number tonight, which is WC402."],
        ),
        (
            "agent",
            "I'll bring it up at the team meeting tomorrow.",
            ["Bring it up at the team meeting tomorrow."],
        ),
        (
            "customer",
            "I'm at work all week, but my husband will drop it back in to you on Saturday "
            "morning, if that's alright.",
            ["Customer's husband to drop it back in to the agent on Saturday morning."],
        ),
        (
            "agent",
            "And the rug goes to our specialist partner, Bellweather Rug Works. They'll call you "
            "to set up a pickup.",
            ["Bellweather Rug Works to call the customer to set up a pickup."],
        ),
        (
            "agent",
            "We use our trade-in partner, ReCell. Once ReCell has checked the phone, they'll pay "
            "the money into your bank account.",
            [
                "ReCell to pay the money into the customer's bank account once ReCell has checked "
                "the phone."
            ],
        ),
        (
            "agent",
            "It's now one thousand and eighty pounds outstanding, and we'll need that paid before "
            "the end of the month.",
            ["Customer to pay that before the end of the month."],
        ),
        ("agent", "We'll need that paid in full, I'm afraid.", []),
        (
            "agent",
            "One thing I'd like you to do before Marcus comes: use the test strips to check the "
            "hardness at the kitchen faucet, and text us the reading by Monday.",
            [
                "Customer to use the test strips to check the hardness at the kitchen faucet and "
                "text the company the reading by Monday."
            ],
        ),
        (
            "agent",
            "Now, because of Tuesday, I'm going to put a refund through, and it'll be back in your "
            "account by Friday.",
            ["Put a refund through, it'll be back in the customer's account by Friday."],
        ),
        (
            "agent",
            "So what I need from you is the storage agreement signed.",
            ["Customer to sign the storage agreement."],
        ),
        (
            "agent",
            "All we need from you is the claim form completed by the end of the month.",
            ["Customer to complete the claim form by the end of the month."],
        ),
        (
            "agent",
            "It looks like our billing office has already reversed the overcharge, so you'll "
            "see eighty-five dollars back on your card within five to seven business days.",
            [
                "Billing office to reverse the overcharge, the customer will see eighty-five "
                "dollars back on their card within 5 to 7 business days."
            ],
        ),
        (
            "agent",
            "The depot's sending it on tonight's truck. It'll be at our branch by seven "
            "tomorrow morning.",
            ["Depot to send it on tonight's truck, it'll be at the branch by 7 tomorrow morning."],
        ),
        ("agent", "The depot's sending it back to the manufacturer.", []),
        (
            "agent",
            "I've just resent it to your Gmail, it should be there in a minute.",
            ["Resend it to the customer's Gmail, it should be there in a minute."],
        ),
        (
            "agent",
            "You'll get a text from our scheduling team the day before with his arrival time.",
            ["Scheduling team to text the customer the day before with his arrival time."],
        ),
        # what suffices is no act, nor a thing of the account; a request announced is made
        # after; a credit applied now that shows on the next bill is a step; a request after
        # a colon is read on its own; what the agent's side needs by a date is asked for; an
        # instruction that waits for an event is no check made in the call
        ("customer", "Three months should do it, hopefully.", []),
        ("agent", "So the freeze will run through to the first of September.", []),
        ("agent", "Could you do something for me this evening?", []),
        (
            "agent",
            "I'm applying one hundred and sixty pounds to your account now, and you'll see it on "
            "your next bill.",
            [
                "Apply one hundred and sixty pounds to the customer's account, they will see it on "
                "their next bill."
            ],
        ),
        (
            "agent",
            "One thing that'd help: could you email us a photo of your meter by Monday?",
            ["Customer to email the company a photo of their meter by Monday."],
        ),
        (
            "agent",
            "We'll need your final guest numbers by the first of March.",
            ["Customer to send the company their final guest numbers by the first of March."],
        ),
        (
            "agent",
            "When the bottle arrives, please check the label says point-three milligrams.",
            ["Customer to check the label says point-three milligrams when the bottle arrives."],
        ),
        (
            "agent",
            "No, you're not. I've raised a credit note for the forty-five pound delivery charge, so accounts will take it off your next statement.",
            [
                "Accounts to take the forty-five pound delivery charge off the customer's next statement."
            ],
        ),
        (
            "agent",
            "I've asked Marcus in our billing department about the late fee, and he's agreed to refund the thirty-five dollar late fee to your card by the twelfth.",
            [
                "Billing department to refund the thirty-five dollar late fee to the customer's card by the twelfth."
            ],
        ),
        (
            "agent",
            "I spoke to my supervisor, and because the library was closed, she's agreed to waive all forty-two pounds and lift the hold.",
            [],
        ),
        (
            "agent",
            "To keep it moving, I need you to reply to the quote email with your approval by noon tomorrow, otherwise the job drops back into the normal queue.",
            [
                "Customer to reply to the quote email with their approval by noon tomorrow, otherwise the job drops back into the normal queue."
            ],
        ),
        (
            "agent",
            "For any of this to go through, I need you to update the card on file by the end of today.",
            ["Customer to update the card on file by the end of today."],
        ),
        (
            "agent",
            "What I do need is for you to have it off the bed frame and near the front door on the day, with all the bedding off.",
            [
                "Customer to have it off the bed frame and near the front door on the day, with all the bedding off."
            ],
        ),
        (
            "agent",
            "I'll issue the refund the same day GreenHaul confirm the pickup, and it usually shows up five to seven business days after that.",
            [
                "Issue the refund the same day GreenHaul confirm the pickup, it usually shows up 5 to 7 business days after that."
            ],
        ),
        (
            "customer",
            "I'll email you a photo of the law tag tonight, just so you've got proof it's the right mattress.",
            ["Customer to email the agent a photo of the law tag tonight."],
        ),
        (
            "agent",
            "Because of the delay I've already waived the one-fifty rush fee, so you get priority handling at the standard price.",
            [],
        ),
        (
            "agent",
            "Tomorrow morning the driver collects it from Kidlington Autos and brings it to Parkside Motors on Oxford Road.",
            [
                "Driver to collect it from Kidlington Autos and bring it to Parkside Motors on Oxford Road tomorrow morning."
            ],
        ),
        (
            "agent",
            "When the lab flags a sample, our warehouse sends out a replacement kit, and yours went out this morning.",
            [],
        ),
        (
            "agent",
            "The driver usually rings you when he's ten minutes away.",
            [],
        ),
        (
            "agent",
            "Tom in our workshop will have the replacement set up and tuned by Friday afternoon, and you bring the damaged one into the Clifton shop on Saturday morning.",
            [
                "Tom in our workshop to have the replacement set up and tuned by Friday afternoon.",
                "Customer to bring the damaged one into the Clifton shop on Saturday morning.",
            ],
        ),
        (
            "agent",
            "I'll text you a payment link now, and as long as you pay it by Friday, that's all we need from you.",
            ["Text the customer a payment link.", "Customer to pay it by Friday."],
        ),
        (
            "agent",
            "The good news is you get the upgrade for free.",
            [],
        ),
        (
            "agent",
            "Not at all. Let me send you a letter confirming all of this after we hang up, so you've got it in writing.",
            ["Send the customer a letter confirming all of this after the call."],
        ),
        (
            "agent",
            "Let me check the diary for tomorrow.",
            [],
        ),
        (
            "agent",
            "I'll pop a new gift aid form in the post with the letter, and if you could fill it in and send it back in the freepost envelope, that'd be lovely.",
            [
                "Post a new gift aid form with the letter.",
                "Customer to fill it in and send it back in the freepost envelope.",
            ],
        ),
        (
            "agent",
            "It needs signing by both of you, and then sent back with a copy of a recent bank statement showing both names.",
            [
                "Customer to sign it and send it back with a copy of a recent bank statement showing both names."
            ],
        ),
        (
            "agent",
            "Our pictures specialist is Caroline Marsh. She'll give you a ring next week to arrange a valuation.",
            [
                "Pictures specialist Caroline Marsh to call the customer next week to arrange a valuation."
            ],
        ),
        (
            "agent",
            "Then for the title itself, the best thing would be to bring it to a branch in person once the seller has filled in the odometer section.",
            [
                "Customer to bring it to a branch in person once the seller has filled in the odometer section."
            ],
        ),
        (
            "agent",
            "But the printout I'm sending you shows the application was pending, and courts usually dismiss it with that.",
            [],
        ),
        (
            "agent",
            "Marcus, our designer, will redraw the stand at the correct size with the new logo and send you the drawings by end of day tomorrow.",
            [
                "Designer Marcus to redraw the stand at the correct size with the new logo and send the customer the drawings by end of day tomorrow."
            ],
        ),
        (
            "agent",
            "You won't be charged for the redraw, and I've asked accounts to take the rush fee off, so the four hundred and fifty pounds will come off your final invoice.",
            [
                "Accounts to take the rush fee off, the four hundred and fifty pounds will come off the customer's final invoice."
            ],
        ),
        (
            "agent",
            "And I'll be at the NEC myself on the morning of the twentieth to hand the stand over to you.",
            ["Hand the stand over to the customer."],
        ),
        (
            "agent",
            "If you weren't happy after Natalie's done it, we'd refund the colour service in full. But I really think she'll sort it.",
            [],
        ),
        (
            "agent",
            "Yep, those came in last week. Derek will stop by on Tuesday to put them on for you.",
            ["Derek to stop by on Tuesday to put them on for the customer."],
        ),
        (
            "agent",
            "The community inspector's going to come by on Thursday to look at it.",
            ["Community inspector to come by on Thursday to look at it."],
        ),
        (
            "agent",
            "Could you bring the photo you showed Jade on Saturday?",
            ["Customer to bring the photo they showed Jade on Saturday."],
        ),
        (
            "customer",
            "Oh, the photos. Yeah, that's on me. My business partner, Rory, has them all on his laptop. He'll send them over tonight, I'll make sure of it.",
            ["Customer's business partner Rory to send them over tonight."],
        ),
        (
            "agent",
            "Perfect. I'll be checking the site myself on Saturday morning, to make sure everything's behaving after the switch.",
            [
                "Check the site on Saturday morning, to make sure everything's behaving after the switch."
            ],
        ),
        (
            "customer",
            "Just make sure he turns up tomorrow, because I won't be ringing you again, I'll be ringing someone else.",
            [],
        ),
        (
            "agent",
            "I'm going to chase them on Monday morning anyway, just so it doesn't slip.",
            ["Chase them on Monday morning."],
        ),
        (
            "agent",
            "Make sure he brings the signed medical form on the first morning, or the instructor can't let him in the water.",
            [
                "Customer to bring the signed medical form on the first morning, or the instructor can't let him in the water."
            ],
        ),
        (
            "agent",
            "The online theory stays open, so you'll want to have both of your modules finished before the first day.",
            ["Customer to have both of their modules finished before the first day."],
        ),
        (
            "customer",
            "We'll talk about it after the summer.",
            [],
        ),
        (
            "agent",
            "The fulfillment center has already printed them, so they'll go out in Monday's mail and should reach you by the end of next week.",
            [
                "Fulfillment center to go out in Monday's mail and should reach the customer by the end of next week."
            ],
        ),
        (
            "agent",
            "I've just messaged Mei, our translator, and she's confirmed she'll have the certified translation done by Thursday. Daniel will then lodge your application on Friday.",
            [
                "Translator Mei to have the certified translation done by Thursday.",
                "Daniel to lodge the customer's application on Friday.",
            ],
        ),
        (
            "agent",
            "Lee, who covers Derby, will be with you tomorrow at eight a.m., and he'll service all eleven extinguishers and replace any that fail.",
            [
                "Lee to be with the customer tomorrow at eight a.m and service all eleven extinguishers and replace any that fail."
            ],
        ),
        (
            "agent",
            "And Luis, our camera tech, is back today, so he'll upload the sewer video tomorrow afternoon.",
            ["Camera tech Luis to upload the sewer video tomorrow afternoon."],
        ),
        (
            "agent",
            "Got it. I've added her to the job, so she'll get everything at the same time as you.",
            [],
        ),
        (
            "agent",
            "It's on hold because we're missing the English translation of your Polish police certificate.",
            [],
        ),
        (
            "agent",
            "You paid the seventy-five dollar rush fee, and since we didn't meet the turnaround, I'm going to refund that to your card.",
            ["Refund the seventy-five dollar rush fee to the customer's card."],
        ),
        (
            "agent",
            "The one thing we need from you is a fresh signature on the declaration form, because the old one's dated more than a month ago. I'll email it to you this afternoon.",
            ["Email the declaration form to the customer this afternoon."],
        ),
        (
            "customer",
            "I'll send you the receipt tonight once you've confirmed the address.",
            [
                "Customer to send the agent the receipt tonight once the agent has confirmed the address."
            ],
        ),
        (
            "agent",
            "Okay, good. I'll need you to upload that signed proof of delivery to the client portal this morning.",
            ["Customer to upload that signed proof of delivery to the client portal this morning."],
        ),
        (
            "agent",
            "The only thing we need from you is somebody there at eleven to let them in and unlock the roof hatch.",
            ["Customer to have somebody there at eleven to let them in and unlock the roof hatch."],
        ),
        (
            "agent",
            "Either way, a warranty claim will be opened with Kentwood by our warranty desk tomorrow.",
            ["Warranty desk to open a warranty claim with Kentwood tomorrow."],
        ),
        (
            "agent",
            "And for the inspection, the service certificate and the before and after photos will be emailed to you by our compliance coordinator, Linda, tomorrow morning.",
            [
                "Compliance coordinator Linda to email the service certificate and the before and after photos to the customer tomorrow morning."
            ],
        ),
        (
            "agent",
            "Your refund will be processed by Friday.",
            [],
        ),
        (
            "agent",
            "You'll be contacted by our landscaping partner, Greenline, in April to book the interlock repair.",
            [
                "Landscaping partner Greenline to contact the customer in April to book the interlock repair."
            ],
        ),
        (
            "agent",
            "I've just spoken to the warehouse in Palmerston North and they're sending the correct pump up on the overnight freight today.",
            ["Warehouse to send the correct pump up on the overnight freight today."],
        ),
        (
            "agent",
            "Give me two minutes, I'm going to ring the warehouse.",
            [],
        ),
        (
            "customer",
            "I'm at work on Wednesday, but my wife works from home, so she'll be in to hand it over to the driver.",
            ["Customer's wife to hand it over to the driver."],
        ),
        (
            "agent",
            "So Suresh will let out the shoulders and shorten the trousers by Monday.",
            ["Suresh to let out the shoulders and shorten the trousers by Monday."],
        ),
        (
            "agent",
            "Yes, we'd like you to come in for a second trial on Tuesday at six in the evening, so we can check the shoulders before the final press. Can you make that?",
            ["Customer to come in for a second trial on Tuesday at six in the evening."],
        ),
        (
            "agent",
            "That's done by our embroidery unit in Chickpet, and they'll finish it by Thursday, after your Tuesday trial.",
            ["Embroidery unit to finish it by Thursday, after the customer's Tuesday trial."],
        ),
        (
            "agent",
            "The pilot, Lerato, stopped after the east block because the wind picked up. She'll come out on Thursday and start at six in the morning, when the wind is lowest, and spray the thirty hectares by the river.",
            [
                "Pilot Lerato to come out on Thursday and start at six in the morning, when the wind is lowest and spray the thirty hectares by the river."
            ],
        ),
        (
            "agent",
            "You've got cattle in the camp next to the river block, haven't you? They'll need to be out of that camp by Wednesday evening.",
            [],
        ),
        (
            "agent",
            "Expect a call from our pilot, Graham Pryce, between six and seven on the Friday evening, to confirm whether the flight's on.",
            [
                "Pilot Graham Pryce to call the customer between six and seven on the Friday evening, to confirm whether the flight's on."
            ],
        ),
        (
            "customer",
            "Our son's driving us up from Leeds, so I'll let him know about the fourteenth tonight.",
            ["Customer to tell him about the fourteenth tonight."],
        ),
        (
            "agent",
            "Please hang on to the split bags and the box for now, because the carrier will want to inspect them.",
            [
                "Customer to hang on to the split bags and the box, because the carrier will want to inspect them."
            ],
        ),
        (
            "agent",
            "Dave's on the roaster tomorrow. He'll do a fresh batch of house espresso first thing, and we'll overnight both to you, so they'll land Thursday before noon.",
            [
                "Dave to do a fresh batch of house espresso first thing.",
                "Overnight both to the customer, they'll land Thursday before noon.",
            ],
        ),
        (
            "agent",
            "And I'll have accounts credit you for it, that's sixty-four dollars off your next invoice.",
            [
                "Accounts to credit the customer for it, that's sixty-four dollars off their next invoice."
            ],
        ),
        (
            "agent",
            "The owner signs off every refund, so he'll need to see the ticket first.",
            [],
        ),
        (
            "agent",
            "You'll be hearing from our accounts department by Wednesday with a corrected invoice.",
            ["Accounts department to contact the customer by Wednesday with a corrected invoice."],
        ),
        (
            "agent",
            "I'll SMS you on Wednesday afternoon to confirm Thursday is going ahead.",
            ["SMS the customer on Wednesday afternoon to confirm Thursday is going ahead."],
        ),
        (
            "agent",
            "Okay, good news. Anika will see you on Wednesday the twentieth at four fifteen to trim the right one down and add extra cushioning under the heel.",
            ["Anika to trim the right one down and add extra cushioning under the heel."],
        ),
        (
            "agent",
            "What would really help is if you bring both pairs of work boots with you, so she can fit the orthotics to what you're actually wearing.",
            ["Customer to bring both pairs of work boots with them."],
        ),
        (
            "agent",
            "The resort is replacing the balconies this fall, and the project manager who's running the balcony work down there is going to write to all the owners in building C with the schedule.",
            ["Project manager to write to all the owners in building C with the schedule."],
        ),
        (
            "agent",
            "The installer who fitted your original wraps, Marco, is going to strip and re-apply both rear door panels on Thursday the ninth, and he'll seal every edge properly this time.",
            [
                "Installer Marco to strip and re-apply both rear door panels on Thursday the ninth.",
                "Installer Marco to seal every edge properly this time.",
            ],
        ),
        (
            "agent",
            "Sorry about that. Leave it with me, I'll call you on Friday to tell you where the review's at.",
            ["Call the customer on Friday to tell them where the review's at."],
        ),
        (
            "agent",
            "About four hours. If you could drop the van at our Eagle Farm workshop by seven thirty that morning, he can get straight onto it.",
            ["Customer to drop the van at the Eagle Farm workshop by 7:30 that morning."],
        ),
        (
            "agent",
            "Any weekday from seven till four. I've put before two in his notes.",
            [],
        ),
        (
            "agent",
            "So it's the nine by twelve metre marquee, and I'll email you the plan by five today.",
            ["Email the customer the plan by 5 today."],
        ),
        (
            "customer",
            "I'm seeing my family doctor on Monday to get the referral, and Blue Cross said they'll reprocess the claim once they have it.",
            [
                "Customer to see their family doctor on Monday to get the referral.",
                "Blue Cross to reprocess the claim once they have it.",
            ],
        ),
        (
            "agent",
            "And could you have any empties out the front, ready for him to pick up?",
            ["Customer to have any empties out the front, ready for him to pick up."],
        ),
        (
            "agent",
            "Lovely. Can I ask you to take a few photos of the ceiling and email them to us before Tuesday?",
            [
                "Customer to take a few photos of the ceiling and email them to the company before Tuesday."
            ],
        ),
        (
            "agent",
            "Are you able to box up the forty plain shirts and have them ready at the front office on Friday?",
            [
                "Customer to box up the forty plain shirts and have them ready at the front office on Friday."
            ],
        ),
        (
            "agent",
            "Once it's signed, our porting team will resubmit it, and your number will move across on Thursday at ten in the morning.",
            ["Porting team to resubmit it once it's signed."],
        ),
        (
            "customer",
            "I spoke to our landlord about it this morning, and they're sending someone to fit thermostatic valves on those radiators next week.",
            ["Customer's landlord to fit thermostatic valves on those radiators next week."],
        ),
        (
            "agent",
            "I'll keep on top of it myself. I'll ring you Wednesday afternoon once it's been tested.",
            ["Call the customer Wednesday afternoon once it's been tested."],
        ),
        (
            "agent",
            "That's perfect. I'll be in touch by Thursday to let you know the account's active again.",
            ["Contact the customer by Thursday to let them know the account's active again."],
        ),
        (
            "agent",
            "What I'd ask is that you stick it to the inside of the windshield, behind the rear-view mirror, tonight.",
            [
                "Customer to stick it to the inside of the windshield, behind the rear-view mirror, tonight."
            ],
        ),
        (
            "agent",
            "Perfect. When the courier drops off the new ones, he'll take the box of old ones back with him.",
            [
                "Courier to take the box of old ones back with him when the courier drops off the new ones."
            ],
        ),
    ],
)
def test_commitments_and_vetoes(speaker: str, text: str, found: list[str]) -> None:
    steps = next_steps(said((speaker, text)))
    assert [s.value for s in steps] == found
    for s in steps:
        assert s.party_id == f"p-{speaker}"
        assert 0.5 <= s.probability <= 1


def test_a_recap_and_a_late_yes_add_no_step() -> None:
    steps = next_steps(
        said(
            (
                "agent",
                "What you'll need to do is go to the ticket office at Brighton station tomorrow "
                "morning with photo ID.",
            ),
            ("customer", "Any ID?"),
            ("agent", "Passport or driving licence."),
            # the yes to the request two turns back: the request is the step
            ("customer", "Fine, I'll go first thing."),
            ("agent", "I'll call you on Friday afternoon to check the work's been done."),
            ("customer", "Great."),
            # the recap says the call again in other words
            ("agent", "So just to recap: and I'll ring you on Friday afternoon."),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        (
            "customer",
            "Customer to go to the ticket office at Brighton station tomorrow morning with "
            "photo ID.",
        ),
        ("agent", "Call the customer on Friday afternoon to check the work's been done."),
    ]


def test_a_step_changed_with_instead_replaces_the_one_it_changes() -> None:
    steps = next_steps(
        said(
            ("agent", "I'll put a bottle of toning shampoo aside for you at the desk."),
            ("customer", "Oh, that's kind. I'll pop in on Wednesday to pick it up."),
            ("agent", "Great, it'll be behind the desk with your name on it."),
            (
                "customer",
                "Oh, actually, I'm working late all day Wednesday. I'll come in Thursday "
                "lunchtime for the shampoo instead.",
            ),
            # "instead of" changes no step
            ("agent", "I'll email you the invoice for forty instead of seventy today."),
            ("agent", "And accounts will credit you sixty pounds instead of forty by Friday."),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("agent", "Put a bottle of toning shampoo aside for the customer at the desk."),
        ("customer", "Customer to come in Thursday lunchtime for the shampoo instead."),
        ("agent", "Email the customer the invoice for forty instead of seventy today."),
        ("third party", "Accounts to credit the customer sixty pounds instead of forty by Friday."),
    ]


def test_what_the_customer_reports_others_will_do_is_theirs_unless_household() -> None:
    steps = next_steps(
        said(
            ("customer", "I'd already rung my bank about it, actually, before I rang you."),
            ("agent", "That's fine. What did they say?"),
            ("customer", "They're going to ring me back tomorrow about an indemnity claim."),
            ("agent", "No, that has to be the seller."),
            (
                "customer",
                "Okay. The seller's Mr. Park. I texted him earlier, and he said he'll meet me "
                "on Saturday to sign it.",
            ),
            ("customer", "My husband said he'll drop the form back on Friday."),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        (
            "third party",
            "Customer's bank to call the customer back tomorrow about an indemnity claim.",
        ),
        ("third party", "Mr. Park to meet the customer on Saturday to sign it."),
        ("customer", "Customer's husband to drop the form back on Friday."),
    ]


def test_a_recap_says_the_steps_again_and_adds_none() -> None:
    steps = next_steps(
        said(
            (
                "agent",
                "I'll pop a new gift aid form in the post with the letter, and if you could "
                "fill it in and send it back in the freepost envelope, that'd be lovely.",
            ),
            ("customer", "Yes, I can do that."),
            (
                "agent",
                "So, just to go over it. I'll post you a confirmation letter and a gift aid "
                "form, and you'll send the form back in the freepost envelope.",
            ),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("agent", "Post a new gift aid form with the letter."),
        ("customer", "Customer to fill it in and send it back in the freepost envelope."),
    ]


def test_a_recap_of_two_acts_and_a_new_matter_after_a_yes() -> None:
    steps = next_steps(
        said(
            ("agent", "I'll email you the collection confirmation this afternoon."),
            ("customer", "Great."),
            ("agent", "And I'll give you a ring on Thursday, just to make sure it's working."),
            ("customer", "Thank you."),
            # one recap sentence says both acts again
            (
                "agent",
                "So just to run through it: I'll send that email this afternoon and call you on "
                "Thursday.",
            ),
            ("agent", "I will need you to sign an updated care plan, though."),
            # the yes is the request; the step after a new matter is the customer's own
            (
                "customer",
                "I'll sign it and send it back. And actually, while I think of it, I'm changing "
                "the key safe code this weekend. I'll email the new code to the office on Sunday.",
            ),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("agent", "Email the customer the collection confirmation this afternoon."),
        ("agent", "Call the customer on Thursday, just to make sure it's working."),
        ("customer", "Customer to sign an updated care plan, though."),
        ("customer", "Customer to email the new code to the office on Sunday."),
    ]


def test_a_hand_over_done_in_the_call_is_carried_by_the_third_partys_step() -> None:
    steps = next_steps(
        said(
            ("agent", "I've booked a plumber for Friday. The plumber will replace the valve."),
            ("agent", "I'm passing this to our fraud team, and they'll call you tomorrow."),
            ("agent", "I've booked a courier for Monday morning."),
            # shipping is the agent's side's own act, whatever the warehouse does after it
            (
                "agent",
                "I'm shipping the ninth edition out to you today. The warehouse will email "
                "you a tracking number.",
            ),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("third party", "Plumber to replace the valve."),
        ("third party", "Fraud team to call the customer tomorrow."),
        ("agent", "Book a courier for Monday morning."),
        ("agent", "Ship the ninth edition out to the customer today."),
        ("third party", "Warehouse to email the customer a tracking number."),
    ]


def test_a_pronoun_acts_as_who_was_named_and_their_do_that_is_the_time_of_their_step() -> None:
    steps = next_steps(
        said(
            ("agent", "Your account has been with Priya Nair since May."),
            ("agent", "I've booked her to visit you at the hotel on Monday at ten."),
            ("agent", "Right, dispatch have a rider two streets away."),
            ("agent", "They're sending him to number fourteen to collect the envelope."),
            (
                "agent",
                "I've asked the circulation team to search the sorting room, and they'll do "
                "that by Friday.",
            ),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("third party", "Priya Nair to visit the customer at the hotel on Monday at ten."),
        ("third party", "Dispatch to send him to number fourteen to collect the envelope."),
        ("third party", "Circulation team to search the sorting room by Friday."),
    ]


def test_they_is_the_firm_introduced_by_name_not_a_person_named_before() -> None:
    steps = next_steps(
        said(
            ("agent", "Your sweep was yesterday, with Kieran."),
            (
                "agent",
                "We use a local firm called Brightpile Carpet Care, and they'll ring you by "
                "Thursday to book the clean.",
            ),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        (
            "third party",
            "Brightpile Carpet Care to call the customer by Thursday to book the clean.",
        )
    ]


def test_a_recogniser_loop_is_no_speech_and_a_step_said_twice_is_one() -> None:
    loop = [("customer", "I'm going to go to the next slide.")] * 3
    steps = next_steps(
        said(
            *loop, ("agent", "I'll send the label today."), ("agent", "I'll send the label today.")
        )
    )
    assert [s.value for s in steps] == ["Send the label today."]


def test_owners_clause_by_clause_and_they_named_from_the_team() -> None:
    steps = next_steps(
        said(
            ("agent", "I'm escalating the error to our billing engineers under ticket 58210."),
            ("agent", "They'll email you once the fix is deployed."),
            ("customer", "Okay. I'll forward you the invoice after this call."),
            ("agent", "Yes, I will add a note to your account, and I will email you a form."),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("agent", "Escalate the error to the billing engineers under ticket 58210."),
        ("third party", "Billing engineers to email the customer once the fix is deployed."),
        ("customer", "Customer to forward the agent the invoice after the call."),
        ("agent", "Add a note to the customer's account."),
        ("agent", "Email the customer a form."),
    ]


def test_she_and_he_are_the_person_the_agent_named_last_and_they_the_team() -> None:
    steps = next_steps(
        said(
            ("agent", "That's handled by your account manager, Helen Park."),
            ("agent", "I'll get her to call you by Friday."),
            ("agent", "I've also told our billing team. They'll email you the credit note."),
            ("agent", "He'll text you when he's on his way."),  # no person since the team
            ("agent", "Sam, the installer, is on it. He'll be there at noon."),
            ("agent", "There's a board at our Leeds depot. Darren can fit it on Friday."),
            ("agent", "When the new board arrives, he'll come back and swap it in."),
            ("agent", "The driver will come at seven, and he'll ring you before he gets there."),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("third party", "Account manager Helen Park to call the customer by Friday."),
        ("third party", "Billing team to email the customer the credit note."),
        ("third party", "Billing team to text the customer when he's on his way."),
        ("third party", "Installer Sam to be there at noon."),
        ("third party", "Darren to come back and swap it in when the new board arrives."),
        # one person's visit said in two clauses of a turn is one step
        ("third party", "Driver to come at seven and call the customer before he gets there."),
    ]


def test_one_persons_visit_in_one_turn_is_one_step() -> None:
    steps = next_steps(
        said(
            ("agent", "Alison will be with you on Tuesday, and she'll look at the sticking key."),
            ("agent", "The engineer will come on Friday."),
            ("agent", "He'll text you when he's on his way."),  # another turn: a step of its own
            ("agent", "The courier will collect it, and the warehouse will refund you."),
        )
    )
    assert [(s.owner, s.value) for s in steps] == [
        ("third party", "Alison to be with the customer on Tuesday and look at the sticking key."),
        ("third party", "Engineer to come on Friday."),
        ("third party", "Engineer to text the customer when he's on his way."),
        ("third party", "Courier to collect it."),
        ("third party", "Warehouse to refund the customer."),
    ]


def test_troubleshooting_on_the_line_is_no_step_unless_put_off() -> None:
    on_the_line = said(
        ("agent", "Let's try something together first. Could you unplug the box at the wall?"),
    )
    assert next_steps(on_the_line) == []
    later = said(("agent", "Let's try something. Could you restart the router tonight?"))
    assert [s.value for s in next_steps(later)] == ["Customer to restart the router tonight."]
    # the same request without the agent trying something now is a step
    asked = said(("agent", "I'm sorry. Could you unplug the box at the wall?"))
    assert [s.value for s in next_steps(asked)] == ["Customer to unplug the box at the wall."]


def test_the_shipped_classifier_on_held_out_sentences() -> None:
    """The packaged weights, loaded as the server loads them, on the sentence set's test
    split (never trained on): each sentence is read as the extractor reads it."""
    from callscope.insights.clauses import clauses, frame
    from callscope.insights.commitments import load_model

    rows = [
        json.loads(line)
        for line in (DATA / "sentences.jsonl").read_text().splitlines()
        if line.strip()
    ]
    test = [r for r in rows if r["split"] == "test"]
    assert len(rows) >= 300
    assert len(test) >= 60
    read = []
    for r in test:
        parts = clauses(r["text"], r["speaker"])
        pick = next((c for c in parts if frame(c).candidate), parts[0])
        read.append((pick, frame(pick)))
    model = load_model()
    p = model.probability(
        [c.text for c, _ in read], [f for _, f in read], [r["speaker"] for r in test], MiniLM()
    )
    predicted = p >= model.threshold
    gold = np.array([r["label"] == 1 for r in test])
    assert (predicted == gold).mean() >= 0.9
    # without the sentence model the frame-only weights decide
    p_frames = model.probability(
        [c.text for c, _ in read], [f for _, f in read], [r["speaker"] for r in test], None
    )
    assert ((p_frames >= model.threshold) == gold).mean() >= 0.85


def _scripted() -> list[Utterance]:
    script = json.loads(default_source().with_suffix(".json").read_text())
    return [
        Utterance(i, t["speaker"], f"p-{t['speaker']}", t["start"], t["end"], t["text"])
        for i, t in enumerate(script["turns"])
    ]


def test_the_bundled_call_from_its_script() -> None:
    analysis = analyze(_scripted(), 76.6)
    steps = [s.value for s in analysis.next_steps]
    assert steps == [
        "Send the customer a new password reset link by text message.",
        "Add a note to the customer's account.",
        "Email the customer instructions to whitelist the address today.",
    ]
    kinds = {h["kind"]: h for h in analysis.highlights}
    assert "locked out of my online account" in kinds["problem"]["value"]
    assert kinds["problem"]["speakerId"] == "p-customer"
    # the plan given when the customer asks what next settles it (the unlocking came first)
    assert kinds["resolution"]["value"].startswith("I will send you a new password reset link")
    assert kinds["commitment"]["value"].startswith("I will add a note to your account")
    # each highlight points at its utterance
    by_id = {u.id: u for u in _scripted()}
    for h in analysis.highlights:
        assert h["start"] == by_id[h["utteranceId"]].start
    # The summary: the reason, what was done, what was agreed, in the third person.
    assert analysis.summary.startswith(
        "The customer reported that they are locked out of their online account."
    )
    assert "The agent unlocked it." in analysis.summary
    assert "Agreed next steps: Send the customer a new password reset link" in analysis.summary
    m = analysis.metrics
    assert set(m["talkRatio"]) == {"agent", "customer"}
    assert abs(sum(m["talkRatio"].values()) - 1) < 0.01
    assert m["talkRatio"]["agent"] > m["talkRatio"]["customer"]
    assert 0 < m["silenceSeconds"] < 76.6
    assert m["interruptions"] == 0
    assert m["longestMonologue"]["seconds"] > 5
    assert analysis.sentiment["trend"] == "improved"  # locked out → "Perfect. Thanks"
    assert analysis.sentiment["overall"] == "Positive"
    assert "account" in [k.lower() for k in analysis.keywords]
    assert analysis.compliance["recordingDisclosure"] is False


def test_disclosure_interruptions_and_an_empty_call() -> None:
    call = said(
        ("agent", "Hello, this call may be recorded for quality purposes."),
        ("customer", "That's terrible, my internet is broken again."),
    )
    call.append(Utterance(9, "agent", "p-agent", 5.0, 6.0, "Sorry to hear that."))  # overlaps
    analysis = analyze(call, 10.0)
    assert analysis.compliance["recordingDisclosure"] is True
    assert analysis.compliance["speakerId"] == "p-agent"
    assert analysis.metrics["interruptions"] == 1
    assert analysis.sentiment["overall"] == "Negative"
    empty = analyze([], 5.0)
    assert empty.next_steps == []
    assert empty.keywords == []
    assert "No problem statement" in empty.summary
    assert empty.metrics["silenceSeconds"] == 5.0


def test_the_packaged_embedding_model_loads() -> None:
    model, tokenizer = packaged_paths()
    assert model.stat().st_size > 10_000_000
    assert tokenizer.name == "tokenizer.json"
    embed = MiniLM()
    vectors = embed(["I will send you the link", "I'll email the link to you", "It rains"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    # With the model the classifier uses it, and a veto stands whatever it scores.
    (step,) = next_steps(said(("agent", "I'm crediting forty dollars to your bill.")), embed=embed)
    assert step.value == "Credit forty dollars to the customer's bill."
    assert next_steps(said(("agent", "I can't send the label.")), embed=embed) == []


def test_summary_carries_the_facts_and_invents_none() -> None:
    """Every amount, date, time and id in the summary occurs in the transcript (spoken
    numbers read as digits), and the agreed amounts, ids and escalation are there."""
    for path in sorted((DATA / "calls").glob("*/*.json")):
        script = json.loads(path.read_text())
        call = [
            Utterance(i, t["speaker"], f"p-{t['speaker']}", i * 5.0, i * 5 + 4.0, t["text"])
            for i, t in enumerate(script["turns"])
        ]
        # the summary as analyze makes it (without the keywords, which take most of the time)
        text, _marks = summary(call, sentences(call), next_steps(call))
        transcript = " ".join(u.text for u in call)
        assert grounded(text, transcript) == [], (path.name, text)
        assert entities(text), (path.name, text)
    call = said(
        ("customer", "Hi. We were billed twice this month, $49 two times, for the team plan."),
        ("agent", "I've refunded the duplicate charge of $49, it'll take 3 to 5 business days."),
        ("agent", "I'm escalating the invoice error to our billing engineers under ticket 58210."),
        ("agent", "They'll email you once the fix is deployed."),
    )
    text = analyze(call, 20.0).summary
    assert text.startswith("The customer reported that they were billed twice this month")
    for fact in ("$49", "ticket 58210", "3 to 5 business days", "billing engineers"):
        assert fact in text
    # a fact that was never said is caught
    assert grounded(text + " Refund of $80 on Friday.", " ".join(u.text for u in call)) == [
        "$80",
        "Friday",
    ]


@pytest.mark.parametrize(
    "introduction",
    ["My name's Derek Fairweather.", "It's Daniel from Brightline Studio.", "I'm Mark."],
)
def test_the_problem_leaves_out_who_is_calling(introduction: str) -> None:
    call = said(
        ("agent", "Homeguard Monitoring, Rachel speaking."),
        ("customer", f"Hello, {introduction} My alarm has gone off three times this week."),
        ("agent", "I've put zone 3 on bypass."),
    )
    analysis = analyze(call, 12.0)
    problem = next(h for h in analysis.highlights if h["kind"] == "problem")
    assert problem["value"] == "My alarm has gone off three times this week."
    assert analysis.summary.startswith(
        "The customer reported that their alarm has gone off three times this week."
    )
    # a sentence that is more than an introduction stays
    call[1] = dataclasses.replace(call[1], text="I'm Mark and my alarm keeps going off.")
    assert analyze(call, 12.0).summary.startswith("The customer reported that they are Mark and")


def test_missing_model_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model file missing: .*model\.onnx"):
        MiniLM(tmp_path / "model.onnx", tmp_path / "tokenizer.json")


def test_the_customers_yes_to_the_agents_request_is_no_step_of_its_own() -> None:
    call = said(
        ("customer", "The confirmation only lists one projector."),
        ("agent", "Could you forward the certificate to the venue by Friday?"),
        ("customer", "Yes, I'll forward it this afternoon."),
        ("agent", "Thanks. Anything else?"),
        ("customer", "I'll send you the guest list by Monday."),
    )
    steps = [(s.owner, s.value) for s in next_steps(call)]
    # the request is the step; the yes to it is not; a step of the customer's own still is
    assert steps == [
        ("customer", "Customer to forward the certificate to the venue by Friday."),
        ("customer", "Customer to send the agent the guest list by Monday."),
    ]
    # an answer in words of its own is no step either; a step the customer adds is
    for answer, added in (
        ("I'll get my son to help me with that this evening.", []),
        ("That's fine, I'll go Saturday morning.", []),
        ("I'll be there myself.", []),
        (
            "Will do. I'll also email you our florist's details by Monday.",
            [("customer", "Customer to email the agent their florist's details by Monday.")],
        ),
        (
            "Sure. I'll clear the plants away from the unit tonight, too.",
            [("customer", "Customer to clear the plants away from the unit tonight, too.")],
        ),
    ):
        call = said(
            ("agent", "Could you update his details in the app today?"),
            ("customer", answer),
        )
        steps = [(s.owner, s.value) for s in next_steps(call)]
        assert steps == [
            ("customer", "Customer to update his details in the app today."),
            *added,
        ], answer


@pytest.mark.parametrize(
    ("turns", "found"),
    [
        # "go through" a named person's papers is an act; "their" team or role acts
        (
            [("agent", "Priya will go through Marcus's job notes and call you by Wednesday.")],
            [
                (
                    "third party",
                    "Priya to go through Marcus's job notes and call the customer by Wednesday.",
                )
            ],
        ),
        (
            [("agent", "Their area supervisor will go out with the driver on Saturday.")],
            [("third party", "Area supervisor to go out with the driver on Saturday.")],
        ),
        # what the customer gets from us is our promise, not a consequence of the act before
        (
            [
                (
                    "agent",
                    "I've put a hold on, so you won't be charged. You'll get a letter from us "
                    "confirming it in the next few days.",
                )
            ],
            [("agent", "Write to the customer confirming it in the next few days.")],
        ),
        (
            [
                (
                    "agent",
                    "You'll get a credit for both cleans, that's £160, on your November invoice.",
                )
            ],
            [
                (
                    "agent",
                    "Put a credit for both cleans, that's £160, on the customer's November invoice.",
                )
            ],
        ),
        # the customer's part said as what is needed of them, or as a help
        (
            [("agent", "What I need from you is to keep them wrapped on their pallets.")],
            [("customer", "Customer to keep them wrapped on their pallets.")],
        ),
        (
            [("agent", "What you'll need to do is upload it through the portal by Friday.")],
            [("customer", "Customer to upload it through the portal by Friday.")],
        ),
        (
            [("agent", "It would help her if you could email us your payment receipt.")],
            [("customer", "Customer to email the company their payment receipt.")],
        ),
        # after the answer to a request, "And I'll…" adds a step of the customer's own
        (
            [
                ("agent", "Could you ring us before ten on Saturday?"),
                (
                    "customer",
                    "I can do that. And I'll leave the side gate unlocked on Friday night.",
                ),
            ],
            [
                ("customer", "Customer to call the company before 10 on Saturday."),
                ("customer", "Customer to leave the side gate unlocked on Friday night."),
            ],
        ),
        (
            [
                ("agent", "Could you drop the book off at any UPS location within fourteen days?"),
                (
                    "customer",
                    "Yeah, that's fine. Oh, and I'll change my shipping address on the website "
                    "tonight.",
                ),
            ],
            [
                (
                    "customer",
                    "Customer to drop the book off at any UPS location within 14 days.",
                ),
                ("customer", "Customer to change their shipping address on the website tonight."),
            ],
        ),
        # a contact in the plain verb; "from now on" is no "now" of the act
        (
            [("agent", "Karen will ring you tomorrow about how cover will work from now on.")],
            [
                (
                    "third party",
                    "Karen to call the customer tomorrow about how cover will work from now on.",
                )
            ],
        ),
        (
            [("agent", "I'll drop you an email after this call confirming the hold.")],
            [("agent", "Email the customer after the call confirming the hold.")],
        ),
        # a second mention of the customer before a verb is "they"
        (
            [("agent", "Could you email me the photos you took on the day you left?")],
            [
                (
                    "customer",
                    "Customer to email the agent the photos they took on the day they left.",
                )
            ],
        ),
        # the customer's act with a time to come, said as the condition of what follows, is
        # asked of them; a condition that only may come is none
        (
            [
                (
                    "agent",
                    "If you upload the March payslip through the portal today, our underwriter "
                    "will review it tomorrow morning.",
                )
            ],
            [
                ("customer", "Customer to upload the March payslip through the portal today."),
                (
                    "third party",
                    "Underwriter to review it tomorrow morning if the customer uploads the March "
                    "payslip through the portal today.",
                ),
            ],
        ),
        (
            [("agent", "If you call us by Friday, the team will reopen the case.")],
            [
                (
                    "third party",
                    "Team to reopen the case if the customer calls the company by Friday.",
                )
            ],
        ),
        # a thing asked for after the call; asked on the line it is none
        (
            [("agent", "What I need from you is a copy of the certificate, emailed to the desk.")],
            [("customer", "Customer to email the company a copy of the certificate to the desk.")],
        ),
        ([("agent", "What I need from you is your account number.")], []),
        ([("agent", "Could you email me that photo while we're on the line?")], []),
        (
            [("agent", "I'll send that wording to Rachel as soon as we hang up.")],
            [("agent", "Send that wording to Rachel after the call.")],
        ),
        # after an act other than a visit, the pronoun's next act is a step of its own
        (
            [
                (
                    "agent",
                    "I spoke with Denise on our fraud team. She's going to open a dispute today. "
                    "She'll email you the form.",
                )
            ],
            [
                ("third party", "Denise to open a dispute today."),
                ("third party", "Denise to email the customer the form."),
            ],
        ),
        # things passed on to someone are no one's act; "customer care" is the company's
        (
            [
                (
                    "agent",
                    "Could you email your receipts to our customer care address by Friday? They'll "
                    "go to our care manager, Lorna, and she'll come back to you within a week.",
                )
            ],
            [
                (
                    "customer",
                    "Customer to email their receipts to the customer care address by Friday.",
                ),
                ("third party", "Care manager Lorna to come back to the customer within a week."),
            ],
        ),
        (
            [("agent", "The crew will be out tomorrow. They'll go to your house first.")],
            [("third party", "Crew to go to the customer's house first.")],
        ),
        # "she" is the role just named, a hyphenated one and its lead too
        (
            [
                (
                    "agent",
                    "I'm going to escalate this to our post-results team lead. She'll contact "
                    "the school tomorrow.",
                )
            ],
            [
                ("agent", "Escalate this to the post-results team lead."),
                ("third party", "Post-results team lead to contact the school tomorrow."),
            ],
        ),
        (
            [("agent", "Please ring us if you ever want the check again.")],
            [("customer", "Customer to call the company if they ever want the check again.")],
        ),
        # a condition in the present perfect is one to come, not a hypothetical; an "and"
        # before it is not part of it; "give you a ring" after "and" is a call
        (
            [
                (
                    "agent",
                    "And if you haven't had a letter by the twenty-fifth of March, I'll chase it "
                    "with Graham myself and give you a ring.",
                )
            ],
            [
                (
                    "agent",
                    "Chase it with Graham and call the customer if the customer hasn't had a "
                    "letter by the 25th of March.",
                )
            ],
        ),
        ([("agent", "If you had called us earlier, I'd have sent an engineer.")], []),
        # a topic named first; a phone call and what follows it are two steps, not one visit
        (
            [
                (
                    "agent",
                    "And about the tablets you asked about, our nurse, Dana Whitfield, will call "
                    "you on Monday, and then she'll send the prescription to your pharmacy.",
                )
            ],
            [
                ("third party", "Nurse Dana Whitfield to call the customer on Monday."),
                (
                    "third party",
                    "Nurse Dana Whitfield to send the prescription to the customer's pharmacy.",
                ),
            ],
        ),
        # a booking made for the customer is done in the call; its date is theirs to keep
        (
            [("agent", "Good news, I've booked you in there on Tuesday, June third, at ten.")],
            [],
        ),
        # the thing asked for, then its time after a comma
        (
            [
                (
                    "agent",
                    "So what I need from you is an informal challenge on our website, ideally by "
                    "Friday.",
                )
            ],
            [
                (
                    "customer",
                    "Customer to send the company an informal challenge on the website, ideally "
                    "by Friday.",
                )
            ],
        ),
        # "just" before the act asked for once something has come
        (
            [
                (
                    "agent",
                    "Once you've got it, just tape it to the box and drop it off at any FedEx "
                    "location within thirty days.",
                )
            ],
            [
                (
                    "customer",
                    "Customer to tape it to the box and drop it off at any FedEx location within "
                    "30 days once they have got it.",
                )
            ],
        ),
        # someone asked to act, named after their role
        (
            [
                (
                    "agent",
                    "I've asked our measuring specialist, Tom Becker, to give you a call on "
                    "Monday.",
                )
            ],
            [("third party", "Measuring specialist Tom Becker to call the customer on Monday.")],
        ),
        # a week skipped is no date to come
        (
            [
                (
                    "agent",
                    "Done, I've added the note and skipped next week, so you won't be charged "
                    "for it.",
                )
            ],
            [],
        ),
        # "they" after a team acting earlier in the sentence is that team, not the last named
        (
            [
                (
                    "agent",
                    "Our logistics team is going to take that up with the courier, and they'll "
                    "email you by Friday.",
                )
            ],
            [
                ("third party", "Logistics team to take that up with the courier."),
                ("third party", "Logistics team to email the customer by Friday."),
            ],
        ),
        # "he" is the person named, not the crew named after him; a role unnamed is a person
        (
            [
                (
                    "agent",
                    "I've spoken to our ops manager, Dean, and he's pulling a crew off a job. "
                    "They'll be on site Thursday at eight, and he'll ring you tomorrow afternoon.",
                )
            ],
            [
                ("third party", "Crew to be on site Thursday at eight."),
                ("third party", "Ops manager Dean to call the customer tomorrow afternoon."),
            ],
        ),
        (
            [
                ("agent", "It shows the technician, Kevin, skipped your stop."),
                (
                    "agent",
                    "I've flagged this with our operations manager, and you'll get a call from "
                    "her by Friday.",
                ),
            ],
            [("third party", "Operations manager to call the customer by Friday.")],
        ),
        # someone asked or made to act, or heard from, acts
        (
            [("agent", "I'm asking our dispatch team to send him the issue by post today.")],
            [("third party", "Dispatch team to send him the issue by post today.")],
        ),
        (
            [("agent", "Angela's going to have our claims team void that one this week.")],
            [("third party", "Claims team to void that one this week.")],
        ),
        (
            [
                (
                    "agent",
                    "You'll hear from our fencing contractor, Fenwick and Sons, to book it in, "
                    "and they'll have it done by the end of next week.",
                )
            ],
            [
                (
                    "third party",
                    "Fencing contractor Fenwick and Sons to contact the customer to book it in.",
                ),
                # the contractor's name, said after what it is to us, names "they"
                ("third party", "Fenwick and Sons to have it done by the end of next week."),
            ],
        ),
        (
            [("agent", "You'll hear from the surveyor by Friday.")],
            [("third party", "Surveyor to contact the customer by Friday.")],
        ),
        # "Name, one of our…" is whom "he" means; what he needs is no act of his
        (
            [
                (
                    "agent",
                    "I've got Luis, one of our senior techs, free, and he's going to be out to "
                    "you between one and three today. He'll need clear space on both sides.",
                )
            ],
            [("third party", "Luis to be out to the customer between one and three today.")],
        ),
        # a courtesy, and a bare "do that" asked after the act it names, are no steps; a
        # refund arranged whose money "will go back" on the card is one
        ([("agent", "Please pass on my apologies to him.")], []),
        ([("agent", "So I'm going to treat this as a warranty callback.")], []),
        (
            [
                (
                    "agent",
                    "Someone will need to be there on the Wednesday. Would you be able to do that?",
                )
            ],
            [("customer", "Customer to be there on the Wednesday.")],
        ),
        (
            [
                (
                    "agent",
                    "I've also arranged a goodwill refund of fifty pounds. It'll go back on your "
                    "card within five working days.",
                )
            ],
            [
                (
                    "agent",
                    "Arrange a goodwill refund of fifty pounds, it'll go back on the customer's "
                    "card within 5 working days.",
                )
            ],
        ),
        # a month to come; logging in asked for later; a request to give someone else a thing
        (
            [
                (
                    "agent",
                    "So if you only want the one year, make sure you log into your account and "
                    "switch off auto-renew before next October.",
                )
            ],
            [
                (
                    "customer",
                    "Customer to log into their account and switch off auto-renew before next "
                    "October if they only want the one year.",
                )
            ],
        ),
        ([("agent", "I'm logging into the portal now.")], []),
        (
            [("agent", "And could you give your neighbour our number, so they can ring us?")],
            [("customer", "Customer to give their neighbour the number.")],
        ),
        ([("agent", "Could you give me your number?")], []),
        # someone named after their role looks at a thing; a third party's act under way
        # with a time to come is a step, one with none is not
        (
            [("agent", "Our owner, Joanne, is going to look at it personally.")],
            [("third party", "Owner Joanne to look at it personally.")],
        ),
        (
            [("agent", "The engineer's coming tomorrow between eight and twelve.")],
            [("third party", "Engineer to come tomorrow between eight and twelve.")],
        ),
        ([("agent", "Our engineer is looking into it.")], []),
        # what these rules must leave alone (a review's cases): commas are put back only
        # around a condition opening the sentence, "Sure" is no one, "our best engineer" and
        # an act after "treat it as" are acts, the act a third party "will need to" do is
        # theirs, "Let's get the team on the line" is in the call, a business changing its
        # hours and "any team" are no one acting, a reason after a comma is no time, "now"
        # keeps a request on the line, and a doorbell is rung
        (
            [("agent", "I'll let you know if there's any change and I'll call you tomorrow.")],
            [
                ("agent", "Let the customer know if there's any change."),
                ("agent", "Call the customer tomorrow."),
            ],
        ),
        (
            [
                (
                    "agent",
                    "Once the part arrives the engineer will fit it and I'll email you the "
                    "invoice.",
                )
            ],
            [
                ("third party", "Engineer to fit it."),
                ("agent", "Email the customer the invoice."),
            ],
        ),
        ([("agent", "I'm not sure if the manager said she'll call you back.")], []),
        (
            [
                (
                    "agent",
                    "Sure, one of our engineers will come out on Friday. He'll bring the part.",
                )
            ],
            [("third party", "Engineer to come out on Friday and bring the part.")],
        ),
        (
            [("agent", "We'll send our best engineer out on Monday.")],
            [("agent", "Send the best engineer out on Monday.")],
        ),
        (
            [("agent", "I'll treat it as urgent and send someone out tomorrow.")],
            [("agent", "Treat it as urgent and send someone out tomorrow.")],
        ),
        (
            [("agent", "The engineer will need to replace the valve on Friday.")],
            [("third party", "Engineer to replace the valve on Friday.")],
        ),
        ([("agent", "Let's get the tech team on the line.")], []),
        ([("agent", "They're changing their opening hours next month.")], []),
        ([("agent", "She's starting on Monday.")], []),
        ([("agent", "Any team will tell you the same.")], []),
        (
            [
                (
                    "agent",
                    "What I need from you is your postcode, before I can book the engineer for "
                    "Tuesday.",
                )
            ],
            [],
        ),
        ([("agent", "Could you tell them the reference number now?")], []),
        (
            [("agent", "The driver will knock and ring the doorbell tomorrow.")],
            [("third party", "Driver to knock and ring the doorbell tomorrow.")],
        ),
        (
            [("agent", "If you still haven't had the letter by Friday, I'll send another one.")],
            [
                (
                    "agent",
                    "Send another one if the customer still hasn't had the letter by Friday.",
                )
            ],
        ),
        # a request joined on by "and could you…?": its question mark is not the first act's
        (
            [
                (
                    "agent",
                    "You will need to bring your passport and could you also fill out the "
                    "questionnaire on the portal before Monday?",
                )
            ],
            [
                ("customer", "Customer to bring their passport."),
                ("customer", "Customer to fill out the questionnaire on the portal before Monday."),
            ],
        ),
        ([("agent", "I'll send it to the address on file, is that right?")], []),
        # as the recogniser hears them: "I'll transfer" as "I hold transfer", a team's "The" lost
        (
            [("agent", "I hold transfer your records over to Oak Park this afternoon.")],
            [("agent", "Transfer the customer's records over to Oak Park this afternoon.")],
        ),
        (
            [("agent", "So notice processing team will review it within 14 days.")],
            [("third party", "Notice processing team to review it within 14 days.")],
        ),
    ],
)
def test_more_ways_to_say_a_step(
    turns: list[tuple[str, str]], found: list[tuple[str, str]]
) -> None:
    assert [(s.owner, s.value) for s in next_steps(said(*turns))] == found


def test_an_act_under_way_now_is_done_in_the_call_not_a_step() -> None:
    call = said(
        (
            "customer",
            "I never got the insurance certificate for the event, and the venue needs it.",
        ),
        ("agent", "Sorry about that. I'm emailing the certificate to you now."),
    )
    result = analyze(call, 10.0)
    assert result.next_steps == []
    # still an act the agent did: the summary says so and it settles the problem
    assert "The agent emailed the certificate to the customer." in result.summary
    (settled,) = [h for h in result.highlights if h["kind"] == "resolution"]
    assert settled["value"] == "I'm emailing the certificate to you now."
    # something of it to come later keeps it a step; "from now on" is no "now"
    for text, step in (
        (
            "I'm sending you the confirmation now, and it should be in your inbox within the hour.",
            "Send the customer the confirmation, it should be in their inbox within the hour.",
        ),
        (
            "I'm adding a note so the team calls you first from now on.",
            "Add a note so the team calls the customer first from now on.",
        ),
    ):
        assert [s.value for s in next_steps(said(("agent", text)))] == [step], text


def test_harm_and_alarm_state_the_problem_and_pounds_are_amounts() -> None:
    """A problem told as what happened, with no complaint word ("a cut on her leg, it was
    bleeding"; "an enforcement officer might visit"), is the problem, not a later remark
    that has one ("nobody said a word"); amounts in pounds and euros are facts."""
    call = said(
        ("agent", "Waggy Tails Grooming, Chloe speaking."),
        (
            "customer",
            "I picked my spaniel up on Saturday and found a cut on her leg. It was bleeding.",
        ),
        ("agent", "Oh gosh, I'm so sorry. Is she all right?"),
        ("customer", "She's fine now. But nobody said a single word when I collected her."),
    )
    problem = next(h for h in analyze(call, 20.0).highlights if h["kind"] == "problem")
    assert problem["value"].startswith("I picked my spaniel up on Saturday")
    call = said(
        ("agent", "Licence enquiries, can I take your licence number?"),
        ("customer", "Erm, I don't think I've got it to hand, sorry about that."),
        ("agent", "That's fine. And where are you living now?"),
        (
            "customer",
            "At Forty-one Kingsway. A letter came saying an enforcement officer might visit.",
        ),
    )
    problem = next(h for h in analyze(call, 20.0).highlights if h["kind"] == "problem")
    assert "enforcement officer" in problem["value"]
    assert entities("The vet cost ninety-two pounds and the fee was £15 or 20 euros.") == [
        "ninety-two pounds",
        "£15",
        "20 euros",
    ]
