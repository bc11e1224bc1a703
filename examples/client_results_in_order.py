"""Replicas finish out of order; ``results_in_order=True`` gives the results in input order anyway
(seed 000, with shorter sleeps)."""

from __future__ import annotations

import random
import time

from docwire import BaseDoc, Client, DocList, Executor, Flow, requests


class TextDoc(BaseDoc):
    text: str = ""


class RandomSleepExecutor(Executor):
    @requests
    def foo(self, **kwargs: object) -> None:
        time.sleep(random.uniform(0.01, 0.13))


def main() -> None:
    flow = Flow().add(uses=RandomSleepExecutor, replicas=3)
    input_text = [f"ordinal-{i}" for i in range(180)]
    input_da = DocList[TextDoc]([TextDoc(text=t) for t in input_text])
    with flow:
        c = Client(port=flow.port, protocol=flow.protocol)
        arrival: list[str] = []
        c.post("/", inputs=input_da, request_size=10, on_done=lambda r: arrival.append(r.docs[0].text))
        output_da = c.post("/", inputs=input_da, request_size=10, results_in_order=True, return_type=DocList[TextDoc])
        for input, output in zip(input_da, output_da, strict=True):
            assert input.text == output.text
        print("first texts, as they arrived:", arrival[:6])
        print("first texts, in order:", [d.text for d in output_da[::10]][:6])
        c.close()


if __name__ == "__main__":
    main()
