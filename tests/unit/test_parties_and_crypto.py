"""Party status state machine and the identity crypto helpers."""

from __future__ import annotations

import base64
import threading

import pytest

from callscope.calls.parties import PartyStatus, transition
from callscope.errors import InvalidState
from callscope.identity.crypto import (
    InvalidJwt,
    hash_password,
    hash_token,
    jwt_decode,
    jwt_encode,
    verify_password,
    verify_token_hash,
)
from callscope.identity.passwords import PasswordPool

S = PartyStatus


@pytest.mark.parametrize(
    "path",
    [
        [S.SETUP, S.PROCEEDING, S.ANSWERED, S.DISCONNECTED],
        [S.SETUP, S.ANSWERED, S.HOLD, S.ANSWERED, S.DISCONNECTED],
        [S.SETUP, S.PROCEEDING, S.ANSWERED, S.GONE],  # left by transfer
        [S.SETUP, S.DISCONNECTED],  # never answered
    ],
)
def test_allowed_paths(path: list[PartyStatus]) -> None:
    status = path[0]
    for nxt in path[1:]:
        status = transition(status, nxt, party_id="p-1")
    assert status is path[-1]


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.DISCONNECTED, S.ANSWERED),
        (S.GONE, S.ANSWERED),
        (S.ANSWERED, S.SETUP),
        (S.PROCEEDING, S.HOLD),
    ],
)
def test_refused_moves(current: PartyStatus, new: PartyStatus) -> None:
    with pytest.raises(InvalidState, match=f"from {current} to {new}"):
        transition(current, new, party_id="p-1")


def test_status_values_are_the_spec_codes() -> None:
    assert [s.value for s in S] == [
        "Setup",
        "Proceeding",
        "Answered",
        "Hold",
        "Gone",
        "Disconnected",
    ]


def test_passwords() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("x", None)
    assert hash_password("same") != hash_password("same")  # salted


async def test_closing_the_password_pool_leaves_no_thread_behind() -> None:
    # a stopped server forks cleanly and exits without a stray thread: the scrypt threads are
    # gone when close() returns, not some time after
    pool = PasswordPool(threads=2)
    stored = await pool.hash("correct horse")
    assert await pool.verify("correct horse", stored)
    workers = [t for t in threading.enumerate() if t.name.startswith("callscope-scrypt")]
    assert workers
    pool.close()
    assert not any(t.is_alive() for t in workers)


def test_token_hashes() -> None:
    digest = hash_token("A1-abc")
    assert len(digest) == 64
    assert verify_token_hash("A1-abc", digest)
    assert not verify_token_hash("A1-abd", digest)


def test_jwt_round_trip_and_rejections() -> None:
    key = b"k" * 32
    token = jwt_encode({"sub": "42", "jti": "x"}, key)
    assert jwt_decode(token, key) == {"jti": "x", "sub": "42"}
    with pytest.raises(InvalidJwt, match="signature"):
        jwt_decode(token, b"other" * 8)
    head, _, sig = token.split(".")
    forged = base64.urlsafe_b64encode(b'{"jti":"x","sub":"43"}').rstrip(b"=").decode()
    with pytest.raises(InvalidJwt, match="signature"):
        jwt_decode(f"{head}.{forged}.{sig}", key)
    with pytest.raises(InvalidJwt, match="well-formed"):
        jwt_decode("a.b", key)
    with pytest.raises(InvalidJwt, match="well-formed"):
        jwt_decode("!!.??.**", key)
    none_alg = jwt_encode({"sub": "42"}, key).split(".")
    none_alg[0] = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    with pytest.raises(InvalidJwt, match="algorithm"):
        jwt_decode(".".join(none_alg), key)
