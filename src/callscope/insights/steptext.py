"""The text of a next step and of an act done in the call, pure.

:func:`step_text` writes a committed clause (:mod:`callscope.insights.clauses`) as a next step
in the RingSense style (spec §10, seed ``ringsense-for-sales``): owner + action + object +
deadline — "Email the customer the list of approved glass shops.", "Network team to push a fix
tonight.", "Customer to send the photos of the damage tonight." — with the deadline normalised
and put last, and the pronouns made third person in grammatical English (:func:`third_person`).
:func:`done_text` writes the agent's act done in the call as what the agent did: "refunded the
duplicate charge of $49".
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.clauses import Clause, Frame, guessed_base, strip_condition
from callscope.insights.incall import NOW
from callscope.insights.leadins import LEADING, TOPIC_OR_REASON
from callscope.insights.numbers import DEADLINE, WEEKDAY, normalise_deadline
from callscope.insights.rewrites import again_restored
from callscope.insights.verbs import base_form, past_form, singular_base, third_singular

__all__ = ["done_text", "step_action", "step_text", "third_person"]


#: "now" as said of the act ("I'll send it now"), left out of the step
_NOW = re.compile(rf",?\s*\b(?:(?:for\s+)?{NOW}|as we speak|right away|straight away)\b", re.I)
#: where an act starts: the action's first word, or one after "and"/"then" ("chase it and give
#: you a ring")
_ACT: Final = r"(?:^|(?<=\band )|(?<=\bthen ))"
#: a contact said in other words, in the plain verb: "ring the customer", "give us a ring",
#: "drop you an email" → "call the customer", "call the company", "email the customer"
_PLAIN_CONTACT: Final = (
    (re.compile(_ACT + r"ring\b(?!\s+(?:the\s+)?(?:door)?bell)", re.I), "call"),
    (
        re.compile(_ACT + r"give\s+(\w+(?:\s+\w+)?)\s+a\s+(?:ring|call|bell|buzz)\b", re.I),
        r"call \1",
    ),
    (re.compile(_ACT + r"drop\s+(\w+(?:\s+\w+)?)\s+an?\s+(?:e-?mail)\b", re.I), r"email \1"),
    (re.compile(_ACT + r"drop\s+(\w+(?:\s+\w+)?)\s+a\s+text\b", re.I), r"text \1"),
    # "let him know about the fourteenth" → "tell him about the fourteenth"
    (re.compile(_ACT + r"let\s+(him|her|them)\s+know\b", re.I), r"tell \1"),
    # "pop them in the post tomorrow" → "post them tomorrow"
    (
        re.compile(_ACT + r"(?:pop|put|stick)\s+(\w+(?:\s+\w+)?)\s+in\s+the\s+post\b", re.I),
        r"post \1",
    ),
    # "have a word with my manager" → "speak to my manager"
    (re.compile(_ACT + r"have\s+a\s+(?:quick\s+)?(?:word|chat)\s+with\b", re.I), "speak to"),
    # "sort it with Mam's neighbour to be there" → "arrange with Mam's neighbour to be there"
    (re.compile(_ACT + r"sort\s+(?:it|that|this)(?:\s+out)?\s+with\b", re.I), "arrange with"),
)

_AGENT_PRONOUNS: Final = (
    (r"\byou're\b", "the customer is"), (r"\byou've\b", "the customer has"),
    (r"\byou'll\b", "the customer will"), (r"\byou'd\b", "the customer would"),
    (r"\byou are\b", "the customer is"), (r"\byou have\b", "the customer has"),
    (r"\byou were\b", "the customer was"), (r"\byou don't\b", "the customer doesn't"),
    (r"\byou haven't\b", "the customer hasn't"), (r"\byourself\b", "themselves"),
    (r"\byours\b", "the customer's"), (r"\byour\b", "the customer's"),
    (r"\byou\b", "the customer"), (r"\bmyself\b", ""), (r"\bmy\b", "the agent's"),
    (r"\bour behalf\b", "the company's behalf"), (r"\bour\b", "the"), (r"\bus\b", "the company"),
    (r"\bme\b", "the agent"),
    # in a condition kept with the step: "…once I've got that" (the verb agrees below)
    (r"\bI've\b", "the agent has"), (r"\bI'm\b", "the agent is"), (r"\bI'll\b", "the agent will"),
    (r"\bI'd\b", "the agent would"), (r"\bI\b", "the agent"),
)  # fmt: skip
_CUSTOMER_PRONOUNS: Final = (
    (r"\bI'm\b", "they are"), (r"\bI've\b", "they have"), (r"\bI'll\b", "they will"),
    (r"\bI was\b", "they were"), (r"\bI am\b", "they are"), (r"\bI\b", "they"),
    (r"\bmyself\b", "themselves"), (r"\bmine\b", "theirs"), (r"\bmy\b", "their"),
    (r"\bme\b", "them"), (r"\bwe're\b", "they are"), (r"\bwe\b", "they"), (r"\bour\b", "their"),
    (r"\byou've\b", "the agent has"), (r"\byou're\b", "the agent is"),
    (r"\byou'll\b", "the agent will"), (r"\byou'd\b", "the agent would"),
    (r"\byour\b", "the company's"), (r"\byou\b", "the agent"),
)  # fmt: skip


_SUBJECT_FORMS: Final = (
    ("is", "are"),
    ("has", "have"),
    ("was", "were"),
    ("will", "will"),
    ("would", "would"),
    ("doesn't", "don't"),
    ("hasn't", "haven't"),
    ("can", "can"),
    ("should", "should"),
)


_ZWSP: Final = "\u200b"
#: a title-case name with a pronoun in it: "Manage My Booking", "the Find My Device setting"
_NAMED = re.compile(
    r"\b(?:[A-Z][a-z]+\s+)+(?:My|Your|Our)(?:\s+[A-Z][a-z]+)+\b"
    r"|(?<=[a-z,]\s)(?:My|Your|Our)(?:\s+[A-Z][a-z]+)+\b"
)


#: words after a second mention of the customer that make it a subject: "the photos the
#: customer still have" → "the photos they still have"
_SUBJECT_AHEAD_WORDS: Final = """still already just also ever never only really have had did do
can could would must use used showed mentioned wanted want needed bought chose picked liked
prefer preferred described gave"""
_SUBJECT_AHEAD: Final = frozenset(_SUBJECT_AHEAD_WORDS.split())


def _they_do(m: re.Match[str]) -> str:
    """ "the customer sends" → "they send", "the customer took" → "they took" (a second
    mention); other words unchanged."""
    word = m.group(1)
    base = singular_base(word)
    if base is not None:
        return f"they {base}"
    if base_form(word) is not None or word in _SUBJECT_AHEAD:
        return f"they {word}"
    return m.group(0)


#: the adverbs that may stand between the customer and their verb
_BETWEEN = r"(?:still|just|already|really|only|also|never)"
#: "the customer" + an adverb + a plural auxiliary, made singular
_ADVERB_AGREE = re.compile(
    rf"(\bthe customer {_BETWEEN} )(haven't|have|don't|do|are|were|aren't|weren't)\b", re.I
)
_SINGULAR: Final = {"haven't": "hasn't", "have": "has", "don't": "doesn't", "do": "does",
                    "are": "is", "were": "was", "aren't": "isn't", "weren't": "wasn't"}  # fmt: skip


_PLURAL: Final = {v: k for k, v in _SINGULAR.items()}
#: "they" + an adverb + a singular auxiliary (made singular for a first mention), made plural
_THEY_AGREE = re.compile(
    rf"(\bthey {_BETWEEN} )(hasn't|has|doesn't|does|is|was|isn't|wasn't)\b", re.I
)


def _hide(m: re.Match[str]) -> str:
    return m.group(0)[0] + _ZWSP + m.group(0)[1:]


def third_person(text: str, speaker: str) -> str:
    """``text`` with first and second person made third person, grammatically: the agent's
    "you're right" → "the customer is right"; the customer's "my router" → "their router"."""
    table = _CUSTOMER_PRONOUNS if speaker == "customer" else _AGENT_PRONOUNS
    # a pronoun inside a title-case name stays ("Manage My Booking", "Find My Device"): kept
    # from the rewrites by a zero-width space after its first letter
    text = _NAMED.sub(lambda m: re.sub(r"\b(My|Your|Our)\b", _hide, m.group(0)), text)
    for pattern, repl in table:
        text = re.sub(pattern, repl, text, flags=re.I)
    text = text.replace(_ZWSP, "")
    if speaker != "customer":  # "you send" → "the customer sends", "I have" → "the agent has"
        text = re.sub(
            r"\bthe (customer|agent) ([a-z]+)\b",
            lambda m: f"the {m.group(1)} {third_singular(m.group(2)) or m.group(2)}",
            text,
        )
    # a second mention of the customer reads "they"/"their"
    text = re.sub(r"\bthis call\b", "the call", text, flags=re.I)
    first = re.search(rf"\bthe customer\b(?!\s+{_SERVICE})", text)
    if first is not None:
        text = text[: first.end()] + _mentioned_again(text[first.end() :])
    # the one mention left: "you still haven't" → "the customer still hasn't"
    text = _ADVERB_AGREE.sub(lambda m: f"{m.group(1)}{_SINGULAR[m.group(2).lower()]}", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _mentioned_again(text: str) -> str:
    """``text`` after the customer was named: "the customer's" reads "their", "the customer
    is" "they are", and so on."""
    text = text.replace("the customer's", "their")
    for subject, they in _SUBJECT_FORMS:
        text = text.replace(f"the customer {subject}", f"they {they}")
    text = re.sub(rf"\bthe customer (?!{_SERVICE})([a-z]+)\b", _they_do, text)
    text = _THEY_AGREE.sub(lambda m: f"{m.group(1)}{_PLURAL[m.group(2).lower()]}", text)
    return re.sub(rf"\bthe customer\b(?!\s+{_SERVICE})", "them", text)


#: "customer" naming a service of the company, not the customer: "our customer care address"
_SERVICE = r"(?:care|service|services|support|experience|relations|desk|portal|team)\b"


def _action_phrase(text: str, f: Frame) -> str:
    """The clause from its verb on, the verb in its base form."""
    body = LEADING.sub("", strip_condition(text)) if f.kind != "instruction" else text
    words = body.split()
    found = []
    for i, w in enumerate(words):
        word = re.sub(r"[^a-z']", "", w.lower())
        if f.guessed and word.endswith("ing"):
            word = guessed_base(word)
        if (base_form(word) or word) == f.verb:
            found.append(i)
    # the verb after the future, when an earlier form of it is in a description: "Luis, the
    # foreman who did the job, is going to do the full repair"
    after = [i for i in found if i and _FUTURE_WORD.search(words[i - 1].lower())]
    # a future said in progress: "will be going up to the archive … to go through them"
    after = [
        i
        for i in found
        if i > 1
        and words[i - 1].lower() == "be"
        and words[i].endswith("ing")
        and _FUTURE_WORD.search(words[i - 2].lower())
    ] or after
    if found:
        i = (after or found)[0]
        rest = " ".join(words[i + 1 :])
        if words[i].lower().rstrip(".,") != f.verb and words[i].lower().endswith("s"):
            # a plan said in the present: "collects it … and brings it" → "collect … and bring"
            rest = _AND_DOES.sub(_and_do, rest)
        elif words[i].lower().rstrip(".,").endswith("ing"):
            # an act under way: "is stripping and redyeing the lot" → "strip and redye"
            rest = _AND_DOING.sub(
                lambda m: f"{m.group(1)} {base_form(m.group(2)) or guessed_base(m.group(2))}",
                rest,
                count=1,
            )
        return " ".join([f.verb, rest]) if rest else f.verb
    return body


_AND_DOES = re.compile(r"\b(and|then)\s+([a-z]+s)\b")
_AND_DOING = re.compile(r"^(and)\s+([a-z]+ing)\b")


def _and_do(m: re.Match[str]) -> str:
    base = base_form(m.group(2))
    return f"{m.group(1)} {base}" if base and base != m.group(2) else m.group(0)


#: someone of the customer's own: "my husband", "our office manager"
_OWN_PEOPLE = re.compile(r"^(?:my|our|your)\s+(.+)$", re.I)
_PRONOUNS: Final = frozenset(("", "they", "he", "she", "it", "we", "i", "someone", "somebody"))
_FUTURE_WORD = re.compile(r"^(?:will|to|should|shall|also|then|now|\w+'ll)$")


#: what an act may take as its object, named just before it, by the kind of act: money paid
#: back or taken off ("You paid the seventy-five dollar rush fee, and … I'm going to refund that
#: to your card"), or a paper sent ("The one thing we need is a fresh signature on the
#: declaration form. I'll email it to you this afternoon.")
_MONEY_ACTS: Final = frozenset(("refund", "take", "credit", "pay", "reimburse", "waive", "put"))
_PAPER_ACTS: Final = frozenset(
    ("send", "email", "forward", "post", "mail", "return", "sign", "print", "upload", "fax")
)
#: the words of a thing's name before its noun (no second thing joined on)
_WORDS = r"(?:(?!(?:and|or|the|a|an|to|of|for|with|on|in)\b)[\w-]+\s+){0,4}"
_MONEY_NAMED = re.compile(
    rf"\b(?:the|your|our)\s+{_WORDS}(?:fee|charge|payment|deposit|premium|excess)\b", re.I
)
_PAPER_NAMED = re.compile(
    rf"\b(?:the|your|our)\s+{_WORDS}(?:form|certificate|report|invoice|statement|"
    r"receipt|contract|agreement|quote|declaration)\b",
    re.I,
)


def with_object(value: str, verb: str, before: str, speaker: str) -> str:
    """``value`` with the "it" or "that" its act takes said as the thing of that kind named
    last in ``before`` (the speaker's sentence before the act and the one before that, in the
    turn): "Refund that to the customer's card" after "You paid the seventy-five dollar rush
    fee" → "Refund the seventy-five dollar rush fee to the customer's card"."""
    kind = _MONEY_NAMED if verb in _MONEY_ACTS else _PAPER_NAMED if verb in _PAPER_ACTS else None
    pronoun = re.search(rf"\b({re.escape(verb)})\s+(?:it|that)\b", value, re.I) if verb else None
    if kind is None or pronoun is None:
        return value
    recent = " ".join(re.split(r"(?<=[.!?])\s+", before.strip())[-2:])
    named = list(kind.finditer(recent))
    if not named:
        return value
    thing = third_person(named[-1].group(0), speaker)
    return f"{value[: pronoun.start()]}{pronoun.group(1)} {thing}{value[pronoun.end() :]}"


def step_text(clause: Clause, f: Frame) -> str:
    """The next step in the RingSense style: owner + action + object + deadline."""
    action = step_action(clause, f)
    own = (
        _OWN_PEOPLE.match(f.who)
        if f.owner == "customer" and f.kind in ("third", "instruction")
        else None
    )
    if own:
        # "my husband will drop it back in": the customer's own people act for them
        out = f"Customer's {own.group(1)} to {_mentioned_again(action)}"
    elif f.owner == "customer" and f.kind == "third" and f.who.lower() not in _PRONOUNS:
        # who the customer says will act for them: "Sandra, our office manager, will put…"
        out = f"{_team(f.who)} to {_mentioned_again(action)}"
    elif f.owner == "customer":
        out = f"Customer to {_mentioned_again(action)}"  # "Customer to email us their receipt"
    elif f.owner == "third party":
        out = f"{_team(f.who)} to {action}"
    else:
        # (an act whose verb is no listed one keeps its subject: "I'll re-issue the invoice")
        action = re.sub(r"^the agent (?:will|is going to) ", "", action, flags=re.I)
        out = action[:1].upper() + action[1:]
    # ("re-inspect" was read as "inspect" to find the act)
    return again_restored(re.sub(r"\bsms\b", "SMS", out, flags=re.I), clause.sentence) + "."


def step_action(clause: Clause, f: Frame) -> str:
    """The step without its owner: action + object + deadline, third person."""
    text = clause.text.strip().rstrip(".!?")
    condition = ""
    said_if = _IF_THEN_I.match(text) if f.conditional and "," not in text else None
    if said_if:
        # "if an earlier slot opens up I'll give you a ring": the condition said without a comma
        condition, text = said_if.group(1).strip(), text[said_if.end(1) :].strip()
    elif f.conditional and "," in text:
        # the condition ends where the main clause starts: "If you email me their name, address
        # and phone number by Monday, the team will send them the form"
        main = _MAIN_CLAUSE.search(text)
        at = main.start() if main else text.index(",")
        condition, text = text[:at].strip(), text[at + 1 :].strip()
    if condition:
        condition = LEADING.sub("", condition)  # "And if you…," → "if you…"
        condition = DEADLINE.sub(lambda m: normalise_deadline(m.group(0)), condition)
    action = _action_phrase(text, f)
    for said, plain in _PLAIN_CONTACT:
        action = said.sub(plain, action)
    action = _NOW.sub("", action)
    action = DEADLINE.sub(lambda m: normalise_deadline(m.group(0)), action)
    speaker = "customer" if f.owner == "customer" and clause.speaker == "customer" else "agent"
    if clause.speaker == "customer" and f.owner == "third party":
        # what the customer reports someone will do for them: "they're going to ring me back"
        action = re.sub(r"\bmy\b", "the customer's", re.sub(r"\bme\b", "the customer", action))
        action = third_person(action, "customer")
    else:
        action = third_person(action, speaker if clause.speaker == "customer" else "agent")
    if condition and not _WHEN_PAST.match(condition):
        # (not a time gone by: "When I was at Dr. Patel's office yesterday, …")
        action = f"{action} {third_person(condition[:1].lower() + condition[1:], speaker)}"
    action = _TRAILING_ASIDE.sub("", action)
    action = _then_named(action, clause.sentence.split(clause.text[:20], 1)[0])
    return re.sub(r"\s{2,}", " ", _time_first(text, action)).strip(" ,")


def _then_named(action: str, before: str) -> str:
    """``action`` with a closing "then" said as the time named before it in its sentence:
    "Padraig is doing his round on Thursday and he'll swap the card reader out then" → "swap
    the card reader out on Thursday"."""
    then = re.search(r"(?:\b(?P<prep>by|until|till|before|from)\s+)?\bthen$", action)
    times = list(DEADLINE.finditer(before)) if then else []
    if then is None or not times:
        return action
    said = normalise_deadline(times[-1].group(0))
    if then.group("prep"):  # "…if it's not back by then" → "…by next Friday"
        said = f"{then.group('prep')} {_PREPOSITION.sub('', said)}"
    elif _WEEKDAY_FIRST.match(said):
        said = f"on {said}"
    return action[: then.start()] + said


_IF_THEN_I: Final = re.compile(
    r"^((?:and\s+)?(?:if|once|when|as soon as)\b.{3,80}?)\s+(?=(?:i|we)(?:'ll|\s+will)\b)", re.I
)
_WHEN_PAST: Final = re.compile(
    r"^when\s+(?:i|we|you|he|she|they)\s+(?:was|were|went|called|rang|spoke|saw)\b", re.I
)
_PREPOSITION: Final = re.compile(r"^(?:on|by|at|before|until|till|in|from)\s+", re.I)
_WEEKDAY_FIRST: Final = re.compile(rf"^{WEEKDAY}\b", re.I)


#: a politeness said as a condition, a promise said again, a description of the object, at
#: the end: "…on Saturday morning, if that's alright", "…the moment it's ready, I promise",
#: "…with museum glass, which is anti-reflective and much tougher"
_TRAILING_ASIDE: Final = re.compile(
    r",?\s*(?:if\s+that(?:'s|\s+is)\s+(?:alright|all right|okay|ok|fine|good)(?:\s+with\s+you)?|"
    r"(?:i|the\s+agent)\s+promises?(?:\s+you)?|which\s+(?:is|are)\s+[^,;\d]+|"
    # an assurance or the speaker's reason: ", I'll make sure of it", ", just so it doesn't slip"
    r"(?:i|they|we|the\s+agent)(?:'ll|\s+will)\s+(?:make\s+sure\s+of\s+it|"
    r"(?:sort|send)\s+(?:that|it)(?:\s+out)?)|(?:anyway,?\s+)?just\s+so\s+[^,;]+)(?=[.!?]?$)",
    re.I,
)


#: the comma before the main clause of a condition said first: ", the team will…", ", I'll…"
_MAIN_CLAUSE: Final = re.compile(
    r",\s+(?=(?:i|we|you|he|she|they|it|(?:the|our|your|a|an)\s+[\w'-]+(?:\s+[\w'-]+){0,3}?|"
    r"(?-i:[A-Z])[\w'-]+)\s*(?:'ll|'s going to|'re going to|\s+will|\s+should|\s+is going to|"
    r"\s+are going to)\b)",
    re.I,
)
_WEEKDAY_ALONE: Final = re.compile(rf"^{WEEKDAY}$", re.I)


def _time_first(text: str, action: str) -> str:
    """``action`` with the time said before it in a lead-in ("On the Thursday itself, could
    you make sure…", "Tomorrow morning, could you send…") put after it."""
    lead = LEADING.match(text)
    if lead and TOPIC_OR_REASON.search(lead.group(0)):
        return action  # "because of Tuesday, …": what the lead-in names is no time for the act
    when = DEADLINE.search(lead.group(0)) if lead else None
    if when is None or when.group(0).lower() in action.lower():
        return action
    said = normalise_deadline(when.group(0))
    said = f"on {said}" if _WEEKDAY_ALONE.match(said) else said[:1].lower() + said[1:]
    return f"{action.rstrip(' ,')} {said}"


def _team(who: str) -> str:
    # named after: "The manufacturer, Aquaflo," → "Manufacturer Aquaflo"
    who = re.sub(r"\s*,\s*", " ", who).strip()
    who = re.sub(r"^(?:our|the|my|your|their)\s+", "", who, flags=re.I)
    if who.lower() in ("they", "he", "she"):
        return "The team"
    if who.lower() in ("someone", "somebody"):
        return "Someone"
    who = re.sub(r"^(?:a|an)\s+", "", who, flags=re.I)
    return who[:1].upper() + who[1:]


def done_text(clause: Clause, f: Frame) -> str:
    """A progressive or past act as what the agent did: "refunded the duplicate charge of $49"."""
    # from the verb to the next comma: "Okay, I've refunded the charge, it'll take…" and "I see
    # it, I've refunded…" both give "refund the charge"
    # (not at a thousands separator: "the card ending 4,471")
    action = re.split(r",(?!\d)", _action_phrase(clause.text.strip().rstrip(".!"), f))[0]
    action = third_person(_NOW.sub("", action), "agent")
    words = action.split()
    if words:
        words[0] = past_form(words[0]) if not f.guessed else _ed_guessed(words[0])
    return " ".join(words).strip(" ,")


def _ed_guessed(verb: str) -> str:
    """The past of a guessed base form: "boot" → "booted"."""
    return verb + ("d" if verb.endswith("e") else "ed")
