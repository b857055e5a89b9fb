"""Third parties who act in a clause, pure.

A third party is a listed role or pronoun that will act ("the team will", "they'll", "a
technician will", "Dr. Patel should"), any noun naming who is to get in touch ("the adjuster
will call you", and as the recogniser may hear it, "the juster will contact you"), or any noun
phrase or name opening the clause that acts on someone or something ("your bank will return…",
"Medwise will write…", "Marco, our depot supervisor, is going to search…"), calls or visits
("Luis will be with you between 8 and 9"). The things of a support call do not act of
themselves: "the portal will email you a receipt" and "the order will ship tomorrow" name no
third party.
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.incall import is_later
from callscope.insights.phrasal import AND_ACT, HAPPENINGS, being, phrasal
from callscope.insights.verbs import ACTIONS, base_form

__all__ = ["DETERMINER", "HAPPENINGS", "TRADES", "third_act", "third_done", "third_party"]


#: the trades and people sent to a customer, as a regular expression alternation (shared by
#: the team a pronoun means and the one sent to act: callscope.insights.nextsteps, .rewrites)
TRADES: Final = (
    r"engineers?|technicians?|fitters?|plumbers?|electricians?|couriers?|drivers?|surveyors?|"
    r"inspectors?|specialists?|adjusters?|nurses?|locksmiths?|installers?|mechanics?|contractors?"
)
#: the customer's own people: "my husband", "my bar manager" (their acts are the customer's)
HOUSEHOLD: Final = (
    r"husband|wife|partner|son|daughter|mum|mom|dad|mother|father|brother|sister|kids|children|"
    r"family|staff|colleague|manager|boss|team|assistant|PA"
)
#: an adverb between "will" and the verb: "will definitely call you", "will gladly hold it"
#: (not "only", a limit, nor a verb ending in "ly")
_ADVERB: Final = r"(?!(?:only|apply|reply|supply|rely)\b)[a-z]+ly\s+"
_THIRD = re.compile(
    r"(?P<who>\b(?:they|he|she|(?:someone|somebody)"
    # where they are from: "Someone from our insurer, Harbourside Mutual,"
    r"(?:\s+from\s+(?:our|the|your)\s+[a-z]+(?:,\s+(?-i:[A-Z])[\w'-]+(?:\s+(?-i:[A-Z])[\w'-]+){0,2},)?)?|"
    r"(?:dr|mr|mrs|ms|miss|doctor)\.?\s+[a-z]+|"
    r"(?:one\s+of\s+)?(?:(?:our|the|a|an|my|your|their)\s+)(?:[a-z']+\s+){0,2}"
    r"(?:team|department|engineers?|technician|mechanic|manager|supervisor|adjuster|"
    r"specialist|office|pharmacist|plumber|installer|courier|carrier|warehouse|desk|lab|"
    r"driver|agent|store|billing|dispatch|representative|doctor|nurse|provider)|billing|"
    # a team opening the clause with its determiner lost: "(The) notice processing team will…",
    # "so accounts will take it off your next statement"
    r"accounts payable|dispatch|^accounts|^returns|"
    r"^(?!(?:any|every|each|no|which|what)\b)(?:[a-z']+\s+){1,3}(?:team|department)))"
    # what someone has agreed to do: "he's agreed to refund the late fee by the twelfth"
    # what they must do by a time: "They have to investigate and respond within thirty days"
    r"\s*(?:'ll|will|is going to|are going to|'s going to|'re going to|"
    r"(?:'s|\s+has|'ve|\s+have)\s+(?:agreed|promised)\s+to|"
    r"\s+(?:have|has)\s+to|"
    r"should(?!\s+(?:have|not|never)\b))\s+(?:also\s+|then\s+|now\s+|probably\s+|just\s+|only\s+|"
    + _ADVERB
    + r")?"
    r"(?P<verb>[a-z]+)",
    re.I,
)
#: a third party named by any noun when it is to get in touch: "the adjuster will call you"
#: (the recogniser may have garbled the noun: "the juster will contact you")
_THIRD_CONTACT = re.compile(
    r"(?P<who>\b(?:the|our|your)\s+[a-z']+)\s*(?:'ll|will|is going to)\s+(?:also\s+|then\s+)?"
    r"(?P<verb>contact|call|email|text|reach out to|phone|message|visit)\s+you\b",
    re.I,
)


#: words that open a clause but name no one who could act
_NOT_ACTOR_WORDS: Final = """i we you it that this there which who what everything nothing
something anything he she they someone somebody one mine yours then so also tomorrow today
tonight later next first once if when all each both either neither none nobody noone any
every no"""
_NOT_ACTORS: Final = frozenset(_NOT_ACTOR_WORDS.split())
#: the things of a support call, which do not act of themselves ("the portal will email you a
#: receipt", "our policy will cover the repair"): no third party
_THING_WORDS: Final = """policy warranty cover coverage plan contract system app portal website
site software card order parcel package payment refund fee charge price voucher credit
discount form letter email message router modem device meter machine screen update fix bill
invoice statement subscription membership booking ticket receipt code link money balance
reminder confirmation tariff rate deal offer insurance scheme process freeze pause suspension
months weeks days number parts"""
_THINGS: Final = frozenset(_THING_WORDS.split())
#: a third party named by any noun phrase or name opening the clause, an appositive allowed:
#: "your bank will return…", "the crew will empty…", "Medwise will write…", "Marco, our depot
#: supervisor, is going to search…", "your new teacher, Ms. Ortega, will send…"
_THIRD_OPEN = re.compile(
    # a team's number in its name: "The Ward 4 road crew will have it patched…"
    r"^(?P<subject>(?:the|our|your|a|an|my|their)\s+(?:[\w'-]+\s+){0,3}?[a-z'-]+"
    # where they are from: "a loss adjuster from Meridian Claims", "the team at our Leeds shop"
    r"(?:\s+(?:from|at|in)\s+(?:(?:the|our|your)\s+)?(?-i:[A-Z][a-z'-]+)(?:\s+[A-Za-z'-]+){0,2}?)?|"
    # one of a team: "One of our drivers, Luis, will deliver…"
    r"one\s+of\s+(?:our|the|their|your)\s+(?:[a-z'-]+\s+){0,2}?[a-z'-]+s|"
    # (a name may carry an accent: "Ciarán will drop them out to you Friday evening")
    r"[a-zà-ÿ][a-zà-ÿ'-]+(?:\s+[a-zà-ÿ][a-zà-ÿ'-]+)?(?:\s+(?-i:[A-Z])[a-zà-ÿ'-]+)?"
    # (where they work: "Thabo in the cutting room is going to…")
    r"(?:\s+(?:in|from|at)\s+(?:(?:the|our)\s+)?[a-z'-]+(?:\s+room)?)?)"
    # who they are: "the project manager who's running the balcony work down there", "The
    # installer who fitted your original wraps, Marco,"
    r"(?:\s+who(?:'s|\s+is|\s+was|\s+did|\s+has|\s+[a-z]+ed)\s+[^,]{1,50}?(?=\s*,|\s+(?:is|are|will)\s))?"
    r"(?:\s*,\s*(?P<appos>[^,]{2,40}?(?:,\s*[^,]{1,20}?)?)\s*,)?\s*"
    r"(?:'ll|\s+will|\s+is going to|\s+are going to|'s going to|"
    r"(?:'s|\s+has)\s+(?:agreed|promised)\s+to|"
    r"\s+should(?!\s+(?:have|not|never)\b))\s+"
    r"(?:also\s+|then\s+|now\s+|personally\s+|(?:him|her)self\s+|"
    + _ADVERB
    + r")?(?P<verb>[a-z]+)\b"
    r"(?P<rest>.*)$",
    re.I,
)
#: after an open subject the act must reach someone or something ("…will empty your bin",
#: or as the recogniser heard it, "…will empty year-bin"), or be a visit or a call: "the
#: order will ship tomorrow" says what happens to a thing
_NO_OBJECT = re.compile(
    r"^\s*(?:$|[.,;!?]|(?:on|at|in|by|from|within|before|after|until|around|tomorrow|today|"
    r"tonight|next|automatically|overnight|soon|shortly|later|now|again|off|as|when|once|if|"
    r"and|or|but|so|this (?:morning|afternoon|evening|week|month))\b)",
    re.I,
)
_INTRANSITIVE_ACTS: Final = frozenset(("visit", "come", "call", "ring", "phone", "contact"))


def _third_open(body: str) -> tuple[str, str] | None:
    """(who, verb) of a third party named by any noun phrase or name opening ``body``."""
    m = _THIRD_OPEN.match(body)
    if m is None:
        return None
    said = re.split(r"\s+(?:in|from|at)\s+", m.group("subject"))[0].split()
    words = [w.lower() for w in said]
    name = any(w[:1].isupper() for w in said[1:])  # "Hollis Insurance will write…"
    one_of = words[:2] == ["one", "of"]
    if (
        (words[0] in _NOT_ACTORS and not one_of)
        or words[-1] in _NOT_ACTORS
        or (_thing(words[-1]) and not name)
    ):
        return None
    verb = base_form(m.group("verb"))
    rest = m.group("rest")
    act = phrasal(verb, m.group("verb").lower(), rest, m.group(0))
    if act is not None:
        return (_who(m), act) if act else None
    if verb is None:
        return _unlisted(m)
    if verb in HAPPENINGS and verb not in _INTRANSITIVE_ACTS:
        return None
    if (
        verb not in _INTRANSITIVE_ACTS
        and _NO_OBJECT.match(rest)
        and not _PREP_OBJECT.match(rest)
        and not AND_ACT.match(rest)
    ):
        return None
    return _who(m), verb


#: an act by a verb not listed, on a thing, with a time to come: "Production will re-voice
#: the spot this morning", "Anika will slot fourteen bonus spots into next week"
_UNLISTED_ACT = re.compile(
    r"^-?(?P<tail>[a-z]*)\s+(?:the|a|an|your|their|his|her|it|them|some|all|both|\d+|"
    r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|[a-z]+teen|[a-z]+ty)\b)",
    re.I,
)
#: words after "will" that are no act: "will definitely", "will still", "will also"
_NOT_VERBS: Final = frozenset(
    ("always", "never", "still", "not", "also", "just", "only", "soon", "even", "both", "all",
     "each", "really", "usually", "probably", "likely", "again")
)  # fmt: skip


def _unlisted(m: re.Match[str]) -> tuple[str, str] | None:
    """(who, verb) of :data:`_THIRD_OPEN`'s match when its verb is not listed (see
    :data:`_UNLISTED_ACT`)."""
    word, rest = m.group("verb").lower(), m.group("rest")
    act = _UNLISTED_ACT.match(rest)
    if word in _NOT_VERBS or word.endswith("ly") or act is None or not is_later(rest):
        return None
    return _who(m), word + act.group("tail").lower()  # "re-voice" reads "revoice"


#: an act whose object follows a preposition: "will decide on the refund", "will look into
#: it", "will deal with your claim"
_PREP_OBJECT = re.compile(
    r"^\s+(?:on|about|into|with|at)\s+(?:the|your|it|this|that|these|those|whether|what|how)\b",
    re.I,
)


def _who(m: re.Match[str]) -> str:
    """The third party as said, role and name together when both are: "Marco, our depot
    supervisor," is "depot supervisor Marco", "your new teacher, Ms. Ortega," is "new
    teacher Ms. Ortega"."""
    appos = (m.group("appos") or "").strip()
    subject = m.group("subject")
    if _ONE_OF.match(subject):  # "One of our drivers, Luis," is "driver Luis"
        role = one_of_them(subject)
        return f"{role} {appos}" if appos[:1].isupper() else role
    if not appos:
        return subject
    if appos[:1].isupper() and DETERMINER.match(subject):  # the role, then the name
        return f"{DETERMINER.sub('', subject)} {appos}"
    if subject[:1].isupper() and DETERMINER.match(appos) and "," not in appos:  # the name, the role
        role = re.split(r"\s+(?:who|which|that|whose)\b", appos, maxsplit=1)[0]
        return f"{DETERMINER.sub('', role)} {subject}"  # "the foreman who did the job": "foreman"
    return appos if appos[:1].isupper() else subject


