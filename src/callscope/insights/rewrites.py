"""What was said from the customer's side or in the passive, read actively, pure.

Before a sentence is cut into clauses (:mod:`callscope.insights.clauses`), :func:`rewritten`
puts who acts first: "you'll get a call from the surveyor on Monday" → "the surveyor will call
you on Monday", "you'll be contacted by our claims team" → "our claims team will contact you",
"you'll get a text from us this evening" → "we'll text you this evening", "a calendar invite
will follow by email" → "we'll send you a calendar invite by email", "this month's rent will be
refunded to your card" → "we'll refund this month's rent to your card", "I've asked the branch
manager to call you" → "the branch manager will call you", "I'm also going to send…" → "I'm
going to also send…", "what I'll do is send you a new link" → "I'll send you a new link".
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.delegated import FROM_WHOM, NAMED_AFTER, SUBJECT_OF, delegated
from callscope.insights.incall import is_later
from callscope.insights.needed import as_asked, to_do
from callscope.insights.verbs import ACTIONS, base_form

__all__ = ["again_restored", "asked_first", "from_our_side", "rewritten"]


#: "you'll get", "you should also receive", …: what the customer is to get
_YOU_WILL = r"you(?:'ll|\s+will|'re going to|\s+are going to|\s+should)\s+(?:also\s+)?"
_YOU_GET = _YOU_WILL + r"(?:receive|get|have)"
#: the same without "have", as the contact and "from us" rewrites read it
_YOU_RECEIVE = _YOU_WILL + r"(?:receive|get)"
#: a contact: "a call", "that email", "the phone call"
_A_CONTACT = (
    r"(?:an?|that|the|this)\s+(?:phone\s+)?(?P<what>call|callback|call back|visit|email|text|"
    r"letter)"
)
_GET_FROM = re.compile(
    rf"\b(?:{_YOU_GET}|expect)\s+{_A_CONTACT}\s+from\s+"
    + FROM_WHOM
    # named after: "Expect a call from our pilot, Graham Pryce, between six and seven"
    + r"(?P<name>,\s+(?-i:[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*),)?",
    re.I,
)
#: the same from someone named just before: "I've flagged this with our operations manager,
#: and you'll get a call from her by Friday" — read as "she will call you by Friday"
_GET_FROM_PRONOUN = re.compile(
    rf"\b{_YOU_GET}\s+{_A_CONTACT}\s+from\s+(?P<who>him|her|them)\b", re.I
)
#: a contact with no sender named is the speaker's side's: "you'll also get a text reminder on
#: Friday" — read as "we'll text you a reminder on Friday"
_GET_CONTACT = re.compile(
    rf"\b{_YOU_RECEIVE}\s+(?:an?|the)\s+(?P<what>call|email|text|letter)(?:\s+(?P<kind>reminder|confirmation))?"
    r"\b(?![^,.;]*\bfrom\b)",
    re.I,
)
#: money the customer will see back: "you'll see both as one credit of $63.50 on your next
#: statement", "you'll get a credit for both missed cleans, that's £160, on your November
#: invoice" — read as "we'll put both as one credit of $63.50 on your next statement"
_MONEY_WORD = r"(?:[^,.;]|(?<=\d)[.,](?=\d)|,\s*that(?:'s|\s+is)\s+[^,.;]{1,50},)"
_YOU_WILL_SEE = re.compile(
    r"\byou(?:'ll|\s+will|\s+should)\s+(?:also\s+)?(?:see|get|receive)\s+"
    rf"(?P<what>{_MONEY_WORD}*?(?:credit|refund|\$|£|€|money|difference){_MONEY_WORD}*?)"
    r"\s+on\s+your\s+(?P<where>(?:next\s+|[A-Z][a-z]+\s+)?(?:statement|bill|invoice|card|"
    r"account))\b",
    re.I,
)
#: money paid back, said in the passive: "this month's rent of $129 will be refunded to your
#: card" — read as "we'll refund this month's rent of $129 to your card"; also "… will be
#: credited on this month's invoice", "your deposit will be refunded by Friday"
_WILL_BE_REFUNDED = re.compile(
    r"(?P<pre>^|[,;]\s*|\band\s+)(?P<what>(?:(?:the|your|this|that|a|an|our|[\w]+'s)\b|\$)"
    r"(?:[^,.;]|(?<=\d)[.,](?=\d)){0,60}?)"
    r"\s+(?:will|'ll|is going to)\s+be\s+(?P<verb>refunded|credited|reimbursed|paid back|"
    r"returned|paid|waived|(?:kept|put|placed)\s+on\s+hold)(?:\s+(?P<to>to|into|on|onto|against)\s+(?P<where>you\b|your\s+[\w-]+"
    r"(?:\s+[\w-]+)?|(?:this|next|the\s+next|the\s+same)\s+(?:month's\s+|week's\s+)?"
    r"(?:invoice|bill|statement|account|payment|card)\b)|(?=\s+(?:by|within|before|on|in|until|till|"
    r"today|tonight|tomorrow|this|next|straight\s+away|right\s+away)\b|\s*[,.;]|\s*$))",
    re.I,
)
_REFUND_OF: Final = {
    "refunded": "refund", "credited": "credit", "reimbursed": "reimburse",
    "paid back": "pay back", "returned": "return", "paid": "pay", "waived": "waive",
    # a charge held: "the processing invoice of ₹2,40,000 will be kept on hold until you…"
    "kept on hold": "keep", "put on hold": "put", "placed on hold": "place",
}  # fmt: skip
#: an adverb before "going to" ("I'm also going to send…") goes after it, where the future
#: is read
_ADVERB_GOING = re.compile(
    r"\b(?P<who>i'm|i am|we're|we are|he's|he is|she's|she is|they're|they are)\s+"
    r"(?P<adv>also|just|then|now|definitely)\s+going\s+to\b",
    re.I,
)
#: "you'd need to fill in the form" in answer to "how do I claim?" is the customer's step, as
#: "you'll need to…"; with an "if" it stays a hypothetical, and after an "otherwise" it is the
#: other branch ("otherwise you'd need to pay the fee"); an "otherwise" after it is a warning
#: ("you'd need to post it within 14 days, otherwise they can't process it")
_YOUD_NEED = re.compile(r"\byou(?:'d|\s+would)\s+need\s+to\b", re.I)
#: what the speaker's side needs from the customer by a date: "We'll need your final guest
#: numbers by the first of March" — read as "you'll need to send us your final guest numbers…"
_NEED_YOUR = re.compile(
    r"\b(?P<who>we|I)(?:'ll|\s+will)\s+(?:also\s+)?need\s+your(?=\s+[^,.;?]{1,60}?\s+(?:by|before|"
    r"no later than)\s)",
    re.I,
)
#: the same with what is to be done to it: "we'll need that paid before the end of the month"
#: — read as "you'll need to pay that before…"
_NEED_DONE = re.compile(
    r"\b(?:we|I)(?:'ll|\s+will)\s+(?:also\s+)?need\s+(?P<what>that|it|this|them|(?:the|your)\s+"
    r"[a-z' -]{1,40}?)\s+(?P<done>paid|signed|returned|sent back|settled|completed|filled in)"
    r"(?=\s+(?:by|before|within|no later than)\b)",
    re.I,
)
#: a request announced before a colon: "One thing I'd like you to do before Marcus comes: use
#: the test strips…" — read as "could you use the test strips…"
_THING_TO_DO = re.compile(
    r"\b(?:one|the|a)\s+(?:other\s+|last\s+|more\s+)?thing\s+(?:I|we)(?:'d|\s+would)\s+(?:like|"
    r"need|want)\s+you\s+to\s+do\b[^:.?!]{0,60}:\s+(?=[a-z])",
    re.I,
)
#: "Could you do me a favor and email me a photo…" — read as "could you email me a photo…"
_DO_ME_A_FAVOUR = re.compile(r"\b(could|can|would)\s+you\s+do\s+me\s+a\s+favou?r\s+and\s+", re.I)
_IF_ANY = re.compile(r"\b(?:if|unless|in case)\b", re.I)
_OTHERWISE = re.compile(r"\b(?:otherwise|or else|alternatively|instead)\b", re.I)
#: a purpose said before the agent's request: "So Rosa can get in, could you leave the gate
#: unlocked?" — the request is read on its own
_PURPOSE_FIRST = re.compile(
    r"^\s*(?:so(?:\s+that)?|to|in order to|for|as for|about|regarding)\b[^,?]{1,60},\s*"
    r"(?=(?:could|can|would|will)\s+you\b)",
    re.I,
)
#: the same from the speaker's side: "you'll get a text from us this evening", "you'll get
#: that email from me in a few minutes" — read as "we'll text you…", "I'll email you…"
_GET_FROM_US = re.compile(
    rf"\b{_YOU_GET}\s+(?:an?|that|the|this)\s+(?:phone\s+)?(?P<what>call|callback|call back|"
    r"email|text|letter)\s+from\s+(?P<who>us|me)\b",
    re.I,
)
#: anything else the customer is to get from the speaker's side: "you'll get the corrected
#: invoice from us by email", "you'll also get a 5 euro ride credit from us" — read as
#: "we'll send you the corrected invoice…"
_THING_FROM_US = re.compile(
    rf"\b{_YOU_RECEIVE}\s+"
    r"(?P<what>(?:an?|that|the|this|your)\s+(?:[\w$'-]+\s+){0,6}?[\w$'-]+)\s+from\s+(?P<who>us|me)\b",
    re.I,
)
#: a thing the speaker's side emails, said as where it will be: "there'll be a ten percent
#: discount code in your email from me today" — read as "I'll email you a ten percent…"
_IN_YOUR_EMAIL = re.compile(
    r"\bthere(?:'ll|\s+will)\s+be\s+(?P<what>(?:an?|the|your)\s+[^,.;]{1,50}?)\s+in\s+your\s+"
    r"(?:email|inbox)\s+from\s+(?P<who>me|us)\b",
    re.I,
)
#: a document said to arrive in the customer's inbox: "Revised invoice will be in your inbox
#: tomorrow", "a short summary of Fiona's findings will be with you by email this evening" —
#: read as "we'll email you the revised invoice tomorrow"
_WILL_BE_IN_INBOX = re.compile(
    r"(?P<what>\b(?:(?:the|a|an|your)\s+)?(?:[\w$-]+\s+){0,2}(?:invoice|receipt|quote|"
    r"confirmation|statement|report|link|letter|form|code|summary|contract)"
    r"(?:\s+of\s+[\w'$-]+(?:\s+[\w'$-]+)?)?)"
    r"\s+(?:will|'ll|should)\s+be\s+(?:in\s+your\s+(?:inbox|email)|with\s+you\s+by\s+email)\b",
    re.I,
)
#: a document the speaker's side sends, said as a thing that follows: "a calendar invite will
#: follow by email", "the contract will be sent to you by post" — read as "we'll send you…"
_WILL_FOLLOW = re.compile(
    r"(?P<pre>^|[,;]\s*)(?:(?:and|also|then|so)\s+)*(?P<what>(?:a|an|the|your)\s+(?:[\w$'-]+\s+){0,6}?"
    r"(?:invite|invitation|confirmation|copy|contract|letter|email|receipt|quote|form|link|"
    r"voucher|label|statement|invoice|summary|schedule|report|code)"
    r"(?:\s+(?:for|of|with)\s+(?:[\w$'-]+\s+){0,4}?[\w$'-]+)?)\s+"
    r"(?:will|'ll|is going to)\s+(?:follow|be\s+(?:sent|emailed|posted|texted|mailed)(?:\s+(?:to\s+"
    r"you|out))?)\b",
    re.I,
)
#: a third party's act said in the passive with who acts after "by": "a warranty claim will be
#: opened with Kentwood by our warranty desk tomorrow", "the certificate will be emailed to you
#: by our compliance coordinator, Linda, tomorrow morning" — read as "our warranty desk will
#: open a warranty claim with Kentwood tomorrow"
_WHEN_WORDS = (
    r"(?:tomorrow|today|tonight|on|at|in|within|before|after|this|next|first|by|when|once|as|"
    r"no(?=\s+later))\b"
)
_DONE_BY = re.compile(
    # what may carry one aside: "a credit note for ninety euro, covering April and May,"
    r"(?P<what>\b(?:a|an|the|your)\s+[^,.;]{1,60}?)(?P<aside>,\s+[^,.;]{1,40},)?\s+"
    r"(?:will|'ll|is going to|are going to)\s+be\s+(?P<done>[a-z]+)\s+"
    r"(?P<rest>(?:to\s+you|with\s+(?-i:[A-Z])[\w-]*|for\s+you|out|over|"
    # where: "applied to your May invoice"
    r"(?:to|onto|on)\s+your\s+(?:[\w'-]+\s+){0,2}?[\w'-]+)\s+)?by\s+"
    r"(?P<who>(?:our|the|your)\s+(?:(?!"
    + _WHEN_WORDS
    + r")[a-z'-]+\s+){0,3}(?!"
    + _WHEN_WORDS
    + r")"
    r"[a-z'-]+(?:,\s+(?-i:[A-Z])[a-z'-]+(?:\s+(?-i:[A-Z])[a-z'-]+){0,2},)?|"
    r"(?-i:[A-Z])[\w-]+(?:\s+(?-i:[A-Z])[\w-]+)?)"
    # who ends where a time, a comma or the sentence begins
    r"(?=\s*(?:[,.;!?]|$)|\s+" + _WHEN_WORDS + r")",
    re.I,
)
_BY_WHOM = re.compile(
    r"\byou(?:'ll|\s+will|\s+should)\s+be\s+(?P<what>contacted|called|visited|emailed|texted|"
    r"phoned|rung)\s+(?:back\s+)?by\s+"
    + FROM_WHOM
    # named after: "by our landscaping partner, Greenline, in April"
    + NAMED_AFTER,
    re.I,
)
_ACT_OF: Final = {
    "call": "call", "callback": "call", "call back": "call", "visit": "visit", "email": "email",
    "text": "text", "letter": "write to", "contacted": "contact", "called": "call",
    "visited": "visit", "emailed": "email", "texted": "text", "phoned": "phone", "rung": "ring",
}  # fmt: skip


def _contacts_you(m: re.Match[str]) -> str:
    """``_GET_FROM``'s and ``_BY_WHOM``'s reading: "our pilot, Graham Pryce, will call you"."""
    return f"{m.group('who')}{m.group('name') or ''} will {_ACT_OF[m.group('what').lower()]} you"


def _done_by(m: re.Match[str]) -> str:
    """``_DONE_BY``'s reading; a time after "by" ("will be processed by Friday") names no one,
    and a form that is no listed act's past stays as said."""
    verb = base_form(m.group("done"))
    who = m.group("who")  # "our compliance coordinator, Linda," keeps its commas
    if verb is None or verb not in ACTIONS or verb == m.group("done").lower() or is_later(who):
        return m.group(0)
    rest = f" {m.group('rest').strip()}" if m.group("rest") else ""
    what = m.group("what")  # "A credit of…" opened its sentence: no longer its first word
    return f"{who} will {verb} {what[:1].lower()}{what[1:]}{m.group('aside') or ''}{rest}"


