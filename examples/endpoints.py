"""Binding methods to endpoints: a list of endpoints, a single one, the default binding (seed 003)."""

from __future__ import annotations

import asyncio

from docwire import Deployment, Executor, requests


class RequestExecutor(Executor):
    @requests(on=["/index", "/search"])  # foo serves /index and /search
    def foo(self, **kwargs: object) -> dict[str, str]:
        return {"called": "foo"}

    @requests(on="/other")  # bar serves /other
    async def bar(self, **kwargs: object) -> dict[str, str]:
        await asyncio.sleep(0.01)
        return {"called": "bar"}

    @requests  # the default: every endpoint nothing else claims
    def fallback(self, **kwargs: object) -> dict[str, str]:
        return {"called": "fallback"}


def main() -> None:
    with Deployment(uses=RequestExecutor) as dep:
        for endpoint in ("/index", "/other", "/search", "/blah"):
            response = dep.post(on=endpoint, inputs=[], return_responses=True)[0]
            called = response.parameters["__results__"]["executor/rep-0"]["called"]
            print(f"{endpoint} -> {called}")
            assert called == {"/index": "foo", "/search": "foo", "/other": "bar"}.get(endpoint, "fallback")


if __name__ == "__main__":
    main()
