"""Signs that a clause promises nothing, pure: a hypothetical ("we could send one"), a hedged
"should" ("she should look at it, but I can't promise when"), a complaint about an earlier
promise ("you said someone would call"), a rule rather than a promise ("we always refund…"),
an offer on the customer's choice ("if you upgrade, we'll waive the fee") and a done act's
effective date ("effective today"), and a first-person future that is a manner of speaking,
a need, a feeling or a sign-off ("I'll be honest", "I'll need a car", "we'll speak soon").
Read by :func:`callscope.insights.clauses.frame`.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "BELIEF", "CHOICE", "COMPLAINT", "COURTESY", "DONT_FORGET", "EFFECTIVE", "HABITUAL",
    "HYPOTHETICAL", "LEAVING", "NO_ACT_AHEAD", "NO_PROMISE", "SHOULD", "TIME_AS_OBJECT",
    "TYPICAL_TIME", "WHICH",
]  # fmt: skip

#: what a customer threatens to do "if it breaks again": a threat, not a step
LEAVING: Final = frozenset(("cancel", "switch", "leave", "dispute", "report", "close"))
#: no act: a courtesy asked at the end of a call ("please pass on my apologies to him"), or
#: how the agent decides to count the matter ("I'm going to treat this as a warranty callback")
COURTESY: Final = re.compile(
    r"\b(?:pass on|give|send)\s+(?:my|our)\s+(?:apologies|regards|love|thanks|best wishes)\b"
    r"|\bsay\s+(?:hi|hello)\s+to\b"
    r"|\b(?:treat|count|class)\s+(?:this|it|that)\s+as\b(?![^.;]*\band\b)",
    re.I,
)
#: "don't forget to bring…" is no negation
DONT_FORGET: Final = re.compile(r"\b(?:don't|do not)\s+forget\b", re.I)
#: an act whose object is a time: "skipped next week", "paused this month's box", and a new
#: end date set in the call: "I've extended it to the thirtieth of next month"
TIME_AS_OBJECT: Final = re.compile(
    # (and a time written down: "I've put before two in his notes")
    r"\b(?:(?:put|noted|written|wrote|added)\s+|(?:skip(?:ped|ping)?|paus(?:e|ed|ing))\s+(?:the\s+)?|"
    r"(?:extend|mov|reschedul|defer|postpon)(?:e|ed|es|ing|red|ring)?\s+"
    r"(?:it|them|(?:your|the|this|that)\s+[a-z'-]+)(?:\s+(?:to|until|till)\b[^,.;]*?)?\s*)$",
    re.I,
)

#: "were" and "had" only in a condition or an inversion ("if it were…", "had we known"): "to
#: confirm those were equipment faults" states a fact
HYPOTHETICAL = re.compile(
    r"(?:\b(?:would|could|might|hypothetically)\b|"
    # what happens otherwise: "I need both of those apostilled or they'll just send me home"
    r"\bor\s+(?:else\s+)?(?:they|he|she|it|we)(?:'ll|\s+will)\s|"
    # "if you had…" (not "if you haven't had a letter by…": a condition to come)
    r"\bif\b(?![^,.]{0,120}?(?:n't|n’t|not|have|has|'ve|’ve)\s+(?:(?:yet|still|just|already)\s+)?"
    r"had\b)[^,.]{0,120}?\b(?:were|had)\b|"
    r"^(?:were|had)\s+(?:i|we|you|they|he|she|it)\b|"
    # what is not expected, said with a stressed "did": "If Anna did spot anything on
    # Saturday, she should mention it to Luis"
    r"\bif\s+(?:[\w'-]+\s+){1,3}?did\s+(?!not\b)[a-z]+|"
    # doubt about one's own act: "I'm not sure we'll book Berlin through you"
    r"\b(?:not\s+sure|unsure|(?:don't|do\s+not)\s+know)\s+(?:if\s+|whether\s+|that\s+)?"
    r"(?:i|we)(?:'ll|\s+will)\b|\b(?:i|we)\s+doubt\b|"
    # what someone wants to be sure of, no promise: "I need to know I'll have a car"
    r"\b(?:i|we)(?:'d)?\s+(?:just\s+)?(?:need|want|like)\s+to\s+(?:know|be sure|be certain)\b)"
    r"(?!\s+(?:been\s+)?(?:to\b))",
    re.I,
)
#: what the speaker believes someone will do, no promise: "But I really think she'll sort it"
#: (with a time it is a step: "I think the engineer will call you tomorrow")
BELIEF: Final = re.compile(
    r"\b(?:i|we)\s+(?:really\s+|honestly\s+|do\s+)?(?:think|reckon|believe|expect|imagine)\s+"
    r"(?:that\s+)?(?:she|he|they|it|the\s+[a-z]+)(?:'ll|\s+will)\b",
    re.I,
)
#: "should", hedged in the same sentence ("she should look at it, but I can't promise when"):
#: a hope, not a promise
SHOULD = re.compile(r"\bshould\b", re.I)
NO_PROMISE = re.compile(
    r"\b(?:can't|cannot|can not|won't|couldn't)\s+(?:promise|guarantee)\b|\bno\s+guarantees?\b",
    re.I,
)
COMPLAINT = re.compile(
    # (not what the customer reported: "provided your report matches what you've told me")
    r"\b(?<!what )(?:you|someone|somebody|the last \w+|your colleague)(?:'ve|\s+have|\s+has)?\s+"
    r"(?:said|promised|told"
    r"|was supposed)|"
    # (not what a third party says it will do: "my bank said they'll reverse one of them")
    r"\b(?:they|he|she)\s+(?:said(?!\s+(?:that\s+)?(?:they|he|she)(?:'ll|\s+will)\b)|promised|"
    r"told|was supposed)|\b(?:was|were)\s+(?:told|promised)|\bnever (?:did|happened|came|showed|"
    r"arrived)|\bnothing happened|"
    # (not a promise standing: "their controller has promised to put a driver on from tomorrow")
    r"(?<!'s\s)(?<!'ve\s)(?<!\shas\s)(?<!\shave\s)\bpromised to\b",
    re.I,
)
#: what is done as a rule, not promised: "we'll always refund a missed delivery fee"
HABITUAL = re.compile(
    r"\b(?:always|usually|normally|generally|typically|in most cases|as a rule|whenever)\b", re.I
)
#: a relative clause, which says how things go rather than what is promised: "…, which
#: usually takes about ten days" (its "usually" makes no rule of the promise before it)
WHICH: Final = re.compile(r",?\s*\bwhich\b[^,;]*", re.I)
#: how long it usually takes, said after the promise: "…, normally within 24 hours" (no rule
#: of the promise either)
TYPICAL_TIME: Final = re.compile(
    r",\s*(?:usually|normally|typically|generally)\s+(?:within|in|by|around|about|under)\b[^,;]*",
    re.I,
)
#: an offer on the customer's choice: "if you upgrade, we'll waive the setup fee"
CHOICE = re.compile(
    r"^\s*(?:and\s+)?if\s+you\s+(?:\w+\s+)?(?:choose|decide|cancel|upgrade|downgrade|switch|"
    r"renew|sign up|join|leave|stay)\b",
    re.I,
)
#: the date a done act takes effect from: nothing still to come ("I've cancelled the plan,
#: effective today", "I've moved your licence over, effective from today")
EFFECTIVE = re.compile(r"\b(?:effective|as of|as from|starting)(?:\s+from)?\s*$", re.I)
#: a first-person future that is a manner of speaking or a thought, not an act
NO_ACT_AHEAD = re.compile(
    r"(?:believe|think|guess|hope|bet|admit|wonder|assume|imagine|be\s+(?:honest|frank|"
    r"straight|fair|blunt))\b|have to think\b"
    # the customer coping: "we'll manage", "I'll cope until then"
    r"|(?:manage|cope|survive|make do)\b(?!\s+(?:to|the|your|my|our|it|this|that)\b)"
    # a need, a feeling or a forecast, not an act: "I'll need a courtesy car", "I'll be
    # really upset", "we're going to run out by Friday"
    r"|need\b(?!\s+to\b)|run\s+out\b"
    # a matter left for later: "We'll talk about it after the summer", "I'll think about it"
    r"|(?:talk|think)\s+about\s+(?:it|that)\b"
    # an assurance, no act: "I'll keep on top of it myself", "we'll make sure it doesn't
    # happen again", "we'll make it right", "I'll sort that"
    r"|(?:make|put)\s+(?:it|this|that|things)\s+right\b"
    r"|sort\s+(?:that|it|this)(?:\s+out)?(?:\s+for\s+you)?\s*[.!]?$"
    r"|keep\s+on\s+top\s+of\s+(?:it|this|that|things)\b"
    r"|make\s+sure\s+(?:it|this|that)\s+(?:doesn't|does\s+not|won't|will\s+not|never)\s+"
    r"happens?\s+again\b"
    # waiting on the line: "that's fine, I'll wait" (not "I'll wait in for the engineer",
    # "I'll hold the room for you")
    r"|(?:wait|hold|hang on)(?:\s+(?:on|here|then|on the line))?\s*[.,!]?\s*$"
    r"|be\s+(?:(?:really|very|so|quite|pretty)\s+)?(?:upset|angry|annoyed|disappointed|"
    r"furious|devastated|happy|glad|pleased|relieved|grateful|thrilled|surprised)\b"
    # a sign-off: "we'll speak soon", "I'll talk to you later"
    r"|(?:speak|talk|chat)(?:\s+(?:to|with)\s+you)?\s+(?:soon|later|again|then|tomorrow)\s*[.,!]?\s*$",
    re.I,
)
