"""Next steps said in less common ways, and the look-alikes that are no step: each case a
short call, the steps expected in order (owner, text)."""

from __future__ import annotations

from typing import Final

import pytest

from callscope.insights.analyzers import next_steps
from callscope.insights.embeddings import MiniLM
from callscope.insights.summary import summary
from callscope.insights.types import sentences
from tests.helpers.utterances import said

#: conditions without commas, visits said short, a company booked by name, "which means"
_CONDITIONS_WITHOUT_COMMAS_AND_VISITS_SAID_SHORT: Final = [
    (
        [
            (
                "agent",
                "Here's the plan. I've just booked Coastline Environmental, the independent "
                "hygienist, to do the clearance inspection Friday morning at eight.",
            )
        ],
        [
            (
                "third party",
                "Independent hygienist Coastline Environmental to do the clearance inspection "
                "Friday morning at eight.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "I've upgraded the reprint to Priority Rush, which means the studio in "
                "Mississauga will print and bind it first thing tomorrow morning.",
            )
        ],
        [
            (
                "third party",
                "Studio in Mississauga to print and bind it first thing tomorrow morning.",
            )
        ],
    ),
    # a condition said without a comma stays with its step ("straight away" is no time);
    # someone sent back out to act; "pop in" is a visit; "I'd ask you to…" asks
    (
        [
            (
                "agent",
                "I can put you on the cancellation list, and if an earlier slot opens up I'll give you a ring straight away.",
            )
        ],
        [("agent", "Call the customer if an earlier slot opens up.")],
    ),
    (
        [
            (
                "agent",
                "I wouldn't want to guess over the phone. I'm sending Shane back out to look at it.",
            )
        ],
        [("third party", "Shane to look at it.")],
    ),
    (
        [
            (
                "customer",
                "Orla will pop in for it on Thursday after work, then, so it's not hanging about.",
            )
        ],
        [("customer", "Orla to pop in for it on Thursday after work.")],
    ),
    (
        [("agent", "I'd ask you to send us the meter reading by Friday.")],
        [("customer", "Customer to send the company the meter reading by Friday.")],
    ),
]


#: in call passed on and purposes said first
_IN_CALL_PASSED_ON_AND_PURPOSES_SAID_FIRST: Final = [
    # "let me sort Monday first" and coming back to a topic are done in the call; a matter
    # passed to someone "who'll" act; "at yours" is a visit; a purpose said first negates
    # nothing; being away is no presence; what a third party "will just need" is no act
    ([("agent", "Let me sort Monday first and then we'll come back to what went wrong.")], []),
    (
        [("agent", "Let me check with the manufacturer on Monday and I'll come back to you.")],
        [("agent", "Come back to the customer.")],
    ),
    (
        [
            (
                "agent",
                "It's been passed to our quality team, who'll go through the call logs and write to you within ten working days.",
            )
        ],
        [
            (
                "third party",
                "Quality team to go through the call logs and write to the customer within 10 working days.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "It's been passed to Gareth as top priority, and he'll be at yours within the next hour to re-sheet the roof.",
            )
        ],
        [
            (
                "third party",
                "Gareth to be at the customer's within the next hour to re-sheet the roof.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "That's fair. So you're not chasing anyone again, I'll email you the insurance claim reference by end of day.",
            )
        ],
        [("agent", "Email the customer the insurance claim reference by end of day.")],
    ),
    ([("agent", "Right, I won't send it today.")], []),
    ([("customer", "I'll be at sea on polling day.")], []),
    (
        [("customer", "I'll be at the house all day Thursday.")],
        [("customer", "Customer to be at the house all day Thursday.")],
    ),
    (
        [("agent", "No, they'll just need your name, there's nothing else you have to bring.")],
        [],
    ),
]


#: colleagues asked and promises standing
_COLLEAGUES_ASKED_AND_PROMISES_STANDING: Final = [
    # a colleague asked to act, named with where they work or who they are; a promise
    # standing ("has promised to") is a step, a promise broken is none; a role and a first
    # name without a comma name who "he" is; asking someone is the agent's own step
    (
        [
            (
                "agent",
                "I've asked Deborah in our inspections team to visit Unit 4 next week and confirm it's empty.",
            )
        ],
        [("third party", "Inspections team to visit Unit 4 next week and confirm it's empty.")],
    ),
    (
        [
            (
                "agent",
                "I've asked Sipho, who did your install, to come back on Friday morning and fit the new frames. He's said he'll be there by nine.",
            )
        ],
        [
            (
                "third party",
                "Sipho to come back on Friday morning and fit the new frames and be there by 9.",
            )
        ],
    ),
    (
        [("agent", "I've asked Jodie, our party coordinator, to give you a ring on Monday.")],
        [("third party", "Party coordinator Jodie to call the customer on Monday.")],
    ),
    (
        [
            (
                "agent",
                "I've spoken to Kingdom Private Hire, and their controller has promised to put a named driver on the route from tomorrow.",
            )
        ],
        [("third party", "Controller to put a named driver on the route from tomorrow.")],
    ),
    ([("customer", "They promised to call me back last week.")], []),
    ([("customer", "You've promised to fix this twice already.")], []),
    (
        [
            (
                "agent",
                "Our engraver Malcolm does all our hand work. I've just messaged him and he's agreed to do it as soon as the ring comes in, so it'll be ready by next Wednesday.",
            )
        ],
        [
            (
                "third party",
                "Engraver Malcolm to do it as soon as the ring comes in, it'll be ready by next Wednesday.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "I'll ask the pharmacist to authorise an emergency supply by midday tomorrow.",
            )
        ],
        [("agent", "Ask the pharmacist to authorise an emergency supply by midday tomorrow.")],
    ),
]