#: one of a team: "one of our partner engineers" (the team's role after the determiner)
_ONE_OF = re.compile(r"^one\s+of\s+(?:our|the|their|your|a|an|my)\s+(.+)$", re.I)


def one_of_them(who: str) -> str:
    """One of a team as its role: "one of our partner engineers" → "partner engineer"."""
    m = _ONE_OF.match(who)
    if m is None:
        return who
    team = m.group(1).split()
    return " ".join([*team[:-1], team[-1].removesuffix("s")])


#: the determiner of a role or team: "our depot supervisor", "the room leader"
DETERMINER = re.compile(r"^(?:the|our|your|my|their|a|an)\s+", re.I)


#: what a third party needs or wants, no act of theirs ("he'll need clear space"), unless
#: an act follows ("the engineer will need to replace the valve")
_WANTS: Final = frozenset(("need", "want", "like", "prefer", "expect"))


#: someone in to act: "she'll be in to hand it over", "he'll be home to let them in"
_BE_IN_TO = re.compile(r"\s+(?:in|home|at home|here|around)\s+to\s+(?P<verb>[a-z]+)\b", re.I)
#: things passed on to someone: "they'll go to our customer care manager, Lorna" (a team
#: going somewhere goes to a place: "they'll go to your house")
_GO_TO_SOMEONE = re.compile(
    r"\s+(?:straight\s+)?to\s+(?:our|the|my|your)\s+(?:[a-z'-]+\s+){0,2}(?:manager|team|"
    r"department|supervisor|officer|adviser|advisor|desk|lead|director)\b",
    re.I,
)


