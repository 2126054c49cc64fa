"""Access tokens and their rotating signing keys, shared through the state: replicas agree, old keys age out."""

from __future__ import annotations

import asyncio

from claudewire.gateway.downstream.clients import ClientGate, Member, MemberTicket
from claudewire.gateway.downstream.signin.tokens import Keyring
from claudewire.state import ClientLimits, MemoryState

PERIOD = 900


class Wall:
    """An injected wall clock."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_minted_by_one_replica_verifies_on_another_until_it_expires() -> None:
    """Two keyrings on one state sign with the same epoch key; a token is good until its exp, then refused."""
    wall = Wall()
    state = MemoryState(wall=wall)
    a = Keyring(state, issuer="https://gw", period=PERIOD, wall=wall)
    b = Keyring(state, issuer="https://gw", period=PERIOD, wall=wall)

    async def main() -> None:
        await a.refresh()
        await b.refresh()
        token, expires = await a.mint("sub-1", "engineering", "sid-1", PERIOD)
        claims = b.verify(token)
        assert claims is not None and (claims.sub, claims.group, claims.sid) == ("sub-1", "engineering", "sid-1")
        assert b.verify(token[:-3] + "AAA") is None  # a forged signature
        assert Keyring(state, issuer="https://other", period=PERIOD, wall=wall).verify(token) is None
        wall.now = expires + 1
        assert b.verify(token) is None

    asyncio.run(main())


def test_keys_rotate_and_old_keys_verify_until_they_age_out() -> None:
    """Each epoch signs with a new key (kid = epoch); a token of the previous epoch still verifies after the
    rotation, and the key itself is dropped once nothing it signed can still be valid."""
    wall = Wall()
    state = MemoryState(wall=wall)
    ring = Keyring(state, issuer="https://gw", period=PERIOD, wall=wall)

    async def main() -> None:
        await ring.refresh()
        first = ring.epoch()
        wall.now += PERIOD - 100  # late in the epoch
        old, _ = await ring.mint("sub", "g", "sid", PERIOD)
        wall.now += 110  # the next epoch: its key was made ahead of time
        assert first + 1 in ring._keys
        new, _ = await ring.mint("sub", "g", "sid", PERIOD)
        assert old.split(".")[0] != new.split(".")[0]  # another kid in the header
        assert ring.verify(old) is not None and ring.verify(new) is not None
        wall.now += 3 * PERIOD
        await ring.refresh()
        assert first not in ring._keys  # aged out
        assert ring.verify(old) is None  # what it signed fails with it (and had expired anyway)

    asyncio.run(main())


def test_a_member_is_labelled_by_group_and_counted_per_user() -> None:
    """A Member is its group's name (the label); its limits are its own bucket; its ticket settles the inner one;
    a revoked session is refused before anything is counted."""
    state = MemoryState()
    gate = ClientGate((), state, groups=["engineering"])
    assert "engineering" in gate.clients
    alice = Member("engineering", ClientLimits("engineering/aaa", requests_per_minute=1), None, "signin:rv:s1")
    bob = Member("engineering", ClientLimits("engineering/bbb", requests_per_minute=1), None, "signin:rv:s2")
    assert alice == "engineering" and str(alice) == "engineering"

    async def main() -> None:
        first = await gate.check(alice, "messages", b"POST", b'{"model":"m","max_tokens":10}')
        assert isinstance(first.ticket, MemberTicket) and first.ticket.client == "engineering"
        assert first.ticket.inner is not None and first.ticket.inner.client == "engineering/aaa"
        gate.settle(first.ticket, 5)
        assert (await gate.check(alice, "messages", b"POST", b"{}")).outcome == "rate_limited"
        assert (await gate.check(bob, "messages", b"POST", b"{}")).outcome == "admitted"  # bob's own bucket
        await state.kv_put("signin:rv:s2", b"1", 60)
        refused = await gate.check(bob, "messages", b"POST", b"{}")
        assert refused.refusal is not None and "revoked" in refused.refusal.failure.message

    asyncio.run(main())