#: offers hedges and requests put as favours
_OFFERS_HEDGES_AND_REQUESTS_PUT_AS_FAVOURS: Final = [
    (
        [("agent", "Shall I email you the form?"), ("customer", "Okay, no thanks, I have one.")],
        [],
    ),
    (
        [
            ("agent", "Would it help if I booked you in for Tuesday?"),
            ("customer", "That would be too late for us."),
        ],
        [],
    ),
    # an offer the customer takes is a promise (one turned down is none); a time said in a
    # short sentence after the step is its time; a hedged promise with a time; requests put
    # as "the ball's in your court", "if you can, …", "do me a favour and…"; doubt is no
    # promise; a committee and grounds maintenance are who "they" means (a board that
    # arrives is no one); a manager's act under way; "just so you've got it all" recaps
    (
        [
            (
                "agent",
                "What you'll need to do is fill in an appeal. Shall I email you the form?",
            ),
            ("customer", "Yes please."),
        ],
        [
            ("customer", "Customer to fill in an appeal."),
            ("agent", "Email the customer the form."),
        ],
    ),
    (
        [("agent", "Shall I email you the form?"), ("customer", "No, I'll pick one up.")],
        [("customer", "Customer to pick one up.")],
    ),
    (
        [
            ("agent", "Would it help if I booked you in for a dehumidifier on Tuesday?"),
            ("customer", "That'd be great. She's in on Tuesdays."),
        ],
        [("agent", "Book the customer in for a dehumidifier on Tuesday.")],
    ),
    (
        [("agent", "Do you want me to send you a copy?"), ("customer", "Please.")],
        [("agent", "Send the customer a copy.")],
    ),
    (
        [("agent", "Understood. Our surveyor will come out. Probably Wednesday morning.")],
        [("third party", "Surveyor to come out, probably Wednesday morning.")],
    ),
    (
        [
            (
                "agent",
                "For the cleaning charge, could you email me the receipt? Ideally by Monday.",
            )
        ],
        [("customer", "Customer to email the agent the receipt, ideally by Monday.")],
    ),
    (
        [
            (
                "agent",
                "I'll do you a confirmation letter. I should be able to get that out to you by Thursday.",
            )
        ],
        [("agent", "Get that out to the customer by Thursday.")],
    ),
    ([("agent", "I should be able to sort it.")], []),
    (
        [
            (
                "agent",
                "So, the ball's in your court to upload a new photo through the online portal.",
            )
        ],
        [("customer", "Customer to upload a new photo through the online portal.")],
    ),
    (
        [
            (
                "agent",
                "If you can, upload the last thirty days of sleep data to the patient portal.",
            )
        ],
        [
            (
                "customer",
                "Customer to upload the last thirty days of sleep data to the patient portal.",
            )
        ],
    ),
    (
        [("agent", "Do me a favour and keep the receipts for the food you've lost.")],
        [("customer", "Customer to keep the receipts for the food they have lost.")],
    ),
    ([("agent", "Now, after nineteen years I doubt they'll want to lose you.")], []),
    (
        [
            (
                "agent",
                "The committee next meets on the 12th of June, and they'll make a decision on your appeal then.",
            )
        ],
        [("third party", "Committee to make a decision on the customer's appeal on the 12th.")],
    ),
    (
        [
            (
                "agent",
                "For medical cases we can send grounds maintenance. They'll strim it back the week after next.",
            )
        ],
        [("third party", "Grounds maintenance to strim it back the week after next.")],
    ),
    (
        [
            (
                "agent",
                "Our transport manager, Gerry Lynch, is bringing the crates back next week.",
            )
        ],
        [("third party", "Transport manager Gerry Lynch to bring the crates back next week.")],
    ),
    (
        [
            (
                "agent",
                "Darren can fit it on Friday. When the new board arrives on the 12th, he'll come back and swap it in.",
            )
        ],
        [
            (
                "third party",
                "Darren to come back and swap it in when the new board arrives on the 12th.",
            )
        ],
    ),
    (
        [
            ("agent", "I'll call you on Friday."),
            ("customer", "Great."),
            ("agent", "So, just so you've got it all: I'll call you Friday."),
        ],
        [("agent", "Call the customer on Friday.")],
    ),
]


#: requests put as advice, what a named person said they will do, spans and moved dates
_ADVICE_REPORTED_PROMISES_AND_SPANS: Final = [
    # requests put as advice ("it'd be worth you…", "I'd suggest you…", "you might want
    # to…", "the next thing is for you to…"); "be sure to"; "have a word with" is "speak
    # to"; doubt is no promise; "pop/get it in the post" is "post"; the passive with a
    # company's name after the role; a change of date or a span is no date to come; a
    # reason clause before the actor; "reach out"; what someone named said they'll do;
    # the customer's husband named without a comma; an act under way in the call; the
    # agent's offer to get someone out; "someone from …" in touch; "to her" named
    (
        [
            (
                "agent",
                "It'd be worth you taking a few photos of the ceiling today, before it starts drying, and emailing them over to us.",
            )
        ],
        [
            (
                "customer",
                "Customer to take a few photos of the ceiling today, before it starts drying.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "I'd suggest you write down everything that's in there along with the temperatures you've logged.",
            )
        ],
        [
            (
                "customer",
                "Customer to write down everything that's in there along with the temperatures they have logged.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "You might want to download the whole lot as a zip onto a hard drive this week.",
            )
        ],
        [
            (
                "customer",
                "Customer to download the whole lot as a zip onto a hard drive this week.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "The next thing is for you to pull the bed away from that wall before Tuesday, if you can, so Kelvin can get at the whole patch.",
            )
        ],
        [
            (
                "customer",
                "Customer to pull the bed away from that wall before Tuesday, if they can.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Perfect. I'll be sure to lodge the spoilage claim with our insurer as soon as we hang up.",
            )
        ],
        [("agent", "Lodge the spoilage claim with the insurer after the call.")],
    ),
    (
        [("customer", "I'll have a word with my manager and let you know by next week.")],
        [
            (
                "customer",
                "Customer to speak to their manager and let the agent know by next week.",
            )
        ],
    ),
    (
        [
            (
                "customer",
                "Honestly, after this mess, I'm not sure we'll book Berlin through you.",
            )
        ],
        [],
    ),
    (
        [("customer", "Easy. I'll pop them in the post tomorrow on my way to work.")],
        [("customer", "Customer to post them tomorrow on their way to work.")],
    ),
    (
        [("agent", "No problem. I'll get a claim form in the post to you today.")],
        [("agent", "Post a claim form to the customer today.")],
    ),
    (
        [
            (
                "agent",
                "Right, here's what's going to happen. The extractor fan will be replaced by our contractor, Hallam Electrical, no later than Wednesday.",
            )
        ],
        [
            (
                "third party",
                "Contractor Hallam Electrical to replace the extractor fan no later than Wednesday.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Great. I've moved your service to Monday, June 8th, same participant number, so you don't need to come in on March 9th.",
            )
        ],
        [],
    ),
    (
        [
            (
                "agent",
                "I've reactivated yours just now and set it to stay open for sixty days rather than thirty, so there's no rush.",
            )
        ],
        [],
    ),
    (
        [
            (
                "agent",
                "And since you'll be coming off knee surgery, our ADA coordinator, Ms. Alvarez, is going to reach out to you in May about accessible seating.",
            )
        ],
        [
            (
                "third party",
                "ADA coordinator Ms. Alvarez to reach out to the customer in May about accessible seating.",
            )
        ],
    ),
    ([("agent", "The parcel should reach you by Friday.")], []),
    (
        [
            (
                "customer",
                "When I was at Dr. Patel's office yesterday, his nurse Gloria said she'll fax a letter over to you first thing tomorrow.",
            )
        ],
        [
            (
                "third party",
                "Nurse Gloria to fax a letter over to the agent first thing tomorrow.",
            )
        ],
    ),
    (
        [
            (
                "customer",
                "Good, because Priya said she'll have the month-end figures over to the auditors by Thursday.",
            )
        ],
        [
            (
                "third party",
                "Priya to have the month-end figures over to the auditors by Thursday.",
            )
        ],
    ),
    (
        [
            (
                "customer",
                "My husband Dan's paying for that one, actually. He said he'll transfer the £95 on Friday when he gets paid.",
            )
        ],
        [
            (
                "customer",
                "Customer's husband Dan to transfer the £95 on Friday when he gets paid.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Right, I've spoken to Dean, our service manager. The part landed at the depot yesterday afternoon. Dean said he'll have a tech at your restaurant by half past four today with the part.",
            )
        ],
        [
            (
                "third party",
                "Service manager Dean to have a tech at the customer's restaurant by half past 4 today with the part.",
            )
        ],
    ),
    ([("agent", "Let me find it. Just bringing that up now.")], []),
    (
        [
            (
                "agent",
                "Okay. I can get Gavin, who fitted it, back out to you on Thursday morning, first slot, to lift the tray and reseal the waste.",
            )
        ],
        [
            (
                "agent",
                "Get Gavin, who fitted it, back out to the customer on Thursday morning, first slot, to lift the tray and reseal the waste.",
            )
        ],
    ),
    ([("agent", "I can send you a copy if you like.")], []),
    (
        [
            (
                "agent",
                "Someone from our insurer, Harbourside Mutual, will be in touch to go through what you've lost within 48 hours.",
            )
        ],
        [
            (
                "third party",
                "Someone from our insurer Harbourside Mutual to contact the customer to go through what they have lost within 48 hours.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Group rates are set by your account manager, Fiona Hale. I'll get a message to her this afternoon.",
            )
        ],
        [("agent", "Get a message to account manager Fiona Hale this afternoon.")],
    ),
]


