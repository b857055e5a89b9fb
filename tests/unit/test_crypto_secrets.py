"""Secrets made for ids and passwords."""

from __future__ import annotations

from callscope.identity.crypto import new_secret


def test_a_secret_never_starts_with_a_dash_and_keeps_its_length() -> None:
    # a dash would start one in 64 draws: 5000 draws without one cannot happen by chance
    made = [new_secret(12) for _ in range(5000)]
    assert not [m for m in made if m.startswith("-")]
    assert {len(m) for m in made} == {16}
    assert len(set(made)) == len(made)