def _thing(noun: str) -> bool:
    return noun in _THINGS or noun.removesuffix("s") in _THINGS


def third_act(text: str) -> re.Match[str] | None:
    """The first third party's act in ``text``."""
    contact = _THIRD_CONTACT.search(text)
    if contact and _thing(contact.group("who").split()[-1].lower()):
        contact = None  # "the portal will email you…"
    third = _THIRD.search(text)
    if third and (
        (
            third.group("verb").lower() in _PERCEIVING
            and not _SEES_SOMEONE.match(text[third.end() :])
        )
        or (third.group("verb").lower() == "get" and _GETS.match(text[third.end() :]))
    ):
        # "she'll see it in her inbox", "she'll get everything at the same time as you": what
        # reaches them, no act
        third = None
    if third and re.match(r"(?:someone|somebody)\s+should\b", third.group(0), re.I):
        third = None  # "Somebody should fix that": an opinion, no one's act
    found = [m for m in (third, contact) if m]
    return min(found, key=lambda m: m.start()) if found else None


#: what reaches someone, no act of theirs
_PERCEIVING: Final = frozenset(("see", "receive", "notice", "land"))
#: an appointment, not what reaches them: "she'll see him on Thursday the 14th at four"
#: (not things: "she'll see them in her inbox")
_SEES_SOMEONE = re.compile(
    r"\s+(?:him|her|them|you)\b(?![^,.;]*\b(?:inbox|system|notes|account|app|portal)\b)", re.I
)
#: "get" as receiving: "…will get everything / a copy / the report" (not "get it fixed", "get a
#: new one out to you", "get back to you")
_GETS = re.compile(
    r"\s+(?:everything|a\s+copy|copies|the\s+(?:report|results?|email|emails|letter|update|"
    r"updates|notification|invoice|details))\b(?![^,.;]*\b(?:to\s+you|out|back|fixed|sorted|done)\b)",
    re.I,
)