#: the passive with a place, plans in the progressive, what is held, goodbyes
_PASSIVES_PLANS_HOLDINGS_AND_GOODBYES: Final = [
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
                "We have to send it to the company that reported it, and they have to verify it.",
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
]


#: one of a team named, a team with a number, a thing to be done by someone, an appointment
#: ("see him"), a company's plural promise that the next sentence gives to a third party, a
#: consequence after "so", an assurance, a time clause first, lists of clauses in a recap, and a
#: stressed "did" in a condition
_TEAMS_NAMED_RECAP_LISTS_AND_STRESSED_CONDITIONS: Final = [
    (
        [
            (
                "agent",
                "We'll bring the car to you. One of our drivers, Luis, will deliver your CR-V to "
                "your home on Saturday morning.",
            )
        ],
        [
            (
                "third party",
                "Driver Luis to deliver the customer's CR-V to their home on Saturday morning.",
            )
        ],
    ),
    (
        [("agent", "One of our engineers will call you tomorrow to book the repair.")],
        [("third party", "Engineer to call the customer tomorrow to book the repair.")],
    ),
    (
        [
            (
                "agent",
                "I've just flagged it as a priority hazard. The Ward 4 road crew will have it "
                "patched by Tuesday.",
            )
        ],
        [("third party", "Ward 4 road crew to have it patched by Tuesday.")],
    ),
    (
        [
            (
                "agent",
                "I've resubmitted the batch from our end. Northpay will settle the money into "
                "your business account by Wednesday.",
            )
        ],
        [
            (
                "third party",
                "Northpay to settle the money into the customer's business account by Wednesday.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "I've moved Oliver across to Ms Okafor, one of our senior therapists, and she'll "
                "see him on Thursday the 14th at four o'clock.",
            )
        ],
        [("third party", "Ms Okafor to see him on Thursday the 14th at four o'clock.")],
    ),
    # what reaches her is no appointment
    (
        [
            (
                "agent",
                "I've sent the report to Dr Shah, and she'll see it in her inbox this afternoon.",
            )
        ],
        [("agent", "Send the report to Dr Shah, she'll see it in her inbox this afternoon.")],
    ),
    (
        [
            (
                "agent",
                "I'll switch on session reminders for your account after this call, so you'll "
                "get a text the day before each session.",
            )
        ],
        [
            (
                "agent",
                "Switch on session reminders for the customer's account after the call, they "
                "will get a text the day before each session.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "We can't give him back the sessions he's missed, I know, but we'll make sure it "
                "doesn't happen again.",
            )
        ],
        [],
    ),
    (
        [
            (
                "agent",
                "Now, before Declan comes, could you send us a photo of the wiring behind the "
                "old hub?",
            )
        ],
        [("customer", "Customer to send the company a photo of the wiring behind the old hub.")],
    ),
    # a recap said as a list of clauses repeats the steps
    (
        [
            (
                "agent",
                "Priya will call you by Friday with a decision. The road crew will patch the "
                "hole by Tuesday.",
            ),
            ("customer", "Okay."),
            ("agent", "I'll call you Wednesday to make sure the hole's filled."),
            ("customer", "Thanks."),
            (
                "agent",
                "So: your claim is on file, Priya calls you by Friday, the crew patches Kingsway "
                "Avenue by Tuesday, and I'll check in Wednesday.",
            ),
        ],
        [
            ("third party", "Priya to call the customer by Friday with a decision."),
            ("third party", "Road crew to patch the hole by Tuesday."),
            ("agent", "Call the customer Wednesday to make sure the hole's filled."),
        ],
    ),
    (
        [
            (
                "agent",
                "The courier will take the old shirts back with him when he drops off the new "
                "ones on Friday.",
            ),
            ("customer", "Great."),
            (
                "agent",
                "So, to recap: the shirts go out this afternoon, the courier swaps them over, "
                "and the order sheet comes from me next week.",
            ),
        ],
        [
            (
                "third party",
                "Courier to take the old shirts back with him when he drops off the new ones on "
                "Friday.",
            )
        ],
    ),
    (
        [
            ("customer", "I'll get my head chef, Luis, to be there from nine on Wednesday."),
            ("agent", "Perfect. I'll ring you Wednesday afternoon."),
            ("customer", "Great."),
            (
                "agent",
                "So, just to run through it: the driver's out Wednesday before eleven, Luis will "
                "be there from nine, and I'll ring you Wednesday afternoon.",
            ),
        ],
        [
            (
                "customer",
                "Customer to get their head chef, Luis, to be there from nine on Wednesday.",
            ),
            ("agent", "Call the customer Wednesday afternoon."),
        ],
    ),
    # no list: a lead-in and a condition close no clause of their own
    (
        [
            (
                "agent",
                "Since we changed your sailing, I'll check your booking on Friday morning and if "
                "a supplement has been added, I'll remove it.",
            )
        ],
        [
            (
                "agent",
                "Check the customer's booking on Friday morning and if a supplement has been "
                "added, the agent will remove it.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "On the slow data, I've raised a ticket with our network team, reference "
                "LK30951, so they'll look into it, and they'll come back to me within five "
                "working days.",
            )
        ],
        [
            ("third party", "Network team to look into it."),
            ("third party", "Network team to come back to the agent within 5 working days."),
        ],
    ),
    # a sentence that adds a matter keeps the plural promise before it
    (
        [
            (
                "agent",
                "We'll put a credit for both missed cleans on your November invoice. And Karen "
                "will ring you tomorrow to go through the new rota.",
            )
        ],
        [
            ("agent", "Put a credit for both missed cleans on the customer's November invoice."),
            ("third party", "Karen to call the customer tomorrow to go through the new rota."),
        ],
    ),
    (
        [
            (
                "agent",
                "If Anna did spot anything on Saturday, she should mention it to Luis right then "
                "so he can log it.",
            )
        ],
        [],
    ),
    (
        [
            (
                "customer",
                "I'm working Thursday, so I'll sort it with my neighbour, Bridie, to be there "
                "and let him in.",
            )
        ],
        [
            (
                "customer",
                "Customer to arrange with their neighbour, Bridie, to be there and let him in.",
            )
        ],
    ),
]


