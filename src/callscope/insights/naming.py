"""Who a third party is: the teams, companies and people the agent names in a call, and the
actor a step's "they", "he", "she" or first name means (:class:`Names`).

"They" is the team named before it in the clause, else the one acting earlier in the
sentence, else the last team or company the agent named ("our specialist partner,
Bellweather Rug Works" names the company, not the specialist); "he" or "she" is the last
person the agent named by name or role; a first name alone is the person as the agent
introduced them ("Priya's going to ring you" after "our service manager, Priya Shah").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from callscope.insights.actors import HOUSEHOLD, TRADES
from callscope.insights.clauses import Frame

__all__ = ["TEAM", "Names", "reported"]

TEAM = re.compile(
    r"\b(?:the\s+|our\s+|a\s+|an\s+|(?=(?:dispatch|billing|grounds\s+maintenance|admin|"
    r"head\s+office)\b))((?:[a-z'-]+\s+){0,2}(?:"
    + TRADES
    + r"|team|department|office|desk|dispatch|billing(?!\s+(?:address|date|period|cycle))|"
    r"supervisor|manager|pharmacist|lab|tuners?|warehouse|depot|store|crew|kitchen|bank|insurer|"
    r"surgery|clinic|pharmacy|planner|coordinator|advis[eo]r|officer|administrator|cent(?:er|re)|"
    r"unit|committee|panel|maintenance|admin|head\s+office|operator|supplier|manufacturer)"
    r"(?:\s+(?:lead|leader))?)\b",
    re.I,
)
#: a gang or crew named after its leader: "Hemi's gang"
_SOMEONES_GANG = re.compile(r"\b((?-i:[A-Z])[a-z]+'s\s+(?:gang|crew|team))\b")
PRONOUN_ACTOR = ("they", "he", "she")
#: the groups among :data:`_TEAM`'s words, which "he" or "she" never means
COLLECTIVE: Final = frozenset(
    ("team", "department", "office", "desk", "lab", "warehouse", "depot", "store", "crew",
     "dispatch", "kitchen", "bank", "insurer", "surgery", "clinic", "pharmacy", "tuners",
     "center", "centre", "unit", "committee", "panel", "maintenance", "admin")
)  # fmt: skip
#: an organisation named after a preposition or introduced by name, whom a later "they" may
#: mean: "we'll send the battery to Veloria, they're going to ship a replacement", "we use a
#: local firm called Brightpile Carpet Care, and they'll ring you"
_ORGANISATION = re.compile(
    r"\b(?:to|with|from|called|named)\s+(?P<name>[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2})\b(?!')"
)
#: a company named after what it is to us: "our specialist partner, Bellweather Rug Works"
_NAMED_PARTNER = re.compile(
    r"\b(?:the|our|a|an)\s+(?:[a-z'-]+\s+){0,2}(?:partner|company|supplier|firm|contractor|"
    r"specialists?|provider|courier|lab|manufacturer|distributor)\s*,\s+"
    r"(?P<name>(?-i:[A-Z][A-Za-z]+)(?:\s+(?:(?:and|&)\s+)?(?-i:[A-Z][A-Za-z]+)){0,3})\b",
    re.I,
)
_NOT_ORGANISATION_WORDS: Final = """Monday Tuesday Wednesday Thursday Friday Saturday Sunday
January February March April May June July August September October November December I You We"""
_NOT_ORGANISATIONS: Final = frozenset(_NOT_ORGANISATION_WORDS.split())
#: capitalised words opening a clause that name no one: "That will…", "It'll…"
_NOT_NAME_WORDS: Final = """It That This There Which What Who Someone Everything Nothing He She
They Yes No How Why When Where Okay Sure Right Great Thanks"""
_NOT_NAMES: Final = _NOT_ORGANISATIONS | frozenset(_NOT_NAME_WORDS.split())
#: a capitalised word of a name, an accent allowed ("Ciarán", "Tomás")
_NAME: Final = r"[A-Z][a-zà-ÿ'-]+"
#: a person named with their role: "your account manager, Helen Park", "Jo, the room leader"
#: — whom a later "she"/"he" means
_PERSON = re.compile(
    r"\b(?:[Tt]he|[Oo]ur|[Yy]our|[Mm]y|[Aa]n?)\s+(?P<role>(?:[a-z'-]+\s+){0,2}[a-z'-]+),\s+"
    # (not someone spoken to: "Have you got your ticket number there, Oom?")
    r"(?P<name>(?:(?:Mr|Mrs|Ms|Dr|Miss)\.?\s+)?(?!I\b)"
    + _NAME
    + r"(?:\s+"
    + _NAME
    + r")?)\b(?!\s*\?)"
    # (not a sentence's "And" before it: "And Luis, our camera tech, is back today")
    r"|\b(?!(?:And|But|So|Then|Yes|No|Oh|Well|Okay|Right|Now)\s)"
    r"(?P<first>" + _NAME + r"(?:\s+" + _NAME + r")?),\s+(?:the|our|your|my)\s+"
    # the role may end the clause: "I've just messaged Mei, our translator"
    r"(?P<role2>(?:[a-z'-]+\s+){0,2}[a-z'-]+)"
    # (where they work is no part of the role: "Padraig, our engineer for the west,")
    # ("Rachel, the manager at Bloomhouse in Dayton.")
    r"(?:\s+(?:for|in|on|at|from)\s+(?:the\s+)?[A-Za-z'-]+(?:\s+(?:in|at)\s+" + _NAME + r")?)?"
    r"(?:,|[.!]?$)"
    # a name and "one of our…": "I've got Luis, one of our senior techs, free"
    r"|\b(?P<one>" + _NAME + r"(?:\s+" + _NAME + r")?),\s+one\s+of\s+(?:our|the)\b"
    # a name alone acting: "Darren can fit it on Friday afternoon"
    # (a relative clause between: "Lee, who covers Derby, will be with you tomorrow")
    # (or where they work: "Thabo in the cutting room is going to go through the cold room")
    r"|\b(?P<solo>"
    + _NAME
    + r")(?:,\s+who\s+[^,]{1,40},|\s+in\s+(?:the\s+)?[a-z'-]+(?:\s+room)?)?\s+"
    r"(?=(?:will|'ll|can|is going to|is coming|has)\b)"
    # someone at their work: "Dave's on the roaster tomorrow. He'll do a fresh batch…",
    # "Alasdair's our clockmaker for Perthshire, and he's going to…", "Dwayne is in the studio
    # tomorrow morning, so he's going to…"
    r"|\b(?P<busy>[A-Z][a-z]+)(?:'s|\s+is)\s+(?=(?:on|in|back|out|working|coming|going|our)\b)"
    # a role and a first name, no comma: "Our engraver Malcolm does all our hand work."
    r"|\b(?:[Oo]ur|[Tt]he)\s+(?P<role4>[a-z]+)\s+(?P<name4>(?!I\b)[A-Z][a-z-]+)\b(?!\s+[A-Z]|')"
    # the role said to be someone: "Our pictures specialist is Caroline Marsh."
    r"|\b(?:[Tt]he|[Oo]ur|[Yy]our)\s+(?P<role3>(?:[a-z'-]+\s+){0,2}[a-z'-]+)\s+is\s+"
    r"(?P<name3>(?:(?:Mr|Mrs|Ms|Dr|Miss)\.?\s+)?(?!I\b)" + _NAME + r"(?:\s+" + _NAME + r")?)\b"
)


def pronoun_named(f: Frame, text: str, person: str, team: str) -> Frame:
    """A third party said as "they", "he" or "she", named: "I've raised it with the warehouse,
    they'll ship it…" — a team named before the pronoun in the clause itself, else ``team``
    (the one acting earlier in the sentence: "the logistics team will take it up with the
    courier, and they'll email you"; else the last one named); a "he" or "she" is ``person``,
    the last person the agent named by name or role."""
    here = [m.group(1) for m in TEAM.finditer(_before(text, f.who))]
    if f.who.lower() != "they" and person and (not here or _is_role(here[-1], person)):
        # "Padraig, our engineer for the west, is…, and he'll swap…": the engineer named
        return named(f, person)
    if here or team:
        return named(f, here[-1] if here else team)
    return f


def _is_role(team: str, person: str) -> bool:
    """Whether ``team`` is the role ``person`` was named with ("engineer", "engineer
    Padraig")."""
    return person.lower().startswith(f"{team.lower()} ")


def _before(text: str, who: str) -> str:
    """``text`` before ``who`` said as a word ("When the courier drops off…, he'll…" is not
    cut at the "he" of "When")."""
    return re.split(rf"\b{re.escape(who)}\b", text, maxsplit=1)[0]


def mentioned(text: str) -> tuple[list[str], list[str]]:
    """The teams (and organisations) and the people named in ``text``, in order (a team's
    name said after it, "our specialist partner, Bellweather Rug Works", last)."""
    found = [*TEAM.finditer(text), *_SOMEONES_GANG.finditer(text)]
    teams = [m.group(1) for m in sorted(found, key=lambda m: m.start())] + [
        m.group("name")
        for m in _ORGANISATION.finditer(text)
        if m.group("name").split()[0] not in _NOT_ORGANISATIONS
    ]
    teams += [
        m.group("name")
        for m in _NAMED_PARTNER.finditer(text)
        if m.group("name").split()[0] not in _NOT_NAMES and m.group("name") not in teams
    ]
    people = [
        f"{m.group('role')} {m.group('name')}"
        if m.group("name")
        else f"{m.group('role2')} {m.group('first')}"
        if m.group("first")
        else f"{m.group('role3')} {m.group('name3')}"
        if m.group("name3")
        else f"{m.group('role4')} {m.group('name4')}"
        if m.group("name4")
        else m.group("one") or m.group("solo") or m.group("busy")
        for m in _PERSON.finditer(text)
        if (
            m.group("solo")
            or m.group("one")
            or m.group("busy")
            or m.group("name3")
            or m.group("name4")
            or ""
        ).split(" ")[0]
        not in _NOT_NAMES
    ]
    return teams, people


def named(f: Frame, team: str) -> Frame:
    return replace(f, who=team)


def actor_named(
    f: Frame, text: str, last: tuple[str, str, str], known: Sequence[str]
) -> tuple[Frame, str]:
    """A third party's step with its actor named (a pronoun by :func:`pronoun_named`, a
    first name by :func:`in_full`), and the team acting in the sentence so far; ``last``:
    the person last named, the team acting earlier in the sentence, the team last named."""
    person, subject, team = last
    if f.owner != "third party":
        return f, subject
    personal = bool(subject) and re.search(r"(?-i:[A-Z])[a-z'-]+$", subject) is not None
    if f.who.lower() in PRONOUN_ACTOR:
        by = said_by(_before(text, f.who)) if f.who.lower() != "they" else ""
        if by:
            # "Dean said he'll have a tech at your restaurant by half past four"
            full = in_full(named(f, by), known)
            return full, full.who
        if f.who.lower() != "they" and personal:
            # "The installer who fitted your wraps, Marco, is going to strip…, and he'll seal…":
            # the person acting earlier in the sentence
            return named(f, subject), subject
        return pronoun_named(f, text, person, ("" if personal else subject) or team), subject
    if TEAM.search(f.who):
        return f, f.who
    full = in_full(f, known)
    # a person acting is who a later "he" or "she" in the sentence means
    return full, full.who if re.search(r"(?-i:[A-Z])[a-z'-]+$", full.who) else subject


def in_full(f: Frame, known: Sequence[str]) -> Frame:
    """A third party said by first name, named as the agent introduced them: "Priya's going to
    ring you" after "our service manager, Priya Shah" is the service manager Priya Shah's."""
    if not re.fullmatch(rf"(?-i:{_NAME})", f.who):
        return f
    full = next((p for p in reversed(known) if f.who in p.split()[-2:]), None)
    return f if full is None else named(f, full)


class Names:
    """Who the agent has named so far in a call, read clause by clause (:meth:`heard`), and
    the actor a third party's step means (:meth:`actor`)."""

    __slots__ = ("known", "person", "team")

    def __init__(self) -> None:
        self.team = ""  # the team or company named last
        self.person = ""  # the person named last, by name or by role
        #: the people named with their role and name ("service manager Priya Shah")
        self.known: list[str] = []

    def actor(self, f: Frame, text: str, subject: str) -> tuple[Frame, str]:
        """:func:`actor_named` with what was named so far."""
        return actor_named(f, text, (self.person, subject, self.team), self.known)

    def heard(self, text: str, *, pronoun_opens: bool) -> None:
        """The names in the agent's clause ``text`` (``pronoun_opens``: the clause opens with
        a third party's pronoun)."""
        teams, people = mentioned(text)
        # (a firm named by its name is no "he" or "she": "…up to Pretoria on Saturday, and
        # he'll swap them")
        roles = [
            t for t in teams if t.lower().split()[-1] not in COLLECTIVE and not t[:1].isupper()
        ]
        self.team = teams[-1] if teams else self.team
        # the one named last, by name or by role ("our operations manager… you'll get a call
        # from her"); a group named after them makes "he" no one, unless they are who acts in
        # it ("he's pulling a crew off a job")
        self.known += [p for p in people if " " in p]
        if people or roles:
            self.person = people[-1] if people else roles[-1]
        elif teams and not pronoun_opens:
            self.person = ""


#: an organisation of the customer's own, which acts of itself: "my bank", "my mortgage broker"
#: (not the customer's household or staff: "my husband will drop it in" is the customer's step)
_THEIR_ORGANISATION = re.compile(
    r"\b(?:my|our|your)\s+(?P<who>(?:mortgage\s+)?broker|bank|insurer|insurance company|lender|"
    r"landlord|letting agent|solicitor|building society|card (?:company|provider)|GP|doctor|vet)\b",
    re.I,
)


def reported(f: Frame, sentence: str, earlier: str = "") -> Frame:
    """A step the customer reports of an organisation of their own ("I called my bank, and
    they said they'll reverse one of them", "my mortgage broker said she'll ask Halifax…"; a
    "they" may name it in the customer's turn before: "I'd already rung my bank." — "They're
    going to ring me back tomorrow"): that organisation's, a third party's; likewise what a
    person the customer named said they will do ("The seller's Mr. Park… he said he'll meet
    me on Saturday"), unless they are the customer's household or staff. ``earlier``: what
    the customer said before, in this turn and the one before."""
    if f.owner != "customer" or f.kind != "third":
        return f
    before = _before(sentence, f.who) if f.who else sentence
    pronoun = f.who.lower() in PRONOUN_ACTOR
    m = (
        _THEIR_ORGANISATION.search(f.who)
        or _THEIR_ORGANISATION.search(before)
        or (_THEIR_ORGANISATION.search(earlier) if pronoun else None)
    )
    if m is not None:
        return replace(f, owner="third party", who=f"customer's {m.group('who')}")
    own = list(_HOUSEHOLD.finditer(f"{earlier} {before}")) if pronoun else []
    if own and f.who.lower() != "they":
        # "My business partner, Rory, has them on his laptop. He'll send them over tonight": the
        # customer's own person, named as the customer named them
        m = own[-1]
        role = m.string[m.start() : m.start("name") if m.group("name") else m.end()].rstrip(" ,")
        return replace(f, who=" ".join(w for w in (role, m.group("name")) if w))
    org = _ORG_SAID.search(sentence) if pronoun else None
    if org is not None and org.group("org").split()[0] not in _NOT_NAMES:
        # "…, and Blue Cross said they'll reprocess the claim once they have it"
        return replace(f, owner="third party", who=org.group("org"))
    by = said_by(before) if pronoun and not _HOUSEHOLD.search(f"{earlier} {before}") else ""
    if by:
        # "Priya said she'll have the figures over to the auditors by Thursday"
        return replace(f, owner="third party", who=by)
    said = _SAID_THEY_WILL.search(sentence) if pronoun else None
    if said is None or _HOUSEHOLD.search(f"{earlier} {sentence}"):
        return f
    names = _TITLED.findall(f"{earlier} {before}")
    return replace(f, owner="third party", who=names[-1]) if names else f


#: a first name, not its "'s" ("my husband Dan's paying for that one"), "O'Brien" whole
_FIRST_NAME: Final = r"(?!I\b)(?-i:[A-Z][a-z-]*(?:'[A-Z][a-z-]+)?)"


def said_by(before: str) -> str:
    """Who, named by first name (and role), said the act that follows ``before``: "his nurse
    Gloria said (she'll…)" → "nurse Gloria"; "" when no one is."""
    m = _SAID_BY.search(before)
    if m is None or m.group("name") in _NOT_NAMES:
        return ""
    return " ".join(w for w in (m.group("role"), m.group("name")) if w)


_SAID_BY = re.compile(
    r"(?:\b(?:his|her|their|our|my|the)\s+(?P<role>[a-z]+(?:\s+[a-z]+)?)\s+)?"
    rf"\b(?P<name>{_FIRST_NAME})(?:'s|\s+has)?\s+"
    r"(?:said|says|told me|promised|reckons)\s+(?:that\s+)?$",
    re.I,
)
#: what an organisation the customer named said it will do: "Blue Cross said they'll…"
_ORG_SAID = re.compile(
    r"\b(?P<org>(?-i:[A-Z][\w&'-]*)(?:\s+(?-i:[A-Z][\w&'-]*)){0,3})\s+(?:said|told me|say|says)\s+"
    r"(?:that\s+)?(?:they|it)(?:'ll|\s+will|'re going to|\s+are going to|\s+is going to)\b"
)
#: what someone said they will do: "he said he'll meet me on Saturday"
_SAID_THEY_WILL = re.compile(
    r"\b(?:he|she|they)\s+(?:said|says|told me|promised)\s+(?:that\s+)?(?:he|she|they)"
    r"(?:'ll|\s+will|'s going to|'re going to|\s+is going to|\s+are going to)\b",
    re.I,
)
#: the customer's household and staff, whose steps are the customer's
_HOUSEHOLD = re.compile(
    rf"\bmy\s+(?:[a-z]+\s+)?(?:{HOUSEHOLD})\b(?:,?\s+(?P<name>{_FIRST_NAME})\b)?",
    re.I,
)
#: a person named with a title: "Mr. Park", "Dr Shah"
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Miss)\.?\s+" + _NAME)


def person_named(value: str, owner: str, person: str, said: str) -> str:
    """``value`` with the person an act reaches named, when they were named in the same turn
    (``said``): the agent's "your account manager, Fiona Hale… I'll get a message to her this
    afternoon" → "Get a message to account manager Fiona Hale this afternoon"; the customer's
    "Our church officer, Hamish, keeps the keys. I'll have him there at quarter to nine" →
    "Customer to have church officer Hamish there at quarter to nine"."""
    if not person or person.split()[-1] not in said:
        return value
    if owner == "agent":
        return _TO_THEM.sub(lambda m: f"{m.group(1)} {person}", value, count=1)
    if owner == "customer":
        return _HAVE_THEM.sub(lambda m: f"{m.group(1)} {person}", value, count=1)
    return value


#: the person the agent's own act reaches, said as a pronoun
_TO_THEM: Final = re.compile(r"\b(to|with)\s+(?:her|him)\b(?!\s*self)")
#: the customer's own person they will have act, said as a pronoun: "I'll get him to…"
_HAVE_THEM: Final = re.compile(r"\b(have|get)\s+(?:her|him)\b(?!\s*self)")
#: the customer's own person named without a name: "My brother-in-law's up there Wednesday"
_THEIR_OWN: Final = re.compile(rf"\bmy\s+(?P<who>(?:{HOUSEHOLD})(?:-in-law)?)\b", re.I)


def their_person(text: str) -> str:
    """The customer's own person named last in their sentence ``text``: "church officer
    Hamish" (by role and name), "their brother-in-law" (by relation), else ""."""
    people = [p for p in mentioned(text)[1] if " " in p]
    if people:
        return people[-1]
    own = list(_THEIR_OWN.finditer(text))
    return f"their {own[-1].group('who')}" if own else ""