def _refund(m: re.Match[str]) -> str:
    """``_WILL_BE_REFUNDED``'s reading; "the invoice will be paid by direct debit" (no
    destination) is not money paid back and stays as said."""
    verb = " ".join(m.group("verb").lower().split())
    if m.group("to") is None and verb == "paid":
        return m.group(0)
    what = m.group("what")
    where = f" {m.group('to')} {m.group('where')}" if m.group("to") else ""
    held = " on hold" if verb.endswith("on hold") else ""
    return f"{m.group('pre')}we'll {_REFUND_OF[verb]} {what[:1].lower()}{what[1:]}{held}{where}"


#: a matter passed on to someone who will act: "It's been passed to our quality team, who'll go
#: through the call logs…" — read as "our quality team will go through the call logs…"
_PASSED_WHO = re.compile(
    r"\b(?:it(?:'s|\s+has)\s+been|i(?:'ve|\s+have))\s+(?:passed|sent|handed|referred|escalated)\s+"
    r"(?:it\s+)?(?:on\s+|over\s+)?to\s+(?P<who>(?:our|the)\s+(?:[a-z'-]+\s+){0,2}[a-z'-]+|"
    r"(?-i:[A-Z][a-z'-]+)),?\s+who(?:'ll|\s+will)\s+",
    re.I,
)
#: "I'll be in touch by Thursday", "Someone from our insurer will be in touch to go through…" —
#: read as "I'll contact you by Thursday", "…will contact you to go through…"
_IN_TOUCH = re.compile(
    r"(?<!\byou)('ll|\s+will|\s+(?:is|are)\s+going\s+to)\s+be\s+in\s+touch\b(?!\s+with\b)", re.I
)
#: "I'll get a claim form in the post to you today" — read as "I'll post a claim form to you…"
_IN_THE_POST = re.compile(
    r"\b(I|we)(?:'ll|\s+will)\s+(?:get|pop|put|stick)\s+([^,.;?!]{1,40}?)\s+in\s+the\s+post\b", re.I
)