#: the customer's person had act, a thing sent said to arrive, visits that bring, asides after
#: a comma, lead-ins that give a reason, a gang named after its leader, an imperative asked
#: with a rising voice, recaps asked for or said "to confirm", a condition in the first person
_PEOPLE_HAD_ACT_ASIDES_AND_RECAPS_ASKED_FOR: Final = [
    # the customer's person had to act, named earlier in the turn
    (
        [
            (
                "customer",
                "My daughter Kayla's coming by tonight, so I'll have her scan my license and send the form back.",
            )
        ],
        [("customer", "Customer's daughter Kayla to scan their license and send the form back.")],
    ),
    (
        [
            (
                "agent",
                "I'll have the lads in dispatch post a replacement out first thing tomorrow, and she should be with you Thursday.",
            )
        ],
        [
            (
                "third party",
                "Lads in dispatch to post a replacement out first thing tomorrow, she should be with the customer Thursday.",
            )
        ],
    ),
    # a thing had done is no one sent to act
    (
        [("agent", "I'll get a hold put on the direct debit for this bill after the call.")],
        [("agent", "Get a hold put on the direct debit for this bill after the call.")],
    ),
    # an opinion of what somebody should do is no step
    ([("customer", "That dashboard message is useless, honestly. Somebody should fix that.")], []),
    (
        [
            (
                "agent",
                "For that, I need you to upload two things in the portal: a bank letter, and the registration certificate.",
            )
        ],
        [("customer", "Customer to upload two things in the portal: a bank letter.")],
    ),
    (
        [
            (
                "agent",
                "The workshop'll regrind the chipped one, there's likely another year or two in it yet.",
            )
        ],
        [("third party", "Workshop to regrind the chipped one.")],
    ),
    (
        [
            (
                "agent",
                "Callum's back tomorrow, so he'll bring both round to you before 10, and he'll take the chipped one away with him.",
            )
        ],
        [
            (
                "third party",
                "Callum to bring both round to the customer before 10 and take the chipped one away with him.",
            )
        ],
    ),
    # a past act said without its subject is no request
    (
        [
            (
                "agent",
                "Just emailed it to the address we have on file. Can you sign it and get it back to me by Friday?",
            )
        ],
        [("customer", "Customer to sign it and get it back to the agent by Friday.")],
    ),
    (
        [("agent", "That's why, this time, Hemi's going to ring you himself on Wednesday night.")],
        [("third party", "Hemi to call the customer himself on Wednesday night.")],
    ),
    (
        [
            (
                "agent",
                "Hemi's gang is at Mount Somers on Wednesday. They'll have your ewes done by Friday.",
            )
        ],
        [("third party", "Hemi's gang to have the customer's ewes done by Friday.")],
    ),
    (
        [("agent", "No rush. Have a chat with the band and let me know by Monday week?")],
        [("customer", "Customer to let the agent know by Monday week.")],
    ),
    # the customer asked for a recap: the agent's answer says the steps again
    (
        [
            ("agent", "I'll email you both guides this afternoon."),
            ("customer", "Lovely. Will you go over it once more for me?"),
            ("agent", "Course. I email the two guides this afternoon, Declan rings you Friday."),
        ],
        [("agent", "Email the customer both guides this afternoon.")],
    ),
    (
        [
            (
                "agent",
                "As soon as I have your instruction, I'll pay the renewal fee and the surcharge the same day.",
            ),
            ("customer", "Great."),
            (
                "agent",
                "So, to confirm: I'll pay the fee and surcharge the same day and send you the receipt.",
            ),
        ],
        [
            (
                "agent",
                "Pay the renewal fee and the surcharge the same day as soon as the agent has the customer's instruction.",
            )
        ],
    ),
    (
        [("agent", "Once I've got that, DPD will drop them at The Fleece on the tenth.")],
        [
            (
                "third party",
                "DPD to drop them at The Fleece on the tenth once the agent has got that.",
            )
        ],
    ),
    (
        [("agent", "I'll re-issue the invoice by Friday.")],
        [("agent", "Re-issue the invoice by Friday.")],
    ),
]


#: a colleague named aside, a plural promise after "rather than", the customer's person said as
#: who it will be, requests put as what would suit or after a colon, a condition kept whole,
#: what happens otherwise, an event done and dusted, a recap "run back"
_COLLEAGUES_ASIDE_REQUESTS_SUITED_AND_CONDITIONS_WHOLE: Final = [
    (
        [
            (
                "agent",
                "Actually, tell you what, I'll get Ken, he's our in-house astronomy nerd, to ring you Thursday evening.",
            )
        ],
        [("third party", "Ken to call the customer Thursday evening.")],
    ),
    # the customer's own person named with their role stays the customer's ask
    (
        [("customer", "I'll get Fiona, my manager, to email you the report tonight.")],
        [
            (
                "customer",
                "Customer to get Fiona, their manager, to email the agent the report tonight.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Rather than mess about with a repair, we'll just swap the whole mount head. Our warehouse has them in stock, so they'll ship a new head out to you tomorrow.",
            )
        ],
        [("third party", "Warehouse to ship a new head out to the customer tomorrow.")],
    ),
    (
        [("customer", "It'll be my husband picking it up on the sixth.")],
        [("customer", "Customer's husband to pick it up on the sixth.")],
    ),
    (
        [
            (
                "agent",
                "If you could reply to the email address on the letter with it by Wednesday, that would be ideal.",
            )
        ],
        [
            (
                "customer",
                "Customer to reply to the email address on the letter with it by Wednesday.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "So what I need from you: go into the dashboard, switch to the new account, and upload a bank letter. By Friday, ideally.",
            )
        ],
        [
            (
                "customer",
                "Customer to go into the dashboard, switch to the new account and upload a bank letter, by Friday, ideally.",
            )
        ],
    ),
    (
        [("agent", "An enquiry officer will telephone you to arrange the home visit.")],
        [("third party", "Enquiry officer to telephone the customer to arrange the home visit.")],
    ),
    (
        [
            (
                "agent",
                "If you email me their name, address and phone number by Monday, the team will send them the form that same week.",
            )
        ],
        [
            (
                "third party",
                "Team to send them the form that same week if the customer emails the agent their name, address and phone number by Monday.",
            )
        ],
    ),
    # what happens otherwise is no step
    ([("customer", "I need both of those apostilled or they'll just send me home.")], []),
    # what a third party will want to know is no act
    (
        [
            (
                "agent",
                "Their investigations team will be in touch with you within forty-eight hours. They'll probably want to know who signed and when.",
            )
        ],
        [("third party", "Investigations team to be in touch with the customer within 48 hours.")],
    ),
    (
        [
            (
                "agent",
                "And then once the christening's done and dusted, bring it back to us in January.",
            )
        ],
        [
            (
                "customer",
                "Customer to bring it back to the company in January once the christening's done and dusted.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "And our security manager, Tama, is lodging a police report on our behalf this afternoon.",
            )
        ],
        [
            (
                "third party",
                "Security manager Tama to lodge a police report on the company's behalf this afternoon.",
            )
        ],
    ),
    # who the customer says will act is named
    (
        [("customer", "The plumber will come on Tuesday.")],
        [("customer", "Plumber to come on Tuesday.")],
    ),
    (
        [
            ("agent", "I'll email you the form today."),
            ("customer", "Okay."),
            ("agent", "So let me run it back. I email you the form today."),
        ],
        [("agent", "Email the customer the form today.")],
    ),
]