def _be_act(rest: str) -> str | None:
    """The act of a third party's "will be" + ``rest``; None for a state ("he'll be due about
    now")."""
    home = _BE_IN_TO.match(rest)
    if home and base_form(home.group("verb")) in ACTIONS:
        # "my wife works from home, so she'll be in to hand it over to the driver"
        return base_form(home.group("verb"))
    return being(rest)  # "they'll be sending it Friday", "he'll be with you by ten"


def third_party(body: str, first: re.Match[str] | None, when: str = "") -> tuple[str, str] | None:
    """(who, verb) of a third party's act in ``body`` before any first-person future; an act
    said in the present is a plan when ``when`` (the clause and its sentence) names a time to
    come: "Tomorrow morning the driver collects it from the garage"."""
    third = third_act(body)
    if third and _BEFORE_THEY.search(body[: third.start()]):
        return None  # "…needs your certificate before they'll let your crew in": what waits
    if third and (first is None or third.start() < first.start()):
        verb = third.group("verb")
        said = third.group(0).lower()
        if (
            "agreed" in said or "promised" in said or re.search(r"\b(?:have|has)\s+to\b", said)
        ) and not is_later(body[third.end() :]):
            # "she's agreed to waive the fee": settled in the call, nothing to come; "they have
            # to verify it": how things go, no time to come
            return None
        if verb.lower() == "be":
            act = _be_act(body[third.end() :])
            return (one_of_them(third.group("who")), act) if act else None
        if verb.lower() == "have" and _HOLDS.match(body[third.end() :]):
            return None  # "she'll have the key for the cash box": what they hold, no act
        if verb.lower() == "go" and _GO_TO_SOMEONE.match(body[third.end() :]):
            return None  # "(the receipts) they'll go to our care manager": passed on, no act
        if verb.lower() in _WANTS:
            # "he'll need clear space on both sides": what they need, no act; "the engineer
            # will need to replace the valve": the act is the one needed
            then = re.match(r"\s+to\s+([a-z]+)", body[third.end() :], re.I)
            if (
                then is None
                or then.group(1).lower() == "be"
                or then.group(1).lower() in _PERCEIVING
                or then.group(1).lower() in ("know", "hear", "understand")
            ):
                # "They'll need to be out of that camp by Wednesday": a state; "he'll need to see
                # the ticket first": what reaches him
                return None
            verb = then.group(1)
        return one_of_them(third.group("who")), base_form(verb) or verb.lower()
    if third is None and first is None:
        found = _third_doing(body) or _third_planned(body, when)
        if found:
            return found
    return _third_open(body) if third is None else None