def _actively(text: str) -> str:
    """ "you'll get a call from the surveyor on Monday" → "the surveyor will call you on
    Monday" (and "you'll be contacted by our claims team…" likewise)."""
    text = _PASSED_WHO.sub(lambda m: f"{m.group('who')} will ", text)
    text = _IN_TOUCH.sub(lambda m: f"{m.group(1)} contact you", text)
    text = _IN_THE_POST.sub(lambda m: f"{m.group(1)}'ll post {m.group(2)}", text)
    text = _GET_FROM.sub(_contacts_you, text)
    text = _BY_WHOM.sub(_contacts_you, text)
    text = _GET_FROM_PRONOUN.sub(
        lambda m: (
            f"{SUBJECT_OF[m.group('who').lower()]} will {_ACT_OF[m.group('what').lower()]} you"
        ),
        text,
    )
    text = _GET_FROM_US.sub(lambda m: f"{_we(m)}'ll {_ACT_OF[m.group('what').lower()]} you", text)
    text = _THING_FROM_US.sub(lambda m: f"{_we(m)}'ll send you {m.group('what')}", text)
    text = _IN_YOUR_EMAIL.sub(lambda m: f"{_we(m)}'ll email you {m.group('what')}", text)
    text = _WILL_BE_IN_INBOX.sub(
        lambda m: f"we'll email you {m.group('what')[:1].lower()}{m.group('what')[1:]}", text
    )
    text = _GET_CONTACT.sub(_contact_from_us, text)
    text = _YOU_WILL_SEE.sub(
        lambda m: f"we'll put {m.group('what')} on your {m.group('where')}", text
    )
    text = _DONE_BY.sub(_done_by, text)
    text = _WILL_BE_REFUNDED.sub(_refund, text)
    text = delegated(text)
    text = _PURPOSE_FIRST.sub("", text)
    text = _ADVERB_GOING.sub(lambda m: f"{m.group('who')} going to {m.group('adv')}", text)
    text = _NEED_YOUR.sub(
        lambda m: f"you'll need to send {'us' if m.group('who').lower() == 'we' else 'me'} your",
        text,
    )
    text = _NEED_DONE.sub(
        lambda m: f"you'll need to {to_do(m.group('done'))} {m.group('what')}", text
    )
    text = _THING_TO_DO.sub("could you ", text)
    text = _DO_ME_A_FAVOUR.sub(lambda m: f"{m.group(1)} you ", text)
    need = _YOUD_NEED.search(text)
    if need and not _IF_ANY.search(text) and not _OTHERWISE.search(text[: need.start()]):
        text = _YOUD_NEED.sub("you'll need to", text)
    return _WILL_FOLLOW.sub(_we_send, text)