#: a thing said to be in the customer's email from the agent, a team named by a bare plural, a
#: time said for the acts just named ("I'll have both done by Friday"), a booking that still
#: stands, a recap "run through", a request put as what it would give the agent
_EMAILS_SAID_AS_WHERE_AND_TIMES_FOR_ACTS_JUST_NAMED: Final = [
    (
        [
            (
                "agent",
                "And for the hassle, there'll be a ten percent discount code in your email from me today.",
            )
        ],
        [("agent", "Email the customer a ten percent discount code today.")],
    ),
    (
        [
            (
                "agent",
                "Pop it back in its box and leave it by the door. Returns will email you a prepaid label.",
            )
        ],
        [("third party", "Returns to email the customer a prepaid label.")],
    ),
    (
        [
            (
                "agent",
                "I'll re-sculpt the ear seam and reset the left eye. I'll have both done by Friday.",
            )
        ],
        [("agent", "Re-sculpt the ear seam and reset the left eye by Friday.")],
    ),
    (
        [("agent", "Highland Freight are still booked to come for it on Wednesday the 16th.")],
        [("third party", "Highland Freight to come for it on Wednesday the 16th.")],
    ),
    (
        [
            ("agent", "I'll fix the ear by Friday."),
            ("customer", "Great."),
            ("agent", "Right then, let me run through it. I fix the ear by Friday."),
        ],
        [("agent", "Fix the ear by Friday.")],
    ),
    (
        [
            (
                "agent",
                "If you could send me the slip, that'd give me something to show the warehouse.",
            )
        ],
        [("customer", "Customer to send the agent the slip.")],
    ),
    (
        [("agent", "Have a proper look at them and email me by Friday.")],
        [("customer", "Customer to email the agent by Friday.")],
    ),
]


#: a request put as what would suit after the event it waits for, "might I ask you to…", the
#: customer's person told to act (not a step named only as "do that")
_EVENTS_BEFORE_REQUESTS_AND_PEOPLE_TOLD: Final = [
    (
        [
            (
                "agent",
                "When it comes through, if you could sign it and email it back to us by Friday, that would be wonderful.",
            )
        ],
        [
            (
                "customer",
                "Customer to sign it and email it back to the company by Friday when it comes through.",
            )
        ],
    ),
    (
        [("agent", "In the meantime, might I ask you to email us the photos tonight?")],
        [("customer", "Customer to email the company the photos tonight.")],
    ),
    (
        [
            (
                "customer",
                "My husband, Sipho, works from home on Tuesdays. I'll tell him to keep an ear out for the gate and sign for it.",
            )
        ],
        [("customer", "Customer's husband Sipho to keep an ear out for the gate and sign for it.")],
    ),
    ([("agent", "I'll ask her to do that.")], [("agent", "Ask her to do that.")]),
]


#: assurances ("we'll make it right", "I'll sort that"), "do us a favour, …", a document said to
#: be in the customer's inbox, the customer's own recap ("just so I'm clear")
_ASSURANCES_FAVOURS_AND_THE_CUSTOMERS_RECAP: Final = [
    (
        [
            (
                "agent",
                "A short summary of Fiona's findings will be with you by email this evening.",
            )
        ],
        [("agent", "Email the customer a short summary of Fiona's findings this evening.")],
    ),
    (
        [
            (
                "agent",
                "It is, and we'll make it right. Production will re-voice the spot this morning.",
            )
        ],
        # the assurance is no step; the act named after it is
        [("third party", "Production to revoice the spot this morning.")],
    ),
    (
        [("agent", "And do us a favour, text me the number exactly how you want it read out?")],
        [("customer", "Customer to text the agent the number exactly how they want it read out.")],
    ),
    (
        [("agent", "Revised invoice will be in your inbox tomorrow, I'll sort that.")],
        [("agent", "Email the customer revised invoice tomorrow.")],
    ),
    (
        [
            ("customer", "I'll email the extract today."),
            ("agent", "Great."),
            (
                "customer",
                "Okay. So just so I'm clear. I send the extract today, you send the serial numbers tonight.",
            ),
        ],
        [("customer", "Customer to email the extract today.")],
    ),
    (
        [
            (
                "agent",
                "Right, what I'll do is ask Jamie, our editor, to go through the raw files "
                "from that afternoon.",
            )
        ],
        [("agent", "Ask Jamie, the editor, to go through the raw files from that afternoon.")],
    ),
]


_PROGRESSIVE_FUTURES_LOOKUPS_AND_PURPOSES_FIRST: Final = [
    (
        [("agent", "Seamus, our senior man, will take the rubber off that very same day.")],
        [("third party", "Senior man Seamus to take the rubber off that very same day.")],
    ),
    (
        [("agent", "DPD will have them back at your door by Friday.")],
        [("third party", "DPD to have them back at the customer's door by Friday.")],
    ),
    (
        [("agent", "D-20914, lovely. Give me one second and I'll have it up.")],
        [],
    ),
    (
        [
            (
                "agent",
                "Our archivist, Morag Ross, will be going up to the archive in Inverness next Tuesday to go through them in person.",
            )
        ],
        [
            (
                "third party",
                "Archivist Morag Ross to go up to the archive in Inverness next Tuesday to go through them in person.",
            )
        ],
    ),
    (
        [("agent", "The engineer will be calling you on Monday.")],
        [("third party", "Engineer to call the customer on Monday.")],
    ),
    (
        [
            (
                "agent",
                "In the meantime, so you're not left in the dark any longer, a short summary of the findings will be with you by email this evening.",
            )
        ],
        [("agent", "Email the customer a short summary of the findings this evening.")],
    ),
    (
        [("customer", "Fair enough. I'll wait and see.")],
        [],
    ),
    (
        [("agent", "But I need that Schedule B first. Think you could email me a copy today?")],
        [("customer", "Customer to email the agent a copy today.")],
    ),
    (
        [("customer", "Yes, it's a PDF. I'll send it the minute we hang up.")],
        [("customer", "Customer to send it after the call.")],
    ),
    (
        [
            (
                "agent",
                "Now, the crew's gonna have to go back out and find the line. They'll be out there Thursday morning, early.",
            )
        ],
        [("third party", "Crew to be out there Thursday morning, early.")],
    ),
    (
        [
            (
                "agent",
                "The operator's gotta come flag it, that's state law. They'll have it flagged by Wednesday, they're pretty good about that out there.",
            )
        ],
        [("third party", "Operator to have it flagged by Wednesday.")],
    ),
    (
        [
            (
                "agent",
                "We'll send a recovery truck out to collect it on Monday morning, so you don't have to drive it, and the workshop will diagnose it by Wednesday.",
            )
        ],
        [
            ("agent", "Send a recovery truck out to collect it on Monday morning."),
            ("third party", "Workshop to diagnose it by Wednesday."),
        ],
    ),
]


