"""Lists of clauses joined by commas, pure: "Priya calls you by Friday, the crew patches
Kingsway Avenue by Tuesday, you'll get the form from me" (a recap, often) is three clauses,
each with a subject and a verb of its own. A comma after a lead-in ("On the slow data, I've
raised…") or after what another clause depends on ("…and if a supplement has been added, I'll
remove it") opens no item. Used by :mod:`callscope.insights.clauses` and
:mod:`callscope.insights.nextsteps`.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

__all__ = ["is_list", "listed"]

#: a name of one or two capitalised words ("Lucía", "Vital Statistics")
_NAME = r"(?-i:[A-Z])[^\W\d_]+(?:\s+(?-i:[A-Z])[^\W\d_]+)?"
#: a subject and its verb opening a clause
_SUBJECT_VERB = (
    rf"(?:(?:i|we|you|he|she|they|{_NAME})(?:'ll|'re|'s|'ve|'m)|(?:i|we|you|he|she|they|"
    rf"{_NAME}|(?:the|your|our|my|his|her|their)\s+(?:[\w'-]+\s+){{0,3}}?[\w'-]+)"
    r"\s+(?:will|is|are|has|have|gets?|goes|(?-i:[a-z]+)s))\b"
)
#: a comma that opens the next clause of a list: "Priya calls you by Friday, the crew patches
#: Kingsway Avenue by Tuesday, you'll get the form from me"
_LIST_ITEM = re.compile(rf",\s+(?:and\s+)?(?={_SUBJECT_VERB})", re.I)
_CLAUSE = re.compile(_SUBJECT_VERB, re.I)
#: what makes a clause part of another: "if a supplement has been added, I'll remove it"
_SUBORDINATE = re.compile(
    r"\b(?:if|since|because|when|once|unless|until|whether|though|although|while|as soon as)\b",
    re.I,
)


@lru_cache(maxsize=4096)
def _list_commas(sentence: str) -> tuple[int, ...]:
    """Where the commas of a list of clauses are in ``sentence``: each opens a clause with a
    subject and a verb of its own and closes one that is neither a lead-in ("On the slow data,
    I've raised…") nor what another clause depends on ("…and if a supplement has been added,
    I'll remove it")."""
    out: list[int] = []
    start = 0
    for m in _LIST_ITEM.finditer(sentence):
        before = sentence[start : m.start()]
        stretch = before.rsplit(",", 1)[-1]
        if _CLAUSE.search(before) and not _SUBORDINATE.search(stretch):
            out.append(m.start())
        start = m.end()
    return tuple(out)


def is_list(sentence: str) -> bool:
    """Whether ``sentence`` is a list of clauses joined by commas (a recap, often): three or
    more, each with a subject and a verb of its own."""
    return len(_list_commas(sentence)) >= 2


def listed(part: str) -> list[str]:
    """``part`` cut at its list commas when it is a list (:func:`is_list`)."""
    cuts = _list_commas(part)
    if len(cuts) < 2:
        return [part]
    bounds = [0, *cuts, len(part)]
    pieces = [part[a:b] for a, b in itertools.pairwise(bounds)]
    return [re.sub(r"^,\s+(?:and\s+)?", "", p) for p in pieces if p.strip(" ,;.")]