#: the customer's act as the condition of what follows: "If you upload the March payslip
#: today, our underwriter will review it tomorrow", "and if you can email us a few photos
#: today, he'll be able to compare them"
_IF_YOU_DO = re.compile(
    # a topic may come first: "On the plumber's bill, if you email me the invoice today, …"
    r"^(?:(?:on|about|as for|regarding|for)\s+(?:the|your|that|this)\s[^,]{1,40},\s*)?"
    # "…, and as long as you pay it by Friday, that's all we need from you"
    r"(?:and\s+|so\s+)?(?:if|as\s+long\s+as|so\s+long\s+as|provided)\s+you\s+"
    r"(?:can\s+|could\s+)?(?:just\s+|also\s+)?"
    r"(?P<act>(?P<verb>[a-z]+)\b[^,]*?),\s*(?P<then>\S.*)$",
    re.I,
)


def asked_first(part: str) -> list[str]:
    """``part``, after the request its opening condition makes of the customer's act when that
    act is an action with a time after the call ("If you upload the payslip today, our
    underwriter will review it…" asks "could you upload the payslip today"); a condition
    that only may come ("if you miss a payment…", "if you call us") stays a condition."""
    m = _IF_YOU_DO.match(part.strip())
    courtesy = bool(m and _WOULD_BE_LOVELY.match(m.group("then")))
    if m is None or not (is_later(m.group("act")) or courtesy):
        return [part]
    verb = base_form(m.group("verb"))
    if verb is None or verb not in ACTIONS or verb in _CONTACTS:
        return [part]
    # "…, and if you could fill it in and send it back, that'd be lovely": the request alone
    return [f"could you {m.group('act')}?"] + ([] if courtesy else [part])


