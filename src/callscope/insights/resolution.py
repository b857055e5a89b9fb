"""Which of the agent's sentences is the call's resolution highlight, pure.

The resolution is the agent's sentence that settles the customer's problem: the act done in
the call ("I've blocked the card"), the plan agreed ("the crew will empty your bin by
Wednesday"), the result reported after a hold ("Thanks for waiting. I've rebooked you…") or
the confirmation that the matter is settled ("that's all sorted"). Every agent sentence said
after the problem is a candidate, scored by a small linear model over what it and its turn (the
agent's utterance it belongs to) say:

* ``turn_commits``: the turn carries a next step the agent or a third party owns (other
  than paperwork);
* ``turn_after_hold``: the turn reports back after a hold ("thanks for waiting");
* ``negated``: the sentence refuses or cannot ("I can't remove it straight away");
* ``confirms``: the sentence says the matter is settled (:func:`confirms`: "that's all
  sorted", "I've processed the refund"; not negated, asked, conditional, hypothetical or
  what ought to have happened);
* ``first_commit_turn``: the turn is the first of the agent's turns that commits.

Paperwork about the call ("I'm sending you a confirmation email now", "I'll text you a
reminder") commits to nothing that settles the problem, so it makes no turn commit.

The weights (``insights/data/resolution.json``) are fitted by ``bench/train_resolution.py``
on the dev calls' gold resolution turns, from the script text and from the recogniser's
output: the calls written blind to these rules at full weight (their authors mark the turn
where the plan that settles the problem is given, often after a hold or a push-back), the
older ones, whose authors knew the rules and marked the agent's first act, at half.

The earlier sentence wins a tie. A candidate with no feature but ``negated`` never wins; when
no candidate has one (nothing planned, reported after a hold or confirmed), the agent's
first act done in the call is the resolution ("I've refunded the second debit"), and
without one there is none. Within the chosen turn the sentence that commits is quoted (else
the report, the act, the confirmation), not a lead-in such as "Not quite." The features read
words only (no timings), so they hold on the recogniser's output: its slips change a verb
more often than the closing words or the thanks for holding.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Final

from callscope.errors import ConfigError
from callscope.insights.clauses import NEGATED
from callscope.insights.types import Sentence

__all__ = [
    "FEATURES",
    "Candidates",
    "ResolutionModel",
    "candidates",
    "confirms",
    "load_model",
    "resolution",
]

#: the features of a candidate sentence, in the order the weights expect
FEATURES: Final = (
    "turn_commits",
    "turn_after_hold",
    "negated",
    "confirms",
    "first_commit_turn",
)
#: the features that speak for a sentence being the resolution (all but ``negated``)
_SPEAKS: Final = tuple(i for i, name in enumerate(FEATURES) if name != "negated")
#: a promise of paperwork about the call rather than its substance: "I'm sending you a
#: confirmation email now", "I'll text you a reminder the day before"
_PAPERWORK: Final = re.compile(
    r"\b(?:send|sending|email|emailing|text|texting|mail|mailing|post|posting)\b[^.;]{0,40}?"
    r"\b(?:confirmation|receipt|reminder|summary|copy|reference|claim number|case number|"
    r"ticket number|details)\b",
    re.I,
)
#: a refusal or an inability: "I can't remove it", "I'm afraid not", "we won't be able to"
_CANNOT: Final = re.compile(r"\b(?:can't|cannot|can not|won't|unable|not able|afraid)\b", re.I)

_SETTLED = (
    r"(?:sorted|set(?!\s+to\b)|done|fixed|resolved|taken care of|good to go|squared away|"
    r"complete|finished)"
)
_CONFIRMED: Final = re.compile(
    r"\b(?:"
    # "that's all sorted", "you're all set", "everything is done", "we're good to go"
    r"(?:you're|you are|we're|we are|that's|that is|that has|it's|it is|it has|this is|"
    r"everything's|everything is|everything has|they're|they are)\s+(?:now\s+|all\s+|now all\s+)?"
    rf"(?:been\s+)?{_SETTLED}\b"
    # "you should be all set", "it should be working now"
    r"|should\s+(?:now\s+)?(?:be\s+)?(?:all\s+)?(?:set|sorted|good to go|working(?: again| now)?)\b"
    # "I've processed the refund", "I have submitted it"
    r"|(?:i've|i have|we've|we have)\s+(?:now\s+|just\s+|already\s+)?(?:processed|completed|"
    r"finali[sz]ed|submitted|sorted(?: out)?|fixed|resolved|cleared|reversed|reinstated|"
    r"reactivated|restored)"
    # "the line is restored", "your account is now unlocked": a state
    r"|(?:is|are|has been|have been)\s+(?:now\s+|all\s+)?(?:fixed|resolved|unlocked|restored|"
    r"reactivated|back (?:up|on|online))"
    # "your refund has been processed", "the fee is now waived": an event, said as done (not
    # "payments are processed on the first")
    r"|(?:has been|have been|(?:is|are) now|(?:is|are) all|was just)\s+(?:now\s+)?(?:refunded|"
    r"updated|processed|credited|waived|approved|reversed|cancell?ed)"
    r"|back up and running|(?:up and )?running again|working again"
    # "Done, it's booked.", "that's confirmed": an arrangement said as made
    r"|(?:it's|it is|that's|that is|you're|you are)\s+(?:all\s+|now\s+)?(?:booked|confirmed|"
    r"arranged|scheduled)(?!\s+(?:for|to|until)\s+(?:cancel|close|end))"
    r")",
    re.I,
)
_CONDITIONAL: Final = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+)?(?:if|unless|once|as soon as|when)\b", re.I
)
_IF: Final = re.compile(r"\b(?:if|unless|once|as soon as|provided)\b", re.I)
_HYPOTHETICAL: Final = re.compile(
    r"\b(?:would|could|might|hopefully|wish|supposed to)\b"
    # what ought to have happened: "the status page should have been updated"
    r"|\b(?:should|ought to)(?:\s+not)?\s+have\b|\bshould've\b",
    re.I,
)
_NEGATED_EXTRA: Final = re.compile(r"\b(?:nothing|yet|no longer|haven't|hasn't|wasn't)\b", re.I)
_AFTER_HOLD: Final = re.compile(
    r"\b(?:thanks|thank you)(?:\s+so much)?\s+(?:for\s+)?(?:waiting|holding|(?:your\s+)?"
    r"patience|bearing with me|hanging on)\b|\bsorry (?:for|about) the wait\b",
    re.I,
)


def confirms(text: str) -> bool:
    """Whether an agent's ``text`` says the matter is settled (see the module docstring),
    vetoes applied to the part of the sentence that says it."""
    if text.rstrip().endswith("?") or _CONDITIONAL.search(text):
        return False  # a question, or "If the photos are clear, you're all set."
    for part in re.split(r"[,;]\s*|\s+(?:but|and|so)\s+", text):
        m = _CONFIRMED.search(part)
        if m is None:
            continue
        before = part[: m.end()]
        if NEGATED.search(before) or _NEGATED_EXTRA.search(part):
            continue
        if _CONDITIONAL.search(part) or _HYPOTHETICAL.search(part) or _IF.search(part):
            continue
        return True
    return False


def _only_thanks(text: str) -> bool:
    """ "Thanks for waiting." and no more: it opens the result, it is not the result."""
    if not _AFTER_HOLD.search(text):
        return False
    return len(_AFTER_HOLD.split(text, maxsplit=1)[-1].strip(" .,!").split()) < 4


def _after_hold(sents: Sequence[Sentence], after: float) -> Sentence | None:
    """The agent's first sentence after a "thanks for waiting" (the hold's result)."""
    for i, s in enumerate(sents):
        if s.speaker == "customer" or s.utterance.start < after or not _AFTER_HOLD.search(s.text):
            continue
        if not _only_thanks(s.text):
            return s  # "Thanks for your patience, I've rebooked you…": the sentence itself
        nxt = next((t for t in sents[i + 1 :] if t.speaker != "customer"), None)
        if nxt is not None and nxt.utterance.id == s.utterance.id:
            return nxt
        return None
    return None


@dataclass(frozen=True, slots=True)
class ResolutionModel:
    """The shipped linear scorer: ``weights`` per :data:`FEATURES`, and ``bias``."""

    weights: tuple[float, ...]
    bias: float

    @classmethod
    def read(cls, path: Path) -> ResolutionModel:
        try:
            data = json.loads(path.read_text())
            names, weights, bias = data["features"], data["weights"], data["bias"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"resolution weights unreadable: {path}: {exc}") from exc
        if tuple(names) != FEATURES or len(weights) != len(FEATURES):
            raise ConfigError(f"resolution weights do not match this version: {path}")
        return cls(tuple(float(w) for w in weights), float(bias))

    def score(self, row: Sequence[float]) -> float:
        return self.bias + sum(w * x for w, x in zip(self.weights, row, strict=True))

    def best(self, rows: Sequence[Sequence[float]]) -> int | None:
        """The index of the highest-scored row (the first on a tie) among those with a
        feature that speaks for a resolution (any but ``negated``: an agent who did,
        promised, reported and confirmed nothing settled nothing); None when there is none."""
        speaks = [k for k, r in enumerate(rows) if any(r[i] for i in _SPEAKS)]
        scores = {k: self.score(rows[k]) for k in speaks}
        return max(speaks, key=lambda k: (scores[k], -k), default=None)


def weights_path() -> Path:
    return Path(str(files("callscope.insights") / "data" / "resolution.json"))


@functools.cache
def load_model() -> ResolutionModel:
    """The packaged weights (read once)."""
    return ResolutionModel.read(weights_path())


@dataclass(frozen=True, slots=True)
class Candidates:
    """The resolution's candidate sentences, their :data:`FEATURES` rows, and what else
    :func:`resolution` needs of them."""

    sentences: list[Sentence]
    rows: list[list[float]]
    #: per sentence, how well it says how the turn settles the problem (see :func:`_quoted`)
    quote_keys: list[tuple[bool, ...]]
    #: the agent's first act done in the call, the resolution when nothing is planned,
    #: reported back or confirmed (an index into :attr:`sentences`)
    fallback: int | None


def candidates(
    sents: Sequence[Sentence],
    done: Sequence[Sentence],
    committed: Sequence[Sentence],
    *,
    after: float = 0.0,
    problem_utterance: int | None = None,
) -> Candidates:
    """The agent's sentences said at or after ``after`` (outside the problem's utterance; a
    bare "thanks for waiting" is none) and one row of :data:`FEATURES` (0/1) each.
    ``done``: the sentences of the agent's acts done in the call, in order; ``committed``:
    those of next steps the agent or a third party owns."""
    ordered = sorted(sents, key=lambda s: s.utterance.start)
    cands = [
        s
        for s in ordered
        if s.speaker != "customer"
        and s.utterance.start >= after
        and s.utterance.id != problem_utterance
        and not _only_thanks(s.text)
    ]
    held = _after_hold(ordered, after)
    first = done[0] if done else None
    # paperwork about the call ("I'm sending you a confirmation email") settles nothing
    committed_ids = {id(s) for s in committed if not _PAPERWORK.search(s.text)}
    per_turn: dict[int, list[Sentence]] = {}
    for s in cands:
        per_turn.setdefault(s.utterance.id, []).append(s)
    commits = {u for u, mates in per_turn.items() if any(id(m) in committed_ids for m in mates)}
    first_commit = next((s.utterance.id for s in cands if s.utterance.id in commits), None)
    rows = []
    keys: list[tuple[bool, ...]] = []
    for s in cands:
        mates = per_turn[s.utterance.id]
        said = confirms(s.text)
        refused = bool(_CANNOT.search(s.text))
        rows.append(
            [
                float(s.utterance.id in commits),
                float(any(m is held or _AFTER_HOLD.search(m.text) for m in mates)),
                float(refused),
                float(said),
                float(s.utterance.id == first_commit),
            ]
        )
        keys.append(
            (
                id(s) in committed_ids,
                s is held,
                s is first,
                said,
                not refused and len(s.text.split()) >= 4,
            )
        )
    fallback = next((i for i, s in enumerate(cands) if s is first), None)
    return Candidates(cands, rows, keys, fallback)


def resolution(
    sents: Sequence[Sentence],
    done: Sequence[Sentence],
    committed: Sequence[Sentence],
    *,
    after: float = 0.0,
    problem_utterance: int | None = None,
    model: ResolutionModel | None = None,
) -> Sentence | None:
    """The resolution highlight's sentence (see the module docstring), None when the agent
    did, planned, reported and confirmed nothing after the problem."""
    found = candidates(sents, done, committed, after=after, problem_utterance=problem_utterance)
    best = (model or load_model()).best(found.rows)
    if best is None:
        best = found.fallback
    return None if best is None else found.sentences[_quoted(found, best)]


def _quoted(found: Candidates, best: int) -> int:
    """The sentence of the chosen turn that says how the problem is settled: the one that
    commits, else the report after the hold, else the first act, else a confirmation; not a
    refusal nor a few words of lead-in ("Not quite.", "Here's the plan."). The model chooses
    the turn; within it, sentences share most features, and the first is often the
    lead-in. The model's own choice wins a tie, then the earlier sentence."""
    turn = found.sentences[best].utterance.id
    mates = [i for i, s in enumerate(found.sentences) if s.utterance.id == turn]
    return max(mates, key=lambda i: (found.quote_keys[i], i == best, -i))
