"""A dict returned by an endpoint comes back in parameters['__results__'] (seed 003)."""

from __future__ import annotations

from docwire import Deployment, Executor, requests


class MyExec(Executor):
    @requests(on="/status")
    def status(self, **kwargs: object) -> dict[str, int]:
        return {"internal_parameter": 20}


def main() -> None:
    with Deployment(uses=MyExec, name="my_executor") as dep:
        parameters = dep.post(on="/status", return_responses=True)[0].to_dict()["parameters"]
        print(parameters)
        assert parameters == {"__results__": {"my_executor/rep-0": {"internal_parameter": 20.0}}}


if __name__ == "__main__":
    main()
