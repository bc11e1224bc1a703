"""Parameters validated into an endpoint's model before its method runs (``docwire.runtime.parameters``)."""

from __future__ import annotations

import pytest
from docarray import DocList
from pydantic import BaseModel

from docwire.executor.base import Executor
from docwire.executor.decorators import requests
from docwire.runtime.parameters import endpoint_parameters
from docwire_contract.doc_types import Document
from docwire_contract.errors import BadRequest, ParametersSchemaError
from docwire_contract.status_map import http_status_of


class Limits(BaseModel):
    limit: int
    labels: list[str] = []


class Typed(Executor):
    @requests(on="/typed")
    def typed(self, docs: DocList[Document], parameters: Limits, **kwargs: object) -> None:
        pass

    @requests(on="/plain")
    def plain(self, docs: DocList[Document], parameters: dict[str, object], **kwargs: object) -> None:
        pass


def test_a_model_is_validated_with_its_defaults() -> None:
    validated = endpoint_parameters(Typed.endpoints["/typed"], {"limit": "3", "extra": 1})
    assert validated == Limits(limit=3)


def test_a_dict_is_passed_as_it_is() -> None:
    given = {"limit": "ten"}
    assert endpoint_parameters(Typed.endpoints["/plain"], given) is given


def test_every_failing_field_is_named_with_what_it_got() -> None:
    with pytest.raises(ParametersSchemaError) as caught:
        endpoint_parameters(Typed.endpoints["/typed"], {"labels": ["a", 2, "x" * 100]})
    assert str(caught.value) == (
        "the parameters do not fit Limits of endpoint '/typed': parameters.limit: Field required; "
        "parameters.labels.1: Input should be a valid string (got 2)"
    )
    with pytest.raises(ParametersSchemaError, match=r"parameters\.limit: .* \(got 'xxxx[x]*\.\.\.\)$"):
        endpoint_parameters(Typed.endpoints["/typed"], {"limit": "x" * 100})
    assert isinstance(caught.value, BadRequest)
    assert http_status_of(caught.value) == 422
