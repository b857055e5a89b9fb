"""Next steps said in less common ways, and the look-alikes that are no step: each case a
short call, the steps expected in order (owner, text)."""

from __future__ import annotations

import pytest

from callscope.insights.analyzers import next_steps
from callscope.insights.embeddings import MiniLM
from callscope.insights.summary import summary
from callscope.insights.types import sentences
from tests.helpers.utterances import said


@pytest.mark.parametrize(
    ("turns", "found"),
    [
        # the passive with who acts after "by": a place after the act, an aside in the thing
        (
            [
                (
                    "agent",
                    "No, you shouldn't be. A credit of seventy-five dollars will be applied to "
                    "your May invoice by our billing department.",
                )
            ],
            [
                (
                    "third party",
                    "Billing department to apply a credit of seventy-five dollars to the "
                    "customer's May invoice.",
                )
            ],
        ),
        (
            [
                (
                    "agent",
                    "A credit note for ninety euro, covering April and May, will be issued by our "
                    "accounts department before the end of the month.",
                )
            ],
            [
                (
                    "third party",
                    "Accounts department to issue a credit note for ninety euro, covering April "
                    "and May, before the end of the month.",
                )
            ],
        ),
        # an act under way with a time to come: a company named after its role, the
        # customer's own people
        (
            [
                (
                    "agent",
                    "The manufacturer, Aquaflo, is shipping us a replacement under warranty, and "
                    "it should reach our shop by Friday.",
                )
            ],
            [
                (
                    "third party",
                    "Manufacturer Aquaflo to ship the company a replacement under warranty, it "
                    "should reach the shop by Friday.",
                )
            ],
        ),
        (
            [
                (
                    "customer",
                    "Oh, and my husband's dropping off Liam's signed medical form at the arena "
                    "office on Friday, so it's on file before the skate.",
                )
            ],
            [
                (
                    "customer",
                    "Customer's husband to drop off Liam's signed medical form at the arena "
                    "office on Friday.",
                )
            ],
        ),
        (
            [("agent", "Our supplier is shipping the part on Thursday.")],
            [("third party", "Supplier to ship the part on Thursday.")],
        ),
        # the customer's plan said in the progressive, and their offer with "can"
        (
            [
                (
                    "customer",
                    "Then I'm setting up fraud alerts with the other two this afternoon, while "
                    "I'm thinking about it.",
                )
            ],
            [
                (
                    "customer",
                    "Customer to set up fraud alerts with the other two this afternoon, while "
                    "they are thinking about it.",
                )
            ],
        ),
        ([("customer", "I'm flying out to see my sister on Friday.")], []),
        (
            [("customer", "I filed one with the FTC on Saturday. I can upload it tonight.")],
            [("customer", "Customer to upload it tonight.")],
        ),
        ([("customer", "Can I upload it tonight?")], []),
        # a request put as a help, with the thing left done
        (
            [
                (
                    "agent",
                    "But it'd really help if the back storage room was unlocked before eight, so "
                    "he isn't left waiting.",
                )
            ],
            [("customer", "Customer to have the back storage room unlocked before 8.")],
        ),
        (
            [
                (
                    "agent",
                    "It'd be helpful if the path down the left side of the studio was cleared "
                    "before they arrive, so they can get a ladder up to the roof.",
                )
            ],
            [
                (
                    "customer",
                    "Customer to have the path down the left side of the studio cleared before "
                    "they arrive.",
                )
            ],
        ),
        # asked of the customer's own people; passing it on is the yes, no step of its own
        (
            [
                (
                    "agent",
                    "So could your drivers switch their ignitions on for about ten minutes "
                    "sometime after seven tonight?",
                ),
                ("customer", "Yeah, I'll let the lads know."),
            ],
            [
                (
                    "customer",
                    "Customer's drivers to switch their ignitions on for about ten minutes "
                    "sometime after seven tonight.",
                )
            ],
        ),
        # the person named with their role and where they work; "then" is the time said before
        (
            [
                (
                    "agent",
                    "Padraig, our engineer for the west, is doing his Connemara round on Thursday "
                    "and he'll swap the card reader out then.",
                )
            ],
            [("third party", "Engineer Padraig to swap the card reader out on Thursday.")],
        ),
        # what someone holds is no act
        (
            [
                (
                    "customer",
                    "My bar manager, Niamh, will be in from eleven, and she'll have the key for "
                    "the cash box.",
                )
            ],
            [],
        ),
        ([("customer", "Our brand team will have those. Tuesday's fine.")], []),
        # what a third party must do by a time is a step; how things go is not
        (
            [
                (
                    "agent",
                    "It's already gone across to Summit Recovery Group. They have to investigate "
                    "and respond within thirty days.",
                )
            ],
            [("third party", "Summit Recovery Group to investigate and respond within 30 days.")],
        ),
        (
            [
                (
                    "agent",
                    "We have to send it to the company that reported it, and they have to verify "
                    "it.",
                )
            ],
            [],
        ),
        # a goodbye that names the day of a call already promised adds nothing
        (
            [
                ("agent", "And I'll call you back on Monday afternoon with an update."),
                ("customer", "Thanks."),
                ("agent", "Good luck with the house, and I'll speak to you Monday."),
            ],
            [("agent", "Call the customer back on Monday afternoon with an update.")],
        ),
        # an act said in a time clause is what the step waits for; a want is no act
        (
            [
                (
                    "agent",
                    "The venue also needs your public liability certificate before they'll let "
                    "your crew in.",
                )
            ],
            [],
        ),
        ([("customer", "Oh, and he'll probably want to see the error code.")], []),
    ],
)
def test_less_common_ways_to_say_a_step(
    turns: list[tuple[str, str]], found: list[tuple[str, str]]
) -> None:
    assert [(s.owner, s.value) for s in next_steps(said(*turns))] == found


def test_a_second_matter_later_in_the_problem_turn_leaves_it_the_problem() -> None:
    call = said(
        ("agent", "Emerald Leisure Machines, you're through to Fergal."),
        ("customer", "Fergal, how are you. Declan Brennan here, from The Harbour Bar in Clifden."),
        ("agent", "Ah Declan, how's things out west? What can I do for you?"),
        (
            "customer",
            "The jukebox has stopped taking cards since Friday. It just says card reader error. "
            "And while I have you, you're still billing me for the pool table.",
        ),
        ("agent", "Right, two things there. Let me pull up the account."),
    )
    _, highlights = summary(call, sentences(call), next_steps(call))
    problem = next(h for h in highlights if h.kind == "problem")
    assert problem.text.startswith("The jukebox has stopped taking cards since Friday.")


def test_a_step_of_the_customers_family_said_with_a_pronoun_is_kept() -> None:
    # the classifier, with the packaged embeddings as the server runs it, keeps the act of the
    # customer's wife named by "she"
    call = said(
        (
            "customer",
            "I'm at work that day, though. My wife, Claire, is home, so she'll let them in and "
            "show them where the leak is.",
        ),
    )
    steps = next_steps(call, embed=MiniLM())
    assert [(s.owner, s.value) for s in steps] == [
        ("customer", "Customer's wife Claire to let them in and show them where the leak is.")
    ]
