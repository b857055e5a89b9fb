"""The pure rules of ingest authentication: which profile a stream's claim names, where the
upgrade and the Start disagree, and the secret hasher's single flight."""

from __future__ import annotations

import asyncio
import threading

import pytest

from callscope.errors import IngestRefused
from callscope.ingest.auth import ProfileView, SecretHasher, StreamGrant, disagreements

QUEUE = ProfileView(1, "70000001", "88800012", "QUEUE", 4401, "88800010")
CAMPAIGN = ProfileView(2, "70000001", "88800012", "CAMPAIGN", 77, "88800010")


@pytest.mark.parametrize(
    ("claim", "key"),
    [
        ({}, None),
        ({"productType": "Queue", "productId": "4401"}, None),  # Start's title case
        ({"productType": "queue", "productId": 4401, "subaccountId": "88800012"}, None),
        ({"productId": "+4401"}, "productId"),
        ({"productId": "4401 "}, None),  # whitespace is not a different product
        ({"productId": "04401"}, "productId"),
        ({"subaccountId": "88800013"}, "subaccountId"),
        ({"rcAccountId": "80000001"}, "rcAccountId"),
        ({"productType": "Manual"}, "productType"),
        ({"productId": True}, "productId"),  # a wrong type never matches
        ({"productId": ["4401"]}, "productId"),
        ({"accountId": "anything"}, None),  # RingCX's main account is not checked
    ],
)
def test_a_profile_holds_what_the_stream_claims(claim: dict[str, object], key: str | None) -> None:
    assert QUEUE.disagreement(claim) == key


def test_narrowing_picks_the_one_profile_or_refuses() -> None:
    grant = StreamGrant((QUEUE, CAMPAIGN))
    assert grant.narrow({"productType": "Campaign"}).profile() == CAMPAIGN
    with pytest.raises(IngestRefused) as ambiguous:
        grant.narrow({"subaccountId": "88800012"}).profile()
    assert ambiguous.value.reason == "claim_ambiguous"
    with pytest.raises(IngestRefused) as mismatch:
        grant.narrow({"productId": "9"})
    assert (mismatch.value.status, mismatch.value.reason) == (403, "claim_mismatch")
    assert "productId" in mismatch.value.message
    assert StreamGrant().narrow({"productId": "9"}).profile() is None  # unauthenticated lab
    assert not StreamGrant().authenticated


def test_the_upgrade_and_the_start_must_agree_on_what_is_stored() -> None:
    query = {"callId": "c1", "agentId": "5501", "productType": "Queue", "secret": "x"}
    assert disagreements(query, {"callId": "c1", "productType": "QUEUE", "ani": "1"}) == []
    assert disagreements(query, {"callId": "c2", "agentId": 5502}) == ["callId", "agentId"]
    assert disagreements({}, {"callId": "c2"}) == []  # said in one place only: fine


async def test_concurrent_streams_with_one_secret_hash_it_once() -> None:
    hasher = SecretHasher(b"0123456789abcdef")
    calls = 0
    real = hasher.hash_now

    def counted(secret: str) -> str:
        nonlocal calls
        calls += 1
        return real(secret)

    hasher.hash_now = counted  # type: ignore[method-assign]
    try:
        results = await asyncio.gather(*(hasher.hash("s3cr3t-demo") for _ in range(50)))
        assert len(set(results)) == 1
        assert calls == 1
        assert await hasher.hash("s3cr3t-demo") == results[0]  # cached
        assert calls == 1
        other = await hasher.hash("another-secret")
        assert other != results[0]
        assert calls == 2
        assert results[0].startswith("v1$")
        assert "s3cr3t" not in results[0]
    finally:
        hasher.close()


def test_the_hash_is_keyed_by_the_installation_salt() -> None:
    one, two = SecretHasher(b"salt-one-salt-one"), SecretHasher(b"salt-two-salt-two")
    assert one.hash_now("s3cr3t-demo") != two.hash_now("s3cr3t-demo")
    with pytest.raises(RuntimeError, match="salt"):
        SecretHasher().hash_now("s3cr3t-demo")


async def test_closing_the_hasher_leaves_no_thread_behind() -> None:
    # a stopped server forks cleanly and exits without a stray thread: the hashing thread is
    # gone when close() returns, not some time after
    hasher = SecretHasher(b"0123456789abcdef")
    await hasher.hash("s3cr3t-one")
    workers = [t for t in threading.enumerate() if t.name.startswith("callscope-secrets")]
    assert workers
    hasher.close()
    assert not any(t.is_alive() for t in workers)