_ACTS_NOT_LISTED: Final = [
    (
        [
            (
                "agent",
                "It is, and we'll make it right. Production will re-voice the spot with the "
                "right number this morning.",
            )
        ],
        [("third party", "Production to revoice the spot with the right number this morning.")],
    ),
    (
        [
            (
                "agent",
                "Anika in traffic will slot fourteen bonus spots into next week, Monday to "
                "Friday, no charge.",
            )
        ],
        [
            (
                "third party",
                "Anika in traffic to slot fourteen bonus spots into next week, Monday to Friday, "
                "no charge.",
            )
        ],
    ),
    (
        [("agent", "Our glazier will reputty the frame on Thursday.")],
        [("third party", "Glazier to reputty the frame on Thursday.")],
    ),
    # no time to come, or no thing acted on: no step
    ([("agent", "Anika will slot them in somewhere.")], []),
    ([("agent", "The parcel office will definitely be closed on Monday.")], []),
]


_FIRMS_VISITS_AND_NAMES_SPOKEN_TO: Final = [
    (
        [
            (
                "agent",
                "Okay, here's the plan. Northland Marine is shipping us a new canopy frame that'll be at our yard by Wednesday.",
            )
        ],
        [
            (
                "third party",
                "Northland Marine to ship the company a new canopy frame that'll be at the yard by Wednesday.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Jen, our crew lead, is going to be back out Thursday morning to re-anchor section three.",
            )
        ],
        [
            (
                "third party",
                "Crew lead Jen to be back out Thursday morning to re-anchor section three.",
            )
        ],
    ),
    (
        [("agent", "He'll be out all day tomorrow.")],
        [],
    ),
    (
        [
            ("agent", "Have you got your ticket number there, Oom?"),
            ("customer", "BGP-1093."),
            (
                "agent",
                "So Thabo in the cutting room is going to go through the cold room and match your kudu's tag, and he'll have an answer by two o'clock.",
            ),
        ],
        [
            (
                "third party",
                "Thabo in the cutting room to go through the cold room and match the customer's kudu's tag.",
            ),
            ("third party", "Thabo to have an answer by 2 o'clock."),
        ],
    ),
    (
        [
            (
                "agent",
                "Then our driver's bringing your steaks up to Pretoria on Saturday morning with the Gauteng run, and he'll swap them for the impala boxes.",
            )
        ],
        [
            (
                "third party",
                "Driver to bring the customer's steaks up to Pretoria on Saturday morning with the Gauteng run and swap them for the impala boxes.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Can you WhatsApp me a photo of the labels on the boxes, on this number, 082 614 3307?",
            )
        ],
        [
            (
                "customer",
                "Customer to whatsapp the agent a photo of the labels on the boxes, on this number, 082 614 3307.",
            )
        ],
    ),
    (
        [("agent", "Please keep those boxes in the freezer and don't open them, hey.")],
        [("customer", "Customer to keep those boxes in the freezer and don't open them, hey.")],
    ),
    (
        [
            (
                "agent",
                "I spoke with Rachel, the manager at Bloomhouse in Dayton. She's going to make up a fresh arrangement on Friday.",
            )
        ],
        [("third party", "Manager Rachel to make up a fresh arrangement on Friday.")],
    ),
]


_ACCENTED_NAMES_ROLES_NAMED_AND_HELPS: Final = [
    (
        [("agent", "Then Ciarán will drop them out to you Friday evening.")],
        [("third party", "Ciarán to drop them out to the customer Friday evening.")],
    ),
    (
        [("agent", "Our records clerk, Tomás, is scanning exhibits 14 through 22 today.")],
        [("third party", "Records clerk Tomás to scan exhibits 14 through 22 today.")],
    ),
    (
        [
            (
                "agent",
                "I have registered a privacy complaint. If you can email a screenshot of that other website to privacy@shubhvivah.in, it will help the team trace it.",
            )
        ],
        [
            (
                "customer",
                "Customer to email a screenshot of that other website to privacy@shubhvivah.in.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "I've spoken to our fitter, Seán, and he'll be round on Tuesday to swap the valve.",
            )
        ],
        [("third party", "Fitter Seán to be round on Tuesday to swap the valve.")],
    ),
]


_ACTS_DONE_AGAIN_AND_PEOPLE_SAID_WITH_WHO_THEY_ARE: Final = [
    (
        [
            (
                "agent",
                "So this is the plan. Johan, our QC manager, is going to re-inspect those eighteen bins himself before Thursday.",
            )
        ],
        [
            (
                "third party",
                "QC manager Johan to re-inspect those eighteen bins himself before Thursday.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "And Marc, our field tech for eastern Ontario, is coming out Saturday to fit it.",
            )
        ],
        [("third party", "Field tech Marc to come out Saturday to fit it.")],
    ),
    (
        [
            (
                "agent",
                "And Volterra, who make the inverter, are sending a replacement control board up to our depot, due Tuesday.",
            )
        ],
        [
            (
                "third party",
                "Volterra to send a replacement control board up to the depot, due Tuesday.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "And our parts partner, Delta Diesel Supplies, is delivering a replacement control relay to your site by tomorrow morning.",
            )
        ],
        [
            (
                "third party",
                "Parts partner Delta Diesel Supplies to deliver a replacement control relay to the customer's site by tomorrow morning.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Alasdair's our clockmaker for Perthshire, and he's going to be at the church on Thursday at nine to regulate the pendulum.",
            )
        ],
        [
            (
                "third party",
                "Alasdair to be at the church on Thursday at nine to regulate the pendulum.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Also, Tom Pryce, the farrier, is doing the yard on the fourteenth, so he'll do Bramble's front shoes then.",
            )
        ],
        [("third party", "Farrier Tom Pryce to do Bramble's front shoes on the fourteenth.")],
    ),
    (
        [("agent", "Could you please re-upload a clear photo of the card from the app today?")],
        [("customer", "Customer to re-upload a clear photo of the card from the app today.")],
    ),
]


_TITLES_CHARGES_HELD_AND_GO_AHEADS: Final = [
    (
        [
            (
                "agent",
                "Our dye master, Mr. Senthil, is stripping and redyeing the full lot from tomorrow morning.",
            )
        ],
        [
            (
                "third party",
                "Dye master Mr. Senthil to strip and redye the full lot from tomorrow morning.",
            )
        ],
    ),
    (
        [
            (
                "agent",
                "Regarding payment, the processing invoice of ₹2,40,000 will be kept on hold until you approve the redyed lot.",
            )
        ],
        [
            (
                "agent",
                "Keep the processing invoice of ₹2,40,000 on hold until the customer approves the redyed lot.",
            )
        ],
    ),
    (
        [("agent", "And the late fee will be waived.")],
        [("agent", "Waive the late fee.")],
    ),
    (
        [
            ("agent", "Yes, madam, good afternoon. Please tell me."),
            ("customer", "The navy lot you delivered yesterday, we cannot use it."),
        ],
        [],
    ),
]


_THE_CUSTOMERS_OWN_PEOPLE_NAMED: Final = [
    (
        [
            (
                "customer",
                "Our church officer, Hamish, keeps the keys. I'll have him there at quarter to "
                "nine to let them in.",
            )
        ],
        [
            (
                "customer",
                "Customer to have church officer Hamish there at quarter to nine to let them in.",
            )
        ],
    ),
    (
        [
            (
                "customer",
                "My brother-in-law's up there Wednesday, I'll get him to pull it up behind the "
                "garage.",
            )
        ],
        [("customer", "Customer to get their brother-in-law to pull it up behind the garage.")],
    ),
    # no one of theirs named in the turn: the pronoun stays
    (
        [("customer", "I'll get him to pull it up behind the garage on Wednesday.")],
        [("customer", "Customer to get him to pull it up behind the garage on Wednesday.")],
    ),
]


