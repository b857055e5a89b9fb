"""What the customer is asked for, said as what is needed of them, read as a plain request,
pure: "what I need from you is to keep them wrapped" → "you'll need to keep them wrapped",
"what I need from you is the storage agreement signed" → "could you sign the storage
agreement", "the best thing would be to bring it to a branch" → "you'll need to bring it to a
branch", "It needs signing by both of you, and then sent back…" → "could you sign it and send
it back…", "it would help if you could email us the receipt" → "could you email us the
receipt", "it'd help if the room was unlocked" → "could you have the room unlocked"
(:func:`as_asked`, used by :func:`callscope.insights.rewrites.rewritten`).
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.incall import is_later
from callscope.insights.verbs import ACTIONS, base_form

__all__ = ["as_asked", "to_do"]

#: what is to be done, from how it is said done: "the agreement signed" → "sign"
_DONE_AS: Final = {"paid": "pay", "signed": "sign", "returned": "return", "sent back": "send back",
                   "settled": "settle", "completed": "complete", "filled in": "fill in",
                   "filled out": "fill out", "countersigned": "countersign",
                   "dated and signed": "date and sign",
                   "signed and dated": "sign and date"}  # fmt: skip


def to_do(done: str) -> str:
    """What is to be done, from how it is said done: "filled  in" → "fill in"."""
    return _DONE_AS[" ".join(done.lower().split())]


#: the customer's part said as what is needed of them: "what I need from you is to keep them
#: wrapped", "what you'll need to do is upload it", "what I do need is for you to have it off
#: the frame" — read as "you'll need to keep them…"
#: "what I need from you is", which the customer's part follows
_NEED_FROM_YOU = (
    r"(?:(?:what|all)\s+|(?:the\s+only|the\s+one|one)\s+thing\s+)(?:i|we)(?:'d|\s+would)?\s+need\s+"
    r"from\s+you\s+(?:now\s+)?is\s+"
)
_WHAT_YOU_DO = re.compile(
    rf"\b(?:{_NEED_FROM_YOU}(?:for\s+you\s+)?to\s+|"
    # "So what I need from you: go into the dashboard, switch to…"
    r"(?:what|all)\s+(?:i|we)(?:'d|\s+would)?\s+need\s+from\s+you(?:\s+now)?\s*:\s+|"
    # "what I do need is for you to have it by the door"
    r"(?:what|all)\s+(?:i|we)\s+(?:do\s+|really\s+)?need\s+is\s+for\s+you\s+to\s+|"
    # "the ball's in your court to upload a new photo"
    r"the\s+ball(?:'s|\s+is)\s+in\s+your\s+court\s+to\s+|"
    # "The next thing is for you to pull the bed away from that wall"
    r"the\s+next\s+(?:thing|step)\s+is\s+for\s+you\s+to\s+|"
    r"(?:what|all)\s+(?:(?:i|we)(?:'d|\s+would)?"
    r"\s+need\s+you\s+to\s+do|you(?:'ll|\s+will|'d|\s+would)?\s+need\s+to\s+do)\s+(?:now\s+)?is"
    r"\s+(?:to\s+)?)(?=[a-z])",
    re.I,
)
#: the same with a thing: "what I need from you is a copy of the certificate, emailed to…",
#: "what I need from you is the signed form back within ten days" — read as "could you email
#: us a copy of the certificate to…", "could you send us the signed form back…"
_WHAT_YOU_SEND = re.compile(
    rf"\b{_NEED_FROM_YOU}"
    r"(?P<what>(?:an?|the|your|some|both|[\w'-]+'s)\s+[^,.;?]+)"
    r"(?:,?\s+(?P<how>emailed|sent|posted|texted|uploaded)\s+(?P<rest>to|through|via|by|in)\b)?",
    re.I,
)
#: a paper needed back done: "what I need from you is the storage agreement signed" — read as
#: "could you sign the storage agreement" (paper is signed and filled in after the call)
_WHAT_YOU_FINISH = re.compile(
    rf"\b{_NEED_FROM_YOU}"
    r"(?P<what>(?:an?|the|your|both)\s+[^,.;?]+?)\s+(?P<done>signed|completed|filled\s+(?:in|out)|"
    r"countersigned|dated\s+and\s+signed|signed\s+and\s+dated)(?=\s*(?:[,.;?!]|$|by\b|"
    r"before\b|within\b))",
    re.I,
)
#: a time said after the thing asked for, set off by a comma: ", ideally by Friday"
_THEN_WHEN = re.compile(
    r",\s*(?:(?:ideally|preferably|if possible|please)\s*,?\s*)?(?:by|before|within|no later"
    r"\s+than|today|tomorrow|this|next|over\s+the)\b[^,.;?]*",
    re.I,
)
_SEND_AS: Final = {"emailed": "email", "sent": "send", "posted": "post", "texted": "text",
                   "uploaded": "upload"}  # fmt: skip


def _send_us(m: re.Match[str]) -> str:
    """The request, when it is one for after the call: sent somewhere, sent back, or with a
    time ("what I need from you is your account number" is asked on the line)."""
    how = m.group("how")
    when = _THEN_WHEN.match(m.string, m.end())  # "…, ideally by Friday"
    if when is not None and re.search(r"\b(?:I|we|you|they)\b", when.group(0), re.I):
        when = None  # "…, before I can book the engineer": a reason, not a time
    later = is_later(m.group(0)) or (when is not None and is_later(when.group(0)))
    if not how and not re.search(r"\bback\b", m.group("what"), re.I) and not later:
        return m.group(0)
    verb = _SEND_AS[how.lower()] if how else "send"
    tail = f" {m.group('rest')}" if how else ""
    return f"could you {verb} us {m.group('what')}{tail}"


#: the customer's part said as the best way: "the best thing would be to bring it to a branch"
#: — read as "you'll need to bring it to a branch"
_BEST_TO = re.compile(
    r"\b(?:the\s+best\s+(?:thing|option|way)(?:\s+to\s+do)?|your\s+best\s+bet|the\s+"
    r"(?:easiest|quickest|simplest|fastest)\s+(?:thing|way|option)(?:\s+to\s+do)?)\s+"
    r"(?:would\s+be|is|'d\s+be|will\s+be)\s+to\s+(?=[a-z])",
    re.I,
)
#: a paper the customer must act on, said in the passive: "It needs signing by both of you, and
#: then sent back with a copy…" — read as "could you both sign it and send it back with…"
_NEEDS_DOING = re.compile(
    r"^(?P<what>it|they|this|that|these|those|(?:the|your)\s+[a-z'-]+(?:\s+[a-z'-]+)?)\s+"
    r"needs?\s+(?P<ing>[a-z]+ing)\s+by\s+(?P<whom>both\s+of\s+you|you|yourself|one\s+of\s+you)"
    r"(?:,?\s+and\s+(?:then\s+)?(?P<then>sent|posted|emailed|returned)\s+back)?",
    re.I,
)


def _asked_to_do(m: re.Match[str]) -> str:
    """The request :data:`_NEEDS_DOING` makes, or what was said when its verb is no act."""
    verb = base_form(m.group("ing"))
    if verb is None or verb not in ACTIONS:
        return m.group(0)
    what = m.group("what")
    what = "them" if what.lower() == "they" else what[:1].lower() + what[1:]
    then = (
        f" and {_SEND_AS.get(m.group('then').lower(), 'send')} it back" if m.group("then") else ""
    )
    return f"could you {verb} {what}{then}"


#: a request put as a help: "it would help her if you could email us your receipt" — read as
#: "could you email us your receipt"
_HELPS_IF = re.compile(
    r"\bit(?:'d|\s+would)\s+(?:really\s+|also\s+)?(?:help|be\s+(?:great|helpful|useful|"
    r"ideal))(?:\s+(?:me|us|him|her|them|(?:the|our)\s+[a-z]+))?\s+if\s+you\s+could\s+"
    # "What would really help is if you bring both pairs of work boots"
    r"|\bwhat\s+would\s+(?:really\s+|also\s+)?help(?:\s+(?:me|us|her|him|on\s+our\s+side))?\s+"
    r"(?:is|would\s+be)\s+if\s+you\s+(?:could\s+)?"
    # "What I'd ask is that you stick it to the inside of the windshield"
    r"|\bwhat\s+(?:i|we)(?:'d|\s+would)\s+ask\s+is\s+(?:that\s+)?you\s+(?:could\s+)?"
    # "Do me a favour and keep the receipts for the food you've lost"
    r"|\b(?:(?:can|could)\s+you\s+)?do\s+(?:me|us)\s+a\s+(?:quick\s+)?favou?r(?:\s+and|,)\s+"
    # "If you can, upload the last thirty days of sleep data": a politeness, no condition
    r"|^(?:and\s+)?if\s+you\s+can\s*,\s+(?=[a-z]+\s)"
    # "(Do you) think you could email me a copy today?"
    r"|^(?:(?:and|so|but)\s+)?(?:do\s+you\s+)?think\s+you\s+(?:could|can)\s+(?=[a-z]+\s)"
    # "You might want to download the whole lot as a zip this week"
    r"|\byou\s+(?:might|may)\s+(?:also\s+)?want\s+to\s+"
    # "I'd ask you to ring the emergency line straight away", "might I ask you to throw a
    # tarpaulin over the organ console…?"
    r"|\b(?:i|we)(?:'d|\s+would)\s+(?:just\s+)?ask\s+you\s+to\s+"
    r"|\bmight\s+(?:i|we)\s+ask\s+you\s+to\s+"
    # "I'd suggest you write down everything that's in there"
    r"|\b(?:i|we)(?:'d|\s+would)\s+(?:really\s+|strongly\s+)?(?:suggest|recommend|advise)\s+"
    r"(?:that\s+)?you\s+",
    re.I,
)

#: a request put as a condition that would suit: "If you could reply to the email address on
#: the letter with it by Wednesday, that would be ideal" — read as "could you reply…?"
_IF_YOU_COULD = re.compile(
    # (an event it waits for may come first: "When it comes through, if you could sign it…")
    r"^(?:(?:and|so)\s+)?(?P<event>(?:when|once|as\s+soon\s+as)\s+[^,;]{1,40},\s+)?"
    r"if\s+you\s+could\s+(?P<ask>[^,;]+?),\s+that(?:'d|\s+would)\s+be\s+"
    r"(?:really\s+)?(?:ideal|great|brilliant|perfect|lovely|helpful|fantastic|wonderful|amazing|"
    r"a\s+(?:big\s+)?help)[.!]?$|"
    # "…, that'd give me something to wave at the lads in the warehouse", "If you can email a
    # screenshot to privacy@…, it will help the team trace it"
    r"^(?:(?:and|so)\s+)?if\s+you\s+(?:could|can)\s+(?P<ask2>[^,;]+?),\s+(?:that|it)"
    r"(?:'d|\s+would|'ll|\s+will)\s+(?:really\s+)?(?:help|give\s+(?:me|us))\b[^,;]*$",
    re.I,
)
#: a request put as a help with a thing left done: "it'd really help if the back storage room
#: was unlocked before eight" — read as "could you have the back storage room unlocked before
#: eight"
_HELPS_IF_DONE = re.compile(
    r"\bit(?:'d|\s+would)\s+(?:really\s+|also\s+)?(?:help|be\s+(?:great|helpful|useful|ideal|"
    r"a\s+(?:big\s+)?help))(?:\s+(?:me|us|him|her|them|(?:the|our)\s+[a-z]+))?\s+if\s+"
    r"(?P<what>(?:the|your|all|any)\s+[^,.;?]{1,60}?)\s+(?:was|were)\s+(?:all\s+)?"
    r"(?P<done>[a-z]+(?:ed|en))\b",
    re.I,
)


#: a request put as worth doing: "It'd be worth you taking a few photos of the ceiling today" —
#: read as "could you take a few photos of the ceiling today"
_WORTH_DOING = re.compile(
    r"\bit(?:'d|\s+would|'s|\s+is|'ll|\s+will)\s+(?:really\s+|definitely\s+|also\s+)?be\s+worth\s+"
    r"(?:you\s+|your\s+)?(?P<ing>[a-z]+ing)\b",
    re.I,
)


def _worth_doing(m: re.Match[str]) -> str:
    """The request :data:`_WORTH_DOING` makes, or what was said when its verb is no act."""
    verb = base_form(m.group("ing"))
    return m.group(0) if verb is None or verb not in ACTIONS else f"could you {verb}"


#: someone needed on the customer's side: "The only thing we need from you is somebody there at
#: eleven to let them in" — read as "you'll need to have somebody there at eleven…"
_SOMEONE_THERE = re.compile(rf"\b{_NEED_FROM_YOU}(?=some(?:one|body)\b)", re.I)


def as_asked(text: str) -> str:
    """``text`` with what is needed of the customer read as a plain request (see the module
    docstring)."""
    text = _WHAT_YOU_FINISH.sub(
        lambda m: f"could you {to_do(m.group('done'))} " + m.group("what"), text
    )
    text = _WHAT_YOU_SEND.sub(_send_us, text)
    text = _WHAT_YOU_DO.sub("you'll need to ", text)
    text = _SOMEONE_THERE.sub("you'll need to have ", text)
    text = _BEST_TO.sub("you'll need to ", text)
    text = _NEEDS_DOING.sub(_asked_to_do, text)
    text = _WORTH_DOING.sub(_worth_doing, text)
    text = _HELPS_IF_DONE.sub(lambda m: f"could you have {m.group('what')} {m.group('done')}", text)
    text = _IF_YOU_COULD.sub(
        lambda m: f"{m.group('event') or ''}could you {m.group('ask') or m.group('ask2')}?", text
    )
    return _HELPS_IF.sub("could you ", text)
