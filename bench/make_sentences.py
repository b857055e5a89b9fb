"""Build ``bench/data/insights/sentences.jsonl``: the labelled commitment / non-commitment
sentence set the next-steps classifier is trained (``train``) and checked (``test``) on.

Sources (all text written for callscope; no third-party licence):

* ``sentences_test.tsv`` — hand-written, the held-out ``test`` split (never trained or tuned on);
* ``sentences_train_hand.tsv`` — hand-written, ``train``;
* templates below — the same actions and objects in committing frames (first-person future,
  present progressive, past with a consequence, third party, customer-owned, conditional
  promise) and in the frames that are not commitments (in-call procedure, hypotheticals,
  negations, complaints about broken promises, questions), ``train``. Sharing the actions
  between both sides makes the classifier learn the frame, not the topic.

TSV columns: label (1 = a next step), speaker, owner (agent, customer, third party; empty
for 0), text. Run: ``python bench/make_sentences.py``.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "insights"

#: (base, -ing, past participle, object)
ACTIONS = [
    ("send", "sending", "sent", "the return label"),
    ("email", "emailing", "emailed", "the updated quote"),
    ("refund", "refunding", "refunded", "the delivery fee"),
    ("credit", "crediting", "credited", "fifteen dollars to the account"),
    ("schedule", "scheduling", "scheduled", "a repair visit"),
    ("book", "booking", "booked", "an engineer"),
    ("cancel", "cancelling", "cancelled", "the duplicate order"),
    ("replace", "replacing", "replaced", "the damaged headset"),
    ("upgrade", "upgrading", "upgraded", "the shipping to express"),
    ("reset", "resetting", "reset", "the voicemail PIN"),
    ("activate", "activating", "activated", "the new SIM card"),
    ("mail", "mailing", "mailed", "a paper statement"),
    ("file", "filing", "filed", "the insurance paperwork"),
    ("order", "ordering", "ordered", "a new charger"),
    ("escalate", "escalating", "escalated", "the billing dispute"),
    ("reverse", "reversing", "reversed", "the overdraft fee"),
]
DEADLINES = [
    "today", "tomorrow", "by Friday", "this afternoon", "within 48 hours", "next week",
    "by the end of the day", "on Monday", "within three business days", "tonight",
]  # fmt: skip
CONSEQUENCES = [
    "you'll see it on your next bill",
    "you should get a confirmation email shortly",
    "it will show up in three to five days",
    "you'll get a text when it's done",
]
TEAMS = [
    "The billing team", "Our returns department", "The technician", "The warehouse",
    "Our support engineers", "A specialist", "The courier", "My supervisor",
]  # fmt: skip
CUSTOMER = [
    ("I'll", "tonight"), ("I'm going to", "tomorrow"), ("I will", "by Friday"),
]  # fmt: skip
CUSTOMER_ACTIONS = [
    "send you the photos", "restart the modem", "call my bank", "upload the receipt",
    "print the label", "check the serial number", "reply to the email", "sign the form",
]  # fmt: skip
IN_CALL = [
    "Let me check the {o} for you.",
    "I'm just looking at the {o} now.",
    "I'll need to verify a few details before I {b} {o}.",
    "Bear with me while I pull up the {o}.",
]
HYPOTHETICAL = [
    "If you had the premium plan, we would {b} {o} for free.",
    "If it were up to me, I would {b} {o}.",
    "We could {b} {o} if you were a business customer.",
]
NEGATION = [
    "I can't {b} {o} from here.",
    "We won't {b} {o} {d}.",
    "I'm not able to {b} {o}.",
    "Unfortunately we will not {b} {o}.",
]
COMPLAINT = [
    "You said you would {b} {o} and you never did.",
    "The last agent promised to {b} {o} {d}, and nothing happened.",
    "I was told someone would {b} {o}, but it never happened.",
]
QUESTION = [
    "Can you {b} {o} {d}?",
    "Will you {b} {o}?",
    "Could someone {b} {o}?",
]


def _tsv(name: str, split: str) -> list[dict[str, object]]:
    out = []
    for line in (DATA / name).read_text().splitlines():
        if not line.strip():
            continue
        label, speaker, owner, text = line.split("\t")
        out.append(
            {"text": text, "speaker": speaker, "label": int(label), "owner": owner or None,
             "split": split, "source": "hand"}
        )  # fmt: skip
    return out


def _templated(rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []

    def add(text: str, speaker: str, label: int, owner: str | None, form: str) -> None:
        rows.append(
            {"text": text, "speaker": speaker, "label": label, "owner": owner, "split": "train",
             "source": f"template:{form}"}
        )  # fmt: skip

    for (b, ing, past, o), d in zip(ACTIONS, itertools.cycle(DEADLINES), strict=False):
        add(f"I'll {b} {o} {d}.", "agent", 1, "agent", "future")
        add(f"I'm {ing} {o} now.", "agent", 1, "agent", "progressive")
        add(f"I've {past} {o}, and {rng.choice(CONSEQUENCES)}.", "agent", 1, "agent", "past")
        add(f"{rng.choice(TEAMS)} will {b} {o} {d}.", "agent", 1, "third party", "third")
        cond = rng.choice(["If it hasn't arrived", "If you don't hear from us"])
        add(f"{cond} {d}, I'll {b} {o} myself.", "agent", 1, "agent", "conditional")
        add(rng.choice(IN_CALL).format(b=b, o=o), "agent", 0, None, "in-call")
        add(rng.choice(HYPOTHETICAL).format(b=b, o=o), "agent", 0, None, "hypothetical")
        add(rng.choice(NEGATION).format(b=b, o=o, d=d), "agent", 0, None, "negation")
        add(rng.choice(COMPLAINT).format(b=b, o=o, d=d), "customer", 0, None, "complaint")
        add(rng.choice(QUESTION).format(b=b, o=o, d=d), "customer", 0, None, "question")
    for (lead, d), act in zip(itertools.cycle(CUSTOMER), CUSTOMER_ACTIONS, strict=False):
        add(f"{lead} {act} {d}.", "customer", 1, "customer", "customer")
        add(f"Please {act.replace('you ', 'us ').replace('my ', 'your ')} {d}.", "agent", 1,
            "customer", "imperative")  # fmt: skip
    return rows


def main() -> None:
    rng = random.Random(24)
    rows = _tsv("sentences_test.tsv", "test") + _tsv("sentences_train_hand.tsv", "train")
    rows += _templated(rng)
    seen: set[str] = set()
    with (DATA / "sentences.jsonl").open("w") as f:
        for row in rows:
            key = str(row["text"]).lower()
            if key in seen:
                continue
            seen.add(key)
            f.write(json.dumps(row) + "\n")
    by = {
        (s, lab): sum(1 for r in rows if r["split"] == s and r["label"] == lab)
        for s in ("train", "test")
        for lab in (0, 1)
    }
    print(f"{len(seen)} sentences: " + ", ".join(f"{s} {lab}: {n}" for (s, lab), n in by.items()))


if __name__ == "__main__":
    main()