_WHAT_THE_CUSTOMER_REPORTED_AND_WHAT_WE_WANT: Final = [
    (
        [
            (
                "agent",
                "And provided your report matches what you've told me, I'll upgrade the shipping to next-day air at our cost, so you'll have them Friday.",
            )
        ],
        [("agent", "Upgrade the shipping to next-day air at the cost.")],
    ),
    (
        [
            (
                "agent",
                "We'll want them back for the investigation. I'll book a truck to pick them up from your dock Friday afternoon.",
            )
        ],
        [("agent", "Book a truck to pick them up from the customer's dock Friday afternoon.")],
    ),
    (
        [("customer", "You told me last week you'd send it, and nothing came.")],
        [],
    ),
]


_SOMEONE_IN_THE_STUDIO: Final = [
    (
        [
            (
                "agent",
                "Dwayne is in the studio tomorrow morning, so he's going to re-export the full "
                "stems, harmonies included.",
            )
        ],
        [("third party", "Dwayne to re-export the full stems, harmonies included.")],
    ),
]


@pytest.mark.parametrize(
    ("turns", "found"),
    _CONDITIONS_WITHOUT_COMMAS_AND_VISITS_SAID_SHORT
    + _IN_CALL_PASSED_ON_AND_PURPOSES_SAID_FIRST
    + _COLLEAGUES_ASKED_AND_PROMISES_STANDING
    + _OFFERS_HEDGES_AND_REQUESTS_PUT_AS_FAVOURS
    + _ADVICE_REPORTED_PROMISES_AND_SPANS
    + _PASSIVES_PLANS_HOLDINGS_AND_GOODBYES
    + _TEAMS_NAMED_RECAP_LISTS_AND_STRESSED_CONDITIONS
    + _PEOPLE_HAD_ACT_ASIDES_AND_RECAPS_ASKED_FOR
    + _COLLEAGUES_ASIDE_REQUESTS_SUITED_AND_CONDITIONS_WHOLE
    + _EMAILS_SAID_AS_WHERE_AND_TIMES_FOR_ACTS_JUST_NAMED
    + _EVENTS_BEFORE_REQUESTS_AND_PEOPLE_TOLD
    + _ASSURANCES_FAVOURS_AND_THE_CUSTOMERS_RECAP
    + _PROGRESSIVE_FUTURES_LOOKUPS_AND_PURPOSES_FIRST
    + _ACTS_NOT_LISTED
    + _FIRMS_VISITS_AND_NAMES_SPOKEN_TO
    + _ACCENTED_NAMES_ROLES_NAMED_AND_HELPS
    + _ACTS_DONE_AGAIN_AND_PEOPLE_SAID_WITH_WHO_THEY_ARE
    + _TITLES_CHARGES_HELD_AND_GO_AHEADS
    + _THE_CUSTOMERS_OWN_PEOPLE_NAMED
    + _WHAT_THE_CUSTOMER_REPORTED_AND_WHAT_WE_WANT
    + _SOMEONE_IN_THE_STUDIO,
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


def test_the_problem_is_the_reply_to_the_second_ask_after_the_lookup() -> None:
    call = said(
        ("agent", "ClearSight Direct, Josh speaking, how can I help?"),
        (
            "customer",
            "G'day, Josh, it's Brendan Walsh. I've got a subscription with you for daily lenses.",
        ),
        ("agent", "No worries, Brendan. Can I grab your subscription number?"),
        ("customer", "Subscription number's CS-118260."),
        (
            "agent",
            "Beauty. Right, three-monthly delivery, last one went out on the 2nd. What's up?",
        ),
        (
            "customer",
            "The boxes for my left eye say minus two seventy-five. My prescription's minus three "
            "twenty-five.",
        ),
    )
    _, highlights = summary(call, sentences(call), next_steps(call))
    problem = next(h for h in highlights if h.kind == "problem")
    assert problem.text.startswith("The boxes for my left eye")


def test_a_question_before_the_problem_is_not_the_problem() -> None:
    call = said(
        ("agent", "Thornbury Bathrooms, Sophie speaking, how can I help?"),
        (
            "customer",
            "Morning, Sophie. You did our bathroom on Elm Grove a couple of weeks back. First "
            "off, is it alright to pay the final invoice by bank transfer rather than card?",
        ),
        ("agent", "Of course. Bank transfer's absolutely fine."),
        (
            "customer",
            "Right. I'm not keen on paying it just yet, because the new shower tray's leaking.",
        ),
    )
    _, highlights = summary(call, sentences(call), next_steps(call))
    problem = next(h for h in highlights if h.kind == "problem")
    assert "shower tray's leaking" in problem.text


def test_greetings_in_welsh_and_maori_are_no_problem() -> None:
    for greeting in ("Kia ora Hemi", "Bore da, Dafydd"):
        call = said(
            ("agent", "Patient transport, Hemi speaking, how can I help?"),
            (
                "customer",
                f"{greeting}, it's Bev Tamihana. I'm ringing about transport for my dad.",
            ),
            ("agent", "No worries. What's happened?"),
            ("customer", "His van didn't turn up on Monday and he missed his appointment."),
        )
        _, highlights = summary(call, sentences(call), next_steps(call))
        problem = next(h for h in highlights if h.kind == "problem")
        assert problem.text.startswith("His van didn't turn up"), greeting


def test_the_problem_follows_the_job_the_company_did_and_a_compliment() -> None:
    call = said(
        ("agent", "Stoneline Benchtops, Rhys speaking."),
        (
            "customer",
            "Oh hi Rhys, it's Megan Doyle. You guys put our kitchen benchtops in yesterday, in "
            "Wollongong. Job JOB-3318.",
        ),
        ("agent", "Morning, Megan. Yep, got it up. How's it looking?"),
        ("customer", "Look, the stone's gorgeous, no complaints there."),
        ("agent", "But I'm guessing there's a but."),
        (
            "customer",
            "There's a but. The sparky came this morning to put the cooktop in and it won't go "
            "in. The cutout's too narrow.",
        ),
    )
    _, highlights = summary(call, sentences(call), next_steps(call))
    problem = next(h for h in highlights if h.kind == "problem")
    assert problem.text.startswith("There's a but. The sparky came this morning")


def test_the_problem_follows_the_answers_to_the_look_up() -> None:
    call = said(
        ("agent", "Good morning, Hive and Honey Supplies, Siobhán speaking, how can I help?"),
        (
            "customer",
            "Ah, morning Siobhán. It's Pádraig Murphy here, out in Ballincollig. I'm, eh, I'm "
            "ringing about a queen I got from ye this week.",
        ),
        ("agent", "Oh right, lovely. Have you the order number there handy, Pádraig?"),
        ("customer", "I do, hang on now... it's H B, two-oh-nine-three-one."),
        (
            "agent",
            "HB-20931, grand. One mated Buckfast queen, delivered yesterday. Is that the one?",
        ),
        (
            "customer",
            "That's the one. But when I opened the little box she was dead in the cage.",
        ),
    )
    _, highlights = summary(call, sentences(call), next_steps(call))
    problem = next(h for h in highlights if h.kind == "problem")
    assert problem.text.startswith("That's the one. But when I opened the little box")


def test_a_number_after_no_does_not_end_the_sentence() -> None:
    call = said(
        (
            "agent",
            "Then our accounting office reissues the settlement at the No. 1 price. No. I'll "
            "call you.",
        )
    )
    assert [s.text for s in sentences(call)] == [
        "Then our accounting office reissues the settlement at the No. 1 price.",
        "No.",
        "I'll call you.",
    ]


def test_the_problem_follows_an_order_named_with_a_vague_trouble() -> None:
    call = said(
        ("agent", "Good afternoon, Northern Skies Optics, you've got Dev. What can I do for you?"),
        (
            "customer",
            "Hi Dev, um, my name's Marguerite Lapointe, I'm calling from Calgary. I bought a "
            "telescope from you guys a couple of weeks back and I'm, well, I'm having a bit of a "
            "time with it.",
        ),
        (
            "agent",
            "Oh no, okay. Have you got the order number handy? It should start with N-S.",
        ),
        ("customer", "Yeah, hang on, it's on the packing slip somewhere... here. NS-58213."),
        ("agent", "Lovely. The eight-inch reflector on the StarTrack mount. That the one?"),
        (
            "customer",
            "That's the one. So the telescope part seems fine, but the mount won't track anything.",
        ),
    )
    _, highlights = summary(call, sentences(call), next_steps(call))
    problem = next(h for h in highlights if h.kind == "problem")
    assert problem.text.startswith("That's the one. So the telescope part seems fine")


def test_the_problem_answers_tell_me_whats_happening() -> None:
    call = said(
        ("agent", "GrowWell Hydroponics, Declan here."),
        ("customer", "Hiya Declan, it's Siobhan Daly. I buy a fair bit off ye for my business."),
        ("agent", "Ah, Siobhan, how are you? What can I do for you?"),
        (
            "customer",
            "Not great now. I was on your online chat yesterday and it said someone'd ring me "
            "back within two hours, and sure nobody did, so here I am.",
        ),
        ("agent", "Ah no, sorry about that. Go on, tell me what's happening."),
        (
            "customer",
            "So the AquaFlow 2000 pump I bought about five weeks ago has just stopped. Dead.",
        ),
    )
    _, highlights = summary(call, sentences(call), next_steps(call))
    problem = next(h for h in highlights if h.kind == "problem")
    assert problem.text.startswith("So the AquaFlow 2000 pump I bought")


def _problem_of(*turns: tuple[str, str]) -> str:
    call = said(*turns)
    _, highlights = summary(call, sentences(call), next_steps(call))
    return next(h for h in highlights if h.kind == "problem").text


_OPENING: Final = [
    ("agent", "Ó Ceallaigh Hurleys, Seán speaking."),
    (
        "customer",
        "Howya Seán, Niamh Brennan here from St. Fintan's in Castlecomer. The under-twelve "
        "hurleys we got last week are all wrong.",
    ),
    ("agent", "Ah Niamh, how's things. Order 4417, thirty hurleys, is it?"),
    ("customer", "That's the one."),
]
_TOLD: Final = (
    "customer",
    "Well, the order was mostly twenty-eights with a few thirties, but twenty of them are "
    "thirty-twos, the wrong size entirely. Sure the small lads can barely lift them.",
)


@pytest.mark.parametrize(
    "asked",
    [
        "Grand. What's the story?",
        "Grand. Which part's gone wrong?",
        # no question: the agent reads the record back
        "Grand, I have it here. Thirty hurleys, sent out on Tuesday.",
    ],
)
def test_the_matter_said_in_brief_gives_way_to_the_turn_after_the_reference(asked: str) -> None:
    assert _problem_of(*_OPENING, ("agent", asked), _TOLD).startswith(
        "Well, the order was mostly twenty-eights"
    )


def test_a_matter_said_in_full_stays_the_problem_after_the_reference() -> None:
    # the first turn says what is wrong at length: the turn after the look-up adds to it
    opening = [
        ("agent", "Greenway Lawn Care, how can I help?"),
        (
            "customer",
            "Your technician did a weed treatment on my front lawn last Wednesday, and now it's "
            "covered in big brown patches. It looks like the grass is dead.",
        ),
        ("agent", "I'm sorry to hear that. Can I take your account number?"),
        ("customer", "It's GL-20931."),
        ("agent", "Thank you. Yes, I can see the treatment on the twelfth."),
        (
            "customer",
            "I didn't mow it at all that week, and my neighbour's lawn is fine, it's not right.",
        ),
    ]
    assert _problem_of(*opening).startswith("Your technician did a weed treatment")


@pytest.mark.parametrize(
    "introduction",
    [
        "This is Meenakshi Sundaram, production manager at Kaveri Knit Exports, Tiruppur.",
        "This is Babatunde Adeyemi, facility manager at Crestview Specialist Clinic, Lekki.",
    ],
)
def test_a_turn_that_only_says_who_calls_with_their_job_gives_way(introduction: str) -> None:
    problem = _problem_of(
        (
            "agent",
            "Good afternoon, Sri Lakshmi Process House, Karthik speaking. How may I help you?",
        ),
        ("customer", f"Good afternoon, Karthik. {introduction}"),
        ("agent", "Yes, madam, good afternoon. Please tell me."),
        (
            "customer",
            "The navy lot you delivered yesterday, we cannot use it. There is streaking across "
            "the width.",
        ),
    )
    assert problem.startswith("The navy lot you delivered yesterday, we cannot use it.")


def test_the_quoted_problem_leaves_out_who_calls_and_their_job() -> None:
    problem = _problem_of(
        ("agent", "Harbour Lifts, how can I help?"),
        (
            "customer",
            "This is Luis Romero, facilities manager at Harbour Point on Quay Street. Our main "
            "passenger lift has been out since Monday morning.",
        ),
    )
    assert problem == "Our main passenger lift has been out since Monday morning."


def test_the_matter_said_in_brief_after_who_calls_gives_way_when_the_reference_is_not_asked() -> (
    None
):
    # the reference asked for without a question mark; the turn's greeting and introduction do
    # not count as the matter's words
    problem = _problem_of(
        ("agent", "Kaveri Handloom Weavers, sales office. Ramesh speaking. How may I help you?"),
        (
            "customer",
            "Hello, Ramesh. This is Priya Nair from Nool Boutique, Bengaluru. I'm calling "
            "regarding our Deepavali order. There is a problem.",
        ),
        ("agent", "Sorry to hear that, madam. Kindly tell me the order number."),
        ("customer", "KHW/2291."),
        ("agent", "One minute, madam. Yes, forty cotton sarees, dispatched on the 2nd."),
        (
            "customer",
            "Received, yes, but fifteen of them have a bottle-green border, not maroon. My whole "
            "stall is planned around mustard and maroon, and the exhibition opens on the 18th. I "
            "can't sell green.",
        ),
    )
    assert problem.startswith("Received, yes, but fifteen of them have a bottle-green border")