#: a time clause the third party's act is said in: "before they'll let your crew in"
_BEFORE_THEY = re.compile(r"\b(?:before|until|till|unless)\s+$", re.I)
#: a thing someone holds, no act: "…have the key for the cash box", "…have the parts with him"
#: (not "have a look", "have the new part fitted by noon")
_HOLDS = re.compile(
    r"\s+(?:(?:the|a|an|his|her|their)\s+(?!(?:look|word|chat|go|think|quick|proper|closer)\b)"
    r"[a-z'-]+(?:\s+[a-z'-]+)?|those|these|them|it)\b\s*(?:(?:for(?!\s+you)|with|on)\b|"
    r"[,.;!?]|$)",
    re.I,
)


def _third_doing(body: str) -> tuple[str, str] | None:
    """(who, verb) of a third party's act under way with a time to come: "they're making the
    new rail as a priority and it'll be ready on Tuesday" (not "he's pulling a crew off a job":
    no time to come), or someone sent to act: "they're sending him to number fourteen to
    collect it"."""
    doing = _THIRD_DOING.search(body)
    verb = base_form(doing.group("verb")) if doing else None
    if doing is None or verb is None or verb in _STATES:
        return None
    rest = body[doing.end() :]
    if is_later(rest) or (verb in _SENDS and _SOMEONE_SENT.match(rest)):
        return _who_they_are(doing.group("who")), verb
    return None


#: a name and who they are: "Marc, our field tech for eastern Ontario," (the role without
#: where they work), "Volterra, who make the inverter,"
_NAME_THEN_ROLE = re.compile(
    r"^(?P<name>(?-i:[A-Z])[^,]*),\s+(?:(?:the|our)\s+(?P<role>[^,]+?)"
    r"(?:\s+(?:for|in|at|from|on)\s+[^,]*)?|who\s[^,]*),$",
    re.I,
)


def _who_they_are(who: str) -> str:
    """``who`` as a step names them: "Marc, our field tech for eastern Ontario," → "field tech
    Marc"."""
    m = _NAME_THEN_ROLE.match(who)
    if m is None:
        return who
    return f"{m.group('role')} {m.group('name')}" if m.group("role") else m.group("name")


#: a team or a trade named with its determiner: "the warehouse", "our logistics team", "the
#: driver" (who acts in a plan said in the present or an act under way)
_TEAM_OR_TRADE = (
    r"(?:the|our)\s+(?:[a-z'-]+\s+){0,2}(?:team|department|depot|warehouse|office|lab|"
    r"manufacturer|supplier|factory|manager|supervisor|coordinator|" + TRADES + r")"
)
#: a third party's act said in the present as the plan: "the driver collects it from Kidlington
#: Autos and brings it to Parkside Motors", "the fitter then replaces the valve"
_THIRD_PLANNED = re.compile(
    rf"^(?P<who>{_TEAM_OR_TRADE})\s+(?:then\s+|also\s+)?(?P<verb>[a-z]+s)\s+(?:[a-z'-]+\s+)?(?:it|them|the|your|a|an|"
    r"this|that|these|those|you|up|off|out|round|back)\b",
    re.I,
)


