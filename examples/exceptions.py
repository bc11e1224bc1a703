"""An exception raised in an executor travels back in the reply; the executor keeps serving (seed 003)."""

from __future__ import annotations

from docwire import Deployment, Executor, ExecutorError, requests


class MyExecutor(Executor):
    @requests(on="/fail")
    def foo(self, **kwargs: object) -> None:
        raise NotImplementedError("no time for it")

    @requests(on="/ok")
    def ok(self, **kwargs: object) -> dict[str, bool]:
        return {"ok": True}


def main() -> None:
    with Deployment(uses=MyExecutor) as dep:
        failure: ExecutorError | None = None
        try:
            dep.post(on="/fail")
        except ExecutorError as error:
            failure = error
        assert failure is not None, "the error did not come back"
        print(failure.description)
        print("".join(failure.stacks[-2:]))
        assert failure.name == "NotImplementedError"
        assert failure.executor == "executor"
        assert dep.post(on="/ok", return_responses=True)[0].parameters["__results__"]["executor/rep-0"] == {"ok": True}


if __name__ == "__main__":
    main()
