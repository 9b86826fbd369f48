"""The LLM client's connections in small pools (transport.AsyncSpreadTransport, issue #23):
httpcore's pool costs more per call the more connections it holds, so 64 calls in flight
go through 8 pools of 8. Not a timed test: where requests go, and that every count returns."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from arxivfilter.transport import POOL_SIZE, AsyncSpreadTransport


class _Pool(httpx.AsyncBaseTransport):
    """A stand-in pool: answers at once, or raises when told to."""

    def __init__(self) -> None:
        self.requests = 0
        self.fail = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.fail:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, stream=httpx.ByteStream(b'{"ok": true}'))


def test_few_connections_keep_one_plain_pool() -> None:
    plain = AsyncSpreadTransport.for_connections(httpx.Limits(max_connections=POOL_SIZE))
    assert isinstance(plain, httpx.AsyncHTTPTransport)
    spread = AsyncSpreadTransport.for_connections(
        httpx.Limits(max_connections=66, max_keepalive_connections=64)
    )
    assert isinstance(spread, AsyncSpreadTransport)
    assert len(spread._pools) == 9  # ceil(66 / 8)


def test_open_responses_are_spread_and_every_count_comes_back() -> None:
    pools: list[_Pool] = []

    def make() -> _Pool:
        pools.append(_Pool())
        return pools[-1]

    spread = AsyncSpreadTransport(make, 4)

    async def go() -> None:
        async with httpx.AsyncClient(transport=spread, base_url="http://llm.test") as client:
            # eight responses held open at once: two in each pool
            held = [
                await client.send(client.build_request("GET", "/"), stream=True) for _ in range(8)
            ]
            assert [p.requests for p in pools] == [2, 2, 2, 2]
            assert spread._open == [2, 2, 2, 2]
            for r in held[:4]:
                await r.aread()
                await r.aclose()
            assert sum(spread._open) == 4
            for r in held[4:]:
                await r.aclose()
            assert spread._open == [0, 0, 0, 0]
            # a pool whose request fails gives its count back too
            pools[0].fail = True
            with pytest.raises(httpx.ConnectError):
                await client.get("/")
            assert spread._open == [0, 0, 0, 0]
            pools[0].fail = False
            # read whole, as the SDK reads a reply: counted until closed, then back to 0
            replies = await asyncio.gather(*(client.get("/") for _ in range(6)))
            assert all(r.json() == {"ok": True} for r in replies)
            assert spread._open == [0, 0, 0, 0]

    asyncio.run(go())
