"""What a clause may say before its act, pure: a purpose, a reason, a topic, a time or a
reply ("So you're not chasing anyone again, I'll email you…", "Because of the slope, I'm
asking our site manager to…", "On the Thursday itself, could you make sure…"). The clauses
drop it to find the act (:mod:`callscope.insights.clauses`); the steps drop it from their
text (:mod:`callscope.insights.steptext`).
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.numbers import WEEKDAY

__all__ = ["LEADING", "PURPOSE_FOR_YOU", "TOPIC_OR_REASON"]

#: the words that open a topic or a reason said before the act (:data:`LEADING`)
_TOPIC_WORDS: Final = r"about|as for|regarding|as regards|with regard to"
_REASON_WORDS: Final = r"because of|due to|given|thanks to|in view of|since|because"
#: a lead-in that names a topic or a reason, not a time: "because of Tuesday, …"
TOPIC_OR_REASON: Final = re.compile(rf"\b(?:{_TOPIC_WORDS}|{_REASON_WORDS})\b", re.I)
#: what a purpose said first is for, after its "so": "(so) you're not chasing anyone again"
PURPOSE_FOR_YOU: Final = r"(?:that\s+)?you(?:'re|\s+are|\s+don't|\s+won't)\s+[^,.;?!]{1,50}"
LEADING = re.compile(
    # a purpose said first: "So you're not chasing anyone again, I'll email you…"
    r"^(?:(?:so\s+" + PURPOSE_FOR_YOU + r"(?=,)|"
    r"ok(?:ay)?|so|yes|sure|great|alright|right|well|and|then|also|now|good news|"
    r"perfect|thanks|thank you|fine|got it|understood|in the meantime|to make up for it|"
    r"anyway|either way|in any case|regardless|maybe later|i understand|of course|absolutely|"
    r"actually|(?:i'll\s+)?tell\s+you\s+what|"
    r"certainly|no problem|but|though|however|in (?:this|that|your) case|instead|this time|"
    r"as a gesture|as a goodwill gesture|one (?:more|last) thing|(?:and )?finally|lastly|oh|"
    r"no(?=,)|"
    # the agent taking the matter on: "Leave it with me, I'll call you on Friday"
    r"leave\s+it\s+with\s+(?:me|us)|"
    # what is not done instead: "Rather than mess about with a repair, we'll just swap…"
    r"rather\s+than\s+[^,.;?!]{1,40}(?=,)|"
    # the reason just given: "That's why, this time, Hemi's going to ring you himself"
    r"(?:that's|that\s+is|which\s+is)\s+why|"
    # the thing a request is about: "Then for the title itself, you'll need to bring it…"
    r"for\s+(?:the|your)\s[^,.;?!]{1,40}(?=,)|for\s+(?:that|this)(?=,)|"
    # a purpose first: "To keep it moving, I need you to…", "For any of this to go through, …"
    r"(?:for\s+(?:[a-z'-]+\s+){1,4})?to\s+[a-z]+(?:\s+[^,.;?!]{1,30}?)?(?=,)|"
    # time to think before the act: "Have a think about the wording and email it to me…"
    r"have\s+a\s+(?:(?:proper|good|quick)\s+)?(?:think|look|read|chat|word)"
    r"(?:\s+(?:about|at|over|through|with)\s+"
    r"[^,.;?!]{1,40}?)?\s+and|"
    # a time first: "On the Thursday itself, could you make sure…", "Tomorrow morning, I'll…"
    rf"on\s+(?:the\s+)?(?:day|{WEEKDAY})(?:\s+itself)?|"
    r"(?:tomorrow|tonight|later today|first thing tomorrow)(?:\s+(?:morning|afternoon|evening))?|"
    # a time clause first: "Before Declan comes, could you send us a photo…?"
    r"before\s+[^,.;?!]{1,40}(?=,)|"
    # what the agent finds on the account: "It looks like our billing office has already…"
    r"(?:it\s+)?(?:looks|seems)\s+(?:like|as if|as though)(?:\s+that)?|i\s+can\s+see(?:\s+that)?|"
    # a topic named first: "about the tablets you asked about, our nurse will call you…"
    rf"(?:{_TOPIC_WORDS})\s[^,.;?!]{{1,80}}(?=,)|"
    # a reason first: "because of the slope, I'm asking our site manager to…"
    rf"(?:{_REASON_WORDS})\s[^,.;?!]{{1,40}}(?=,)|"
    # a reason said as a clause: "since you'll be coming off knee surgery, our coordinator…"
    r"(?:since|because)\s+(?:you|we|i|it|they|he|she|the)\b[^,.;?!]{1,80}(?=,))[,.!]?\s+)+",
    re.I,
)