#: what follows a request put as a condition, only thanking for it: "that'd be lovely"
_WOULD_BE_LOVELY = re.compile(
    r"(?:that|it)(?:'d|\s+would)\s+be\s+(?:really\s+)?(?:lovely|great|brilliant|perfect|"
    r"helpful|ideal|wonderful|fantastic|amazing|a\s+(?:big\s+|real\s+|huge\s+)?help)\b",
    re.I,
)


#: contacting the company is what the customer may do, not what they are asked to
_CONTACTS: Final = frozenset(("call", "ring", "phone", "contact", "write", "reply"))


def from_our_side(text: str) -> bool:
    """Whether ``text`` has the customer get something from the speaker's side ("you'll get a
    letter from us confirming it"): the speaker's promise, not a consequence of an act."""
    return bool(_GET_FROM_US.search(text) or _THING_FROM_US.search(text))


def _contact_from_us(m: re.Match[str]) -> str:
    """ "you'll get a text" → "we'll text you"; not what follows from an act said before it
    ("I'll switch on reminders, so you'll get a text the day before"): a consequence."""
    if _SO_BEFORE.search(m.string[: m.start()]):
        return m.group(0)
    kind = f" a {m.group('kind').lower()}" if m.group("kind") else ""
    return f"we'll {_ACT_OF[m.group('what').lower()]} you{kind}"


