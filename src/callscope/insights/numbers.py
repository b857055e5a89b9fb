"""Spoken numbers and deadlines in a call's sentences, pure.

:data:`DEADLINE` finds a time still to come in a clause ("within forty eight hours", "by
Friday", "tomorrow morning", "in 5 to 7 business days", "right after we hang up");
:func:`normalise_deadline` writes one for a next step ("within 48 hours", "after the call"),
and :func:`spoken_numbers` writes spoken numbers up to ninety-nine as digits ("forty eight
hours" → "48 hours").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["DEADLINE", "normalise_deadline", "spoken_numbers"]


_SMALL_NUMBERS: Final = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS: Final = {w: i for i, w in enumerate(_SMALL_NUMBERS.split())}
_TENS: Final = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
#: the ordinal units of a compound ordinal ("twenty-second" → "22nd")
_ORDINAL_UNITS: Final = {
    "first": (1, "st"), "second": (2, "nd"), "third": (3, "rd"), "fourth": (4, "th"),
    "fifth": (5, "th"), "sixth": (6, "th"), "seventh": (7, "th"), "eighth": (8, "th"),
    "ninth": (9, "th"),
}  # fmt: skip
#: a day of the week (a pattern to put in others)
WEEKDAY: Final = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
)
_UNIT = r"(?:business\s+days?|working\s+days?|days?|hours?|minutes?|weeks?|months?)"
_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|a few|several|a couple of)"
)
_N = rf"(?:\d+|{_NUMBER_WORD}(?:[- ]{_NUMBER_WORD})?)"
#: the days of a month as spoken ordinals: "the twentieth", "the thirty-first"
_SPOKEN_DAY = (
    r"(?:(?:(?:twenty|thirty)[- ])?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|"
    r"ninth)|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|"
    r"eighteenth|nineteenth|twentieth|thirtieth)"
)
_HOUR = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_CLOCK = (
    rf"(?:(?:half\s+past|quarter\s+past|quarter\s+to)\s+{_HOUR}|{_HOUR}"
    r"(?:\s+(?:thirty|fifteen|forty-five|o'clock))?)"
    r"(?!\s+(?:days?|weeks?|months?|years?|hours?|minutes?|people|of|percent|pounds|dollars|euros|"
    r"items?|pallets?|bags?|boxes|units?|metres?|meters?|feet|foot|inches|mil|mm|cm|litres?|"
    r"kilos?|tonnes?|hectares?)\b)"
)
#: right after "by", "before" or "until", where a bare month, ordinal or clock time is a date
_AFTER_BY = r"(?:(?<=\bby )|(?<=\bbefore )|(?<=\buntil ))"
DEADLINE: Final = re.compile(
    # every alternative starts a word: "noon" is not a deadline inside "afternoon"
    r"\b(?:(?:by|before|on|until|within|in|after|no later than|at|for)\s+)?(?:"
    rf"(?:the\s+)?end of (?:the|this|next) (?:day|week|month)|{_N}\s+(?:to|or)\s+{_N}\s+{_UNIT}|"
    # a month named alone only after "next", "end of" or "by"/"before"/"until" (not "May I…")
    rf"next\s+{_MONTH}|(?:the\s+)?end\s+of\s+{_MONTH}|"
    rf"{_AFTER_BY}{_MONTH}(?!\s+\d)|"
    rf"(?:in|within|after|for|takes?)\s+(?:a|an|{_N})\s+{_UNIT}|(?:next|this)\s+(?:{WEEKDAY}|week|month|morning|afternoon|"
    rf"evening)|{WEEKDAY}(?:\s+(?:morning|afternoon|evening|night))?|{_MONTH}\s+\d+(?:st|nd|rd"
    r"|th)?|the\s+\d+(?:st|nd|rd|th)|"
    # a day said as a spoken ordinal after by/before/until/on: "before the twentieth", "on the
    # fourteenth at nine" (not "on the second floor", "the second charge")
    rf"(?:{_AFTER_BY}|(?<=\bon ))the\s+{_SPOKEN_DAY}"
    r"(?!\s+(?!(?:of|at|between|and|or|so|in|from|to|if|when|then|by|before|but)\b)[a-z])|"
    # a clock time said in words after by/before/until: "by seven thirty", "by half past four",
    # "before nine tomorrow" (not "by two weeks", "before eleven people")
    rf"{_AFTER_BY}{_CLOCK}|"
    r"tomorrow(?:\s+(?:morning|afternoon|evening|night))?|"
    r"today|tonight|this (?:morning|afternoon|evening)|first thing in the morning|the same day|"
    r"same day|\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)|noon|"
    r"(?:right |straight |just )?(?:after|as soon as|once|when|the (?:minute|moment|second)) "
    r"we(?:'ve)? hang up|"
    r"(?:as soon as|once|when) we(?:'re| are) (?:done|finished|off the (?:phone|line|call))"
    r"(?: here)?|after (?:this|the) call|the hour)\b",
    re.I,
)


def _number(words: str) -> str:
    """ "forty eight" → "48", "two" → "2", "seven" → "7"; other text unchanged."""
    parts = words.lower().replace("-", " ").split()
    if not parts or not all(p in _NUMBER_WORDS or p in _TENS for p in parts):
        return words
    total = 0
    for p in parts:
        total += _TENS.get(p, _NUMBER_WORDS.get(p, 0))
    return str(total)


def normalise_deadline(deadline: str) -> str:
    """ "within forty eight hours" → "within 48 hours"; "right after we hang up", "as soon as
    we're done here" → "after the call"; spoken numbers as digits, a clock time with its colon
    ("by eight thirty" → "by 8:30")."""
    d = deadline.strip().rstrip(".")
    if re.search(r"hang up|this call|the call|we(?:'re| are) (?:done|finished|off)", d, re.I):
        return "after the call"
    # a clock time said in words: "by eight thirty" → "by 8:30"
    return re.sub(r"\b(1[0-2]|[1-9]) (15|30|45)\b", r"\1:\2", spoken_numbers(d))


def _either(words: Iterable[str]) -> str:
    return "(?:" + "|".join(words) + ")"


# the alternations below are made from the tables above, so a word added there is read here
_TENS_WORD = _either(_TENS)
_UNIT_WORD = _either(w for w, n in _NUMBER_WORDS.items() if 1 <= n <= 9)
_ORDINAL_UNIT = _either(_ORDINAL_UNITS)
_COMPOUND_ORDINAL = re.compile(
    rf"\b(?P<the>the\s+)?(?P<tens>{_TENS_WORD})(?P<sep>[- ])(?P<unit>{_ORDINAL_UNIT})\b", re.I
)
_CARDINAL = re.compile(
    rf"\b((?:{_either(w for w, n in _NUMBER_WORDS.items() if n < 20)}|{_TENS_WORD})"
    rf"(?:[- ]{_UNIT_WORD})?)\b(?![- ]{_ORDINAL_UNIT}\b)",
    re.I,
)


def _ordinal(m: re.Match[str]) -> str:
    """ "the twenty second" and "twenty-second" are a date; "a twenty second wait" is not."""
    if m.group("sep") == " " and not m.group("the"):
        return m.group(0)
    value, suffix = _ORDINAL_UNITS[m.group("unit").lower()]
    return f"{m.group('the') or ''}{_TENS[m.group('tens').lower()] + value}{suffix}"


def spoken_numbers(text: str) -> str:
    """Spoken numbers up to ninety-nine as digits: "forty eight hours" → "48 hours", and
    compound ordinals: "the twenty-second" → "the 22nd" (a single-word ordinal stays a
    word: "first thing in the morning")."""
    text = _COMPOUND_ORDINAL.sub(_ordinal, text)
    return _CARDINAL.sub(lambda m: _number(m.group(1)), text)


#: an amount of money in digits ("$1,240", "45 pounds") or in words ("forty dollars")
AMOUNT: Final = (
    r"[$£€]\d[\d,]*(?:\.\d\d)?|\b\d[\d,]*(?:\.\d\d)?\s+(?:dollars|bucks|pounds|quid|euros)\b"
)
WORD_AMOUNT: Final = (
    r"\b(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|ten|eleven|twelve|fifteen"
    r"|one|two|three|four|five|six|seven|eight|nine)[- ]?)+(?:hundred\s+)?"
    r"(?:dollars|pounds|quid|euros)\b"
)
