"""The action verbs of support calls and their inflections, for turning "I'm adding…",
"I've put in…" and "we'll ship…" into "add", "put", "ship" (and back: "added").

A closed list, not a general lemmatiser: a word that is not a listed verb's form is not an
action (so "I'm sorry" or "I'm happy" never read as one).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "ACTIONS", "ACTION_WORDS", "IN_CALL_VERBS", "base_form", "past_form", "singular_base",
    "third_singular",
]  # fmt: skip

_ACTION_WORDS: Final = """
activate add adjust apply approve arrange ask assign attach authorize authorise block book
bring call cancel change charge check clear close collect come confirm contact correct cover
create credit deliver deposit disable dispatch do drop email enable escalate expedite extend
fax file finish fix fill follow forward get give handle hold install issue keep leave let
lock look mail make move note notify open order pay pick place post print process push put
raise reactivate rebook receive record refund register reinstate release remove renew reopen
replace reply report request resend reserve reset resolve restart restore return reverse
review schedule see send set ship sign submit switch take talk text tell transfer turn unlock
update upgrade upload visit void waive write bill block remind inspect repair reach message
investigate arrive prepare sort flag downgrade refill approve drop stop talk
empty search reconnect connect disconnect plug unplug reboot reinstall download phone ring
chase monitor test scan service delete log click tap reissue run photograph
acknowledge remake reprogram redo decide examine
measure fit swap clean store survey assess quote reimburse reschedule rearrange track pack
exchange complete treat mark tow paint tune calibrate configure enrol photocopy label trace
tape wrap seal
revise reprint stick peel engrave carry
redraw draw redesign rework redeliver hand meet lodge spray roast sms trim strip box
settle diagnose patch regrind sharpen telephone whatsapp export
"""
#: the listed action verbs, base forms
ACTIONS: Final = frozenset(_ACTION_WORDS.split())
#: the listed action verbs as a regular expression alternation, longest first
ACTION_WORDS: Final = "|".join(sorted(ACTIONS, key=len, reverse=True))
_ACTIONS: Final = sorted(ACTIONS)
_IRREGULAR_PAST: Final = {
    "bring": "brought", "do": "done", "get": "got", "give": "given", "hold": "held",
    "keep": "kept", "leave": "left", "let": "let", "make": "made", "pay": "paid", "put": "put",
    "reset": "reset", "send": "sent", "set": "set", "take": "taken", "tell": "told",
    "write": "written", "come": "come", "see": "seen", "resend": "resent", "reach": "reached",
    "upset": "upset", "fill": "filled", "ring": "rung", "run": "run", "stick": "stuck",
    "draw": "drawn", "redraw": "redrawn", "meet": "met",
}  # fmt: skip
_SIMPLE_PAST: Final = {"take": "took", "give": "gave", "write": "wrote", "do": "did",
                       "see": "saw", "come": "came",
                       "ring": "rang", "run": "ran", "draw": "drew", "redraw": "redrew",
                       "meet": "met"}  # fmt: skip
#: the conversation itself, not something to do after it
_IN_CALL_WORDS: Final = (
    "ask check look see verify confirm hold wait read repeat help try need pull walk stay start "
    "go be let search test"
)
IN_CALL_VERBS: Final = frozenset(_IN_CALL_WORDS.split())
_DOUBLE: Final = frozenset(("ship", "stop", "drop", "plan", "pin", "tap", "log", "swap"))


def _ing(verb: str) -> str:
    if verb in _DOUBLE or verb in ("put", "set", "get", "let", "reset", "upset"):
        return verb + verb[-1] + "ing"
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")):
        return verb[:-1] + "ing"
    return verb + "ing"


def _ed(verb: str) -> str:
    if verb in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[verb]
    if verb in _DOUBLE:
        return verb + verb[-1] + "ed"
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def _s(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


_FORMS: dict[str, str] = {}
for _v in sorted(set(_ACTIONS) | IN_CALL_VERBS):
    for _form in (_v, _ing(_v), _ed(_v), _s(_v), _SIMPLE_PAST.get(_v, _v)):
        _FORMS.setdefault(_form, _v)
    if re.fullmatch(r"[a-z]*[^aeiou][aeiou][bdgklmnprt]", _v):
        # a final consonant doubled before -ed / -ing: "submitted", "transferred", "running"
        _FORMS.setdefault(_v + _v[-1] + "ed", _v)
        _FORMS.setdefault(_v + _v[-1] + "ing", _v)
_FORMS.update({"cancelling": "cancel", "cancelled": "cancel", "canceled": "cancel"})


def base_form(word: str) -> str | None:
    """The listed verb ``word`` is a form of (``"adding"`` → ``"add"``), else None."""
    return _FORMS.get(word.lower().strip(".,!?"))


def past_form(verb: str) -> str:
    """The simple past of a listed verb (``"refund"`` → ``"refunded"``, ``"send"`` →
    ``"sent"``); other words unchanged."""
    base = base_form(verb)
    if base is None:
        return verb
    return _SIMPLE_PAST.get(base) or _ed(base)


#: verbs outside the action list whose third person singular a step may need
_IRREGULAR_S: Final = {"have": "has", "do": "does", "go": "goes"}
_UNLISTED_S: Final = ("need", "want")


def third_singular(word: str) -> str | None:
    """ "sends" for the listed verb's base form "send" (also "need", "want", "have", "do",
    "go"), else None: "you send" said of the customer reads "the customer sends"."""
    if word in _IRREGULAR_S:
        return _IRREGULAR_S[word]
    if word in _UNLISTED_S or (word in ACTIONS and base_form(word) == word):
        return _s(word)
    return None


def singular_base(word: str) -> str | None:
    """The base form whose :func:`third_singular` ``word`` is ("sends" → "send", "has" →
    "have"), else None."""
    base = base_form(word) or next((b for b, s in _IRREGULAR_S.items() if s == word), None)
    if base is None:
        base = next((b for b in _UNLISTED_S if _s(b) == word), None)
    return base if base is not None and third_singular(base) == word else None