_SO_BEFORE = re.compile(r"\w[^,.;?!]*,\s*(?:and\s+)?so\s+$", re.I)


def _we(m: re.Match[str]) -> str:
    """ "from me" is "I", "from us" is "we"."""
    return "I" if m.group("who").lower() == "me" else "we"


def _we_send(m: re.Match[str]) -> str:
    """ "…, a calendar invite will follow by email" → "…, and we'll send you a calendar invite
    by email"."""
    what, pre = m.group("what"), m.group("pre")
    return f"{pre}{'and ' if pre else ''}we'll send you {what[:1].lower()}{what[1:]}"


#: "what I'll do is send you a new link" is "I'll send you a new link"
_WHAT_I_DO = re.compile(
    r"\bwhat (i|we)(?:'ll|\s+will|'m going to|\s+am going to|'re going to|\s+are going to)\s+"
    r"do(?:\s+now|\s+for you)?\s+is\s+(?:to\s+)?",
    re.I,
)


#: a promise said hedged, with a time to come: "I should be able to get that out to you by
#: Thursday", "I'm hoping to have an answer for you tomorrow" — read as "I'll get that out…"
#: (without a time it stays a hope: "I should be able to sort it")
_HEDGED_PROMISE = re.compile(
    r"\b(I|we)\s+(?:should\s+be\s+able\s+to|(?:'m|\s+am|'re|\s+are)\s+hoping\s+to)\s+"
    r"(?=[a-z]+\b[^.;?!]*\b(?:today|tonight|tomorrow|by|before|within|on\s+(?-i:[A-Z])|"
    r"this\s+(?:afternoon|evening|week)|next\s+week)\b)",
    re.I,
)


#: a listed act done again: "re-inspect", "re-uploading" (read as the act itself)
_AGAIN = re.compile(r"\bre-(?P<said>[a-z]+)\b", re.I)


def _again(m: re.Match[str]) -> str:
    said = m.group("said")
    return said if base_form(said) in ACTIONS else m.group(0)


def again_restored(text: str, sentence: str) -> str:
    """``text`` (a step written from ``sentence`` once :func:`rewritten`) with the acts said
    as done again written so again: "Inspect the whole aisle" → "Re-inspect the whole aisle"."""
    for m in _AGAIN.finditer(sentence):
        said = m.group("said")
        if base_form(said) in ACTIONS:
            text = re.sub(
                rf"\b{re.escape(said)}\b",
                lambda w: ("Re-" if w.group(0)[0].isupper() else "re-") + w.group(0).lower(),
                text,
                count=1,
                flags=re.I,
            )
    return text


def rewritten(sentence: str) -> str:
    """``sentence`` with who acts put first (see the module docstring): "you'll get a call from
    the surveyor on Monday" → "the surveyor will call you on Monday", "what I'll do is send you
    a new link" → "I'll send you a new link", "what I need from you is to keep them wrapped" →
    "you'll need to keep them wrapped", "it would help if you could email us the receipt" →
    "could you email us the receipt"."""
    said = _HEDGED_PROMISE.sub(lambda m: f"{m.group(1)}'ll ", _AGAIN.sub(_again, sentence))
    return as_asked(_WHAT_I_DO.sub(lambda m: f"{m.group(1)}'ll ", _actively(said)))
