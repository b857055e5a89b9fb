"""The insights bench's step matching (bench/insights.py): the measure the README's figures
come from, so a change to it shows here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "insights.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_insights", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_insights", module)
    spec.loader.exec_module(module)
    return module


def test_spoken_numbers_match_digits_and_a_step_matches_one_gold_step_once() -> None:
    bench = _bench()
    gold = [
        ("third party", "Kessler Textiles to ship the linen within forty-eight hours"),
        ("agent", "Agent to email the customer the revised quote before five today"),
    ]
    found = [
        ("third party", "Kessler to ship the fabric within 48 hours."),
        ("agent", "Email the customer the revised quote before 5 today."),
        ("agent", "Email the customer the quote."),  # the same gold step, matched once only
        ("customer", "Customer to ship the linen within forty-eight hours."),  # owner differs
    ]
    lines, missed = bench.score(found, gold)
    assert [hit for hit, _owner, _text in lines] == [True, True, False, False]
    assert missed == []
    # without owners the text alone decides
    lines, _ = bench.score(found[3:], gold, owners=False)
    assert lines[0][0]
    assert not bench.matches("Email the customer tomorrow.", "Ring the customer with an update")
    # "ring" and "phone" are read as "call", which is how callscope writes them
    assert bench.matches(
        "Call the customer on Friday the tenth to make sure they are happy with the work.",
        "Agent to ring the customer on Friday the tenth to check he is happy with the wrap",
    )
    # a word's "'s" is dropped on both sides: "the new machine's up" shares "machine"
    assert bench.matches(
        "Call the customer on Thursday to make sure the new machine's up.",
        "Agent to call the customer on Thursday to check the machine is working",
    )
