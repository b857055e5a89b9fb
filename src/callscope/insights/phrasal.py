"""Verbs that are a third party's act only with what follows them, pure: "Luis will be with
you between 8 and 9" (a visit), "FedEx will have them with you by noon" (a delivery), "Gary
will take them away" (not a duration), "the engineer will be calling you on Monday" (a future
said in progress). Used by :mod:`callscope.insights.actors` for a subject named by any noun
phrase or name.
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.verbs import ACTIONS, base_form

__all__ = ["AND_ACT", "HAPPENINGS", "being", "phrasal"]

#: verbs after an open subject that say what happens, not what someone does
HAPPENINGS: Final = frozenset(("be", "have", "see", "get", "receive", "show", "arrive", "take",
                                "appear", "reach", "go", "need", "let", "come"))  # fmt: skip


#: "be" as a visit by a third party: "Luis will be with you between 8 and 9", "the fitter
#: will be there by noon", "the crew will be at your house at 7", "they'll be out there Thursday"
_BE_WITH_YOU = re.compile(
    r"\s+(?:with you|there|out there|at your|at yours|round|over|out to you|on site|in touch|"
    r"at the (?:house|property|site|flat|door))\b",
    re.I,
)


#: a visit said with what it is for: "Jen is going to be back out Thursday morning to
#: re-anchor section three", "he's going to be at the church on Thursday at nine to regulate
#: the pendulum" (not "he'll be out all day": away)
_BE_OUT_TO = re.compile(
    r"\s+(?:back\s+)?(?:out|over|round|up|down|at\s+(?:the|your)\s+[a-z'-]+)\b[^,.;]{0,40}?"
    r"\bto\s+[a-z]",
    re.I,
)


def being(rest: str) -> str | None:
    """The act of "will be" + ``rest``: a visit ("with you between 8 and 9" → "be"), or an
    act said in progress ("calling you on Monday" → "call"); None for a state ("due about
    now")."""
    if _BE_WITH_YOU.match(rest) or _BE_OUT_TO.match(rest):
        return "be"  # "Luis will be with you between 8 and 9"
    return _progressive(rest)  # "the engineer will be calling you on Monday"


def phrasal(verb: str | None, said: str, rest: str, whole: str) -> str | None:
    """The act of a verb that is an act only with what follows it (``rest``), or "" when it
    is none; None when ``verb`` is no such verb."""
    if verb == "be" and (act := being(rest)):
        return act
    if verb == "go" and _GO_THROUGH.match(rest):
        return "go"  # "Jo will go through the form with you"
    if verb == "reach" and re.match(r"\s+out\s+to\b", rest, re.I):
        return "reach"  # "Ms. Alvarez is going to reach out to you in May" (not "it'll reach you")
    if said == "have" and (
        _HAVE_THERE.match(rest)
        or _HAVE_READY.match(rest)
        or _HAVE_WITH_YOU.match(rest)
        or _had_done(rest)
    ):
        # "Paul will have two staff there on Saturday to move it all", "FedEx will have them
        # with you by noon on Thursday", "the road crew will have it patched by Tuesday"
        return "have"
    if verb == "take" and _TAKE_AWAY.match(rest):
        return "take"  # "Gary will take them away with him": an act, not a duration
    if verb == "do" and _DOES_IT.match(whole):
        return ""  # "Three months should do it, hopefully": enough, no act
    seen = _SEE_YOU_TO.match(rest) if verb == "see" else None
    if seen and base_form(seen.group("verb")) in ACTIONS:
        # "Anika will see you on Wednesday at four fifteen to trim the right one down"
        return base_form(seen.group("verb")) or ""
    if verb == "let" and re.match(r"\s+(?:out|down|up)\b", rest, re.I):
        return "let"  # "Suresh will let out the shoulders": a tailor's act
    if (verb or said) in _DROP_IN and _BY_OR_ROUND.match(rest):
        # "Derek will stop by on Tuesday to put them on for you", "Orla will pop in for it on
        # Thursday": a visit
        return verb or said
    return None


#: the act of a future said in progress: "(will be) calling you on Monday", "(will be) going up
#: to the archive next Tuesday to go through them"; "going"/"coming" only as a visit
_DOING_NEXT = re.compile(
    r"^\s+(?:also\s+|then\s+|personally\s+)?(?P<ing>[a-z]+ing)\b(?P<rest>.*)$", re.I
)
_VISIT_WAY = re.compile(r"^\s+(?:out|over|round|around|up|down|back|by|in|to)\b", re.I)


def _progressive(rest: str) -> str | None:
    """The act after "will be" in ``rest`` ("calling you" → "call"), else None."""
    m = _DOING_NEXT.match(rest)
    if m is None:
        return None
    ing = m.group("ing").lower()
    if ing in ("going", "coming"):
        return {"going": "go", "coming": "come"}[ing] if _VISIT_WAY.match(m["rest"]) else None
    verb = base_form(ing)
    return verb if verb in ACTIONS and verb not in HAPPENINGS else None


#: a second act sharing the object: "…is going to strip and re-apply both rear door panels"
AND_ACT = re.compile(
    r"^\s+and\s+[a-z-]+\s+(?:the|both|your|it|them|a|an|all|every|his|her|their)\b", re.I
)
#: an appointment to act: "…will see you on Wednesday the twentieth at four fifteen to trim…"
_SEE_YOU_TO = re.compile(r"\s+you\b[^,.;]{0,60}?\bto\s+(?P<verb>[a-z]+)\b", re.I)
#: a visit said as dropping in: "stop by", "pop round", "swing by"
_DROP_IN: Final = frozenset(("stop", "pop", "drop", "swing"))
_BY_OR_ROUND = re.compile(r"^\s+(?:by|round|in|over)\b", re.I)
#: "take" that carries something off: "will take them away", "will take the old unit back",
#: "will take the rubber off"
_TAKE_AWAY = re.compile(r"^\s+(?:[a-z'-]+\s+){0,3}?(?:away|back|off|out|apart)\b", re.I)
#: "should do it" / "will do the trick": what suffices, no act
_DOES_IT = re.compile(r".*\b(?:should|will|'ll)\s+do\s+(?:it|that|the trick)\b", re.I)
#: "go" that is an act on something: "will go through the form with you", "go over it", "will
#: go through Marcus's job notes"
_GO_THROUGH = re.compile(
    r"^\s+(?:through|over)\s+(?:the|your|it|this|that|these|those|everything|all|each|"
    r"[a-z][a-z-]+'s)\b",
    re.I,
)
#: people sent to do something: "will have two staff there on Saturday to move it all",
#: "will have someone round tomorrow to fix it"
_HAVE_THERE = re.compile(
    r"^\s+(?:[\w'-]+\s+){1,3}?(?:there|round|over|out|with you|on site)\b[^,.;]{0,60}?"
    r"\bto\s+[a-z]+",
    re.I,
)
#: things brought to the customer: "will have them with you by noon on Thursday", "will have
#: them back at your door by Friday"
_HAVE_WITH_YOU = re.compile(
    r"^\s+(?:it|them|this|that|these|those|(?:the|your)\s+[\w'-]+(?:\s+[\w'-]+)?)\s+"
    r"(?:back\s+)?(?:with\s+you|to\s+you|at\s+your\s+(?:door|house|home|place|office|shop))\b",
    re.I,
)
#: things made ready: "will have all four sets prepared and ready for you from two o'clock"
_HAVE_READY = re.compile(
    r"^\s+(?:[\w'-]+\s+){1,4}?(?:ready|prepared|packed|done|fixed|repaired|sorted|set up|"
    r"waiting)\b",
    re.I,
)
#: a thing and what is to be done to it: "…will have it patched by Tuesday"
_HAVE_DONE = re.compile(
    r"^\s+(?:it|them|this|that|these|those|(?:the|your|their)\s+[\w'-]+(?:\s+[\w'-]+)?)\s+"
    r"(?P<done>[a-z]+ed)\b",
    re.I,
)


def _had_done(rest: str) -> bool:
    """Whether "have" + ``rest`` has a thing done by a listed act ("have it patched")."""
    m = _HAVE_DONE.match(rest)
    return m is not None and base_form(m.group("done")) in ACTIONS
