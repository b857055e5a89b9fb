"""Typical small-recogniser slips undone before a sentence is read for next steps, pure.

whisper tiny.en on telephone audio drops the contraction of a promise ("I'll send" → "I
send", "we'll ship" → "well ship", "you'll get" → "you all get", "they'll call" → "the all
call" or "the only call", "I'll transfer" → "I hold transfer", "it'll take" → "it all
take", "we'll send" → "Will send"; "gonna", "gotta"), writes an action verb as a word that
sounds like it ("waiving" → "waving", "adding" → "heading") and a plural role as a
possessive ("our engineer's will…"), and leaves out the commas around a condition.
:func:`repaired` puts back what was meant where the reading is unambiguous:

* a contraction, only before a listed action verb (:mod:`callscope.insights.verbs`) in its
  base form: "well ship it" → "we'll ship it" (but "Well, ship…" and "well done" stay), "you
  all get" → "you'll get", "I send you the form tonight" → "I'll send you the form tonight"
  — the last only with a time still to come in the sentence (else it is a plain present:
  "I send these every month");
* "gonna" as "going to", "you gotta" as "you have to";
* "you should call you" (nobody contacts themselves: "she'll" misheard) as "they'll call you";
* a role's "'s" with nothing owned after it as the plural: "escalated to our engineer's
  under ticket 5" → "engineers";
* a sound-alike of an action verb, only right after a first-person subject ("I'm waving the
  fee" → "I'm waiving the fee"), from a closed table of slips heard on rendered calls.

Text that reads correctly is left as it is: every rule needs the listed verb (or, for a
role, nothing owned) after it.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from callscope.insights.verbs import ACTION_WORDS

__all__ = ["repaired"]

_BASE = ACTION_WORDS
_ADVERB = r"(?:(?:also|just|now|then|definitely|personally)\s+)?"

#: a dropped or misheard contraction before an action verb in its base form
_CONTRACTIONS: Final = (
    (re.compile(rf"\bwell\s+(?={_ADVERB}(?:{_BASE})\b)", re.I), "we'll "),
    (re.compile(rf"\bwe\s+all\s+(?={_ADVERB}(?:{_BASE})\b)", re.I), "we'll "),
    (re.compile(rf"\b(?:you\s+all|ya'll|y'all)\s+(?={_ADVERB}(?:{_BASE}|need|have)\b)", re.I),
     "you'll "),
    (re.compile(rf"\b(?:the|they)\s+all\s+(?={_ADVERB}(?:{_BASE})\b)", re.I), "they'll "),
    (re.compile(rf"\bthe\s+only\s+(?=(?:{_BASE})\s+(?:you|it|them|your)\b)", re.I), "they'll "),
    (re.compile(rf"\b(?:I\s+all|Ill|aisle|I\s+hold)\s+(?={_ADVERB}(?:{_BASE})\b)", re.I),
     "I'll "),
    (re.compile(r"\bit\s+all\s+(?=(?:take|arrive|show|be|get|reach|appear)\b)", re.I), "it'll "),
    # a subject lost before "will": "Will send you a new card." (not a question)
    (re.compile(rf"^will\s+(?={_ADVERB}(?:{_BASE})\b)(?![^?]*\?\s*$)", re.I), "we'll "),
    # nobody is asked to contact themselves: "Ewa. She'll call you…" heard as "You should call
    # you…" is someone else's act (the "they" is then the team or person named before)
    (re.compile(r"\byou(?:'ll|\s+will|\s+should)\s+(?=(?:call|ring|phone|contact|email|text|"
                r"visit|write to)\s+you\b)", re.I), "they'll "),
    (re.compile(r"\bgonna\b", re.I), "going to"),
    (re.compile(r"\byou(?:'ve|\s+have)?\s+got(?:ta|\s+to)\b", re.I), "you have to"),
)  # fmt: skip
#: a time still to come: "I send…" with one of these is a promise whose "'ll" was lost
_TO_COME: Final = re.compile(
    r"\b(?:tomorrow|tonight|later today|this (?:afternoon|evening)|next \w+|(?:by|on) (?:monday|"
    r"tuesday|wednesday|thursday|friday|saturday|sunday|the end|tomorrow|noon|\d)|within|"
    r"after (?:this|the) call|(?:in|within) (?:a|an|\d+|\w+) (?:minutes?|hours?|days?)|"
    r"right after)\b",
    re.I,
)
#: (a verb whose past is its base form is read as said: "I put it in on Sunday and there's a
#: crack" tells what happened)
_BARE_I: Final = re.compile(
    rf"^(?P<head>(?:(?:ok(?:ay)?|so|and|sure|great|alright),?\s+)*)I\s+"
    rf"(?!(?:put|set|cut|let|read|shut|hit|spread)\b)(?=(?:{_BASE})\b)",
    re.I,
)
#: sound-alikes of action verbs after "I'm", "we're", "I've", "I'll"…
_SOUND_ALIKES: Final = {
    "waving": "waiving", "wave": "waive", "waved": "waived", "heading": "adding",
    "refining": "refunding", "refined": "refunded", "facts": "fax", "faxes": "fax",
    "e-mailing": "emailing", "e-mailed": "emailed", "e-mail": "email",
    "re-booked": "rebooked", "re-booking": "rebooking", "re-book": "rebook",
}  # fmt: skip
_SLIPS: Final = re.compile(
    r"(?P<subject>\b(?:i'm|i am|we're|we are|i've|we've|i'll|we'll|i|we)\s+"
    rf"{_ADVERB})(?P<slip>"
    + "|".join(re.escape(k) for k in sorted(_SOUND_ALIKES, key=len, reverse=True))
    + r")(?![\w-])",
    re.I,
)


#: a plural role written as a possessive with nothing owned after it ("our billing engineer's
#: under ticket 5" → "engineers")
_PLURAL_ROLE: Final = re.compile(
    r"\b(engineer|technician|specialist|adjuster|installer|agent|nurse|driver)'s"
    r"(?=\s+(?:under|will|are|to|have|and|on|for|in)\b|\s*[.,;!?]|\s*$)",
    re.I,
)


def _cased(repl: str, said: re.Match[str]) -> str:
    """``repl`` capitalised as ``said`` was ("You all" → "You'll")."""
    return repl[:1].upper() + repl[1:] if said.group(0)[:1].isupper() else repl


#: a condition the recogniser wrote without its commas: "…today and if you sign it by Friday
#: the transfer team will release it" — the commas put back around it
_AND_IF: Final = re.compile(r"(?<=[a-z])\s+and\s+(?=(?:if|once|when|as soon as)\b)", re.I)
_CONDITION_THEN: Final = re.compile(
    r"(?:^|(?<=, and ))(?P<cond>(?:if|once|as soon as)\b[^,.;?!]{3,80}?)(?<!\band)\s+"
    r"(?=(?:I'll|I will|we'll|we will|"
    r"they'll|he'll|she'll|(?:the|our)\s+(?:[a-z]+\s+){0,2}(?:team|department)\s+will)\b)",
    re.I,
)


def repaired(sentence: str) -> str:
    """``sentence`` with the slips above undone (see the module docstring)."""
    if "," not in sentence:
        sentence = _CONDITION_THEN.sub(r"\g<cond>, ", _AND_IF.sub(", and ", sentence))
    text = _SLIPS.sub(
        lambda m: m.group("subject") + _SOUND_ALIKES[m.group("slip").lower()], sentence
    )
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(functools.partial(_cased, repl), text)
    text = _PLURAL_ROLE.sub(r"\1s", text)
    if _TO_COME.search(text):
        text = _BARE_I.sub(lambda m: m.group("head") + "I'll ", text, count=1)
    return text