def _third_planned(body: str, when: str) -> tuple[str, str] | None:
    """(who, verb) of a third party's plan said in the present with a time to come in
    ``when``; not how things usually go ("the driver usually rings first")."""
    m = _THIRD_PLANNED.match(body)
    verb = base_form(m.group("verb")) if m else None
    if m is None or verb is None or verb == m.group("verb").lower() or verb in HAPPENINGS:
        return None
    if verb in _STATES or not is_later(when) or _WHENEVER.match(when):
        return None  # "When the lab flags a sample, our warehouse sends out a kit": the rule
    return m.group("who"), verb


_WHENEVER = re.compile(r"^\W*(?:(?:and|so|but)\s+)?(?:when|whenever|if|once|every\s+time)\b", re.I)


#: someone sent: "they're sending him to number fourteen to collect the envelope"
_SENDS: Final = frozenset(("send", "dispatch"))
_SOMEONE_SENT = re.compile(
    r"\s+(?:him|her|them|someone|somebody|(?:a|an|the|another)\s+[a-z'-]+)\b[^,.;]*?\bto\s+[a-z]+",
    re.I,
)
#: what a business is doing that is no act for the customer: "they're changing their hours",
#: "the farrier is doing the yard on the fourteenth" (a round: the act is what he'll do then)
_STATES: Final = frozenset(("start", "change", "close", "open", "finish", "move", "do"))
#: a third party's act under way with a time to come (see :func:`third_party`)
_THIRD_DOING = re.compile(
    rf"^(?P<who>they|{_TEAM_OR_TRADE}"
    # named after: "The manufacturer, Aquaflo, is shipping us a replacement"
    r"(?:,\s+(?-i:[A-Z])[\w'-]+(?:\s+(?-i:[A-Z])[\w'-]+)?,)?|"
    # any role, named after: "Our records clerk, Tomás, is scanning exhibits 14 to 22 today",
    # "our parts partner, Delta Diesel Supplies, is delivering…"
    r"(?:the|our)\s+(?:[a-z'-]+\s+){0,2}[a-z'-]+,\s+(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?(?-i:[A-Z])[\w'-]+"
    r"(?:\s+(?-i:[A-Z])[\w'-]+){0,2},|"
    # a name and who they are: "Marc, our field tech for eastern Ontario, is coming out
    # Saturday", "Volterra, who make the inverter, are sending…"
    r"(?-i:[A-Z])[\w'-]+(?:\s+(?-i:[A-Z])[\w'-]+){0,2},\s+(?:(?:the|our)\s|who\s)[^,]{1,50},|"
    # a firm named in two or three words: "Northland Marine is shipping us a new frame"
    r"(?!(?:The|Our|Your|My|This|That|So|And|But|Now|Then|Well|Okay|Right|Yes|No)\b)"
    r"(?-i:[A-Z][a-z]+)(?:\s+(?-i:[A-Z][a-z]+)){1,2}|"
    # the customer's own: "my husband's dropping off the signed form on Friday"
    rf"my\s+(?:[a-z]+\s+)?(?:{HOUSEHOLD}))"
    # (not the future: "the inspector's going to come by on Thursday")
    r"(?:'re|\s+are|'s|\s+is)\s+(?:now\s+|also\s+)?(?!going\s+to\b)(?P<verb>[a-z]+ing)\b",
    re.I,
)


def third_done(body: str) -> tuple[str, str] | None:
    """(who, verb) of a third party's act said as done ("Billing has already voided the second
    charge", "they've raised a refund"): a step only with a consequence, see
    :func:`callscope.insights.nextsteps._admissible`."""
    m = _THIRD_DONE.match(body)
    verb = base_form(m.group("verb")) if m else None
    if m is None or verb is None or verb == m.group("verb").lower():
        return None  # no listed act, or not a past form
    return m.group("who"), verb


_THIRD_DONE = re.compile(
    r"^(?P<who>they|he|she|billing|dispatch|(?:the|our)\s+(?:[a-z'-]+\s+){0,2}(?:team|"
    r"department|office|desk|lab|warehouse|" + TRADES + r"))(?:(?:'ve|'s|\s+have|\s+has)\s+|"
    # said in the simple past: "They reversed the second charge yesterday, so you'll see…"
    r"\s+(?=(?:already\s+|just\s+)?[a-z]+ed\b))"
    r"(?:already\s+|just\s+|now\s+|also\s+)?(?P<verb>[a-z]+)\b",
    re.I,
)
