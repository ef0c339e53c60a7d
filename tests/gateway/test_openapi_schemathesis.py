"""Schemathesis against the running gateway, checked against its own OpenAPI document.

The gateway runs for real (HTTP on a loopback port, SQLite, in-process queue and workers). Schemathesis
generates valid and invalid requests for every operation of the document and checks each
answer: no 5xx; status codes, content types, headers and bodies as documented; invalid data
refused; device routes refusing calls without (or with a wrong) token. Calls carry the token of
a device registered before the run. Examples are bounded so this stays well under a minute.

The schema is loaded from the same builder the server uses, at import time, and a separate test
checks that ``GET /api/v1/openapi.json`` serves exactly that document. (Loading it from the live
URL inside a fixture needs ``schemathesis.pytest.from_fixture``, which in Schemathesis 4.32 reads
``Node._nodeid``, an attribute pytest 9 no longer has.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from config.settings import Settings
from gateway.openapi import openapi_document
from tests.conftest import base_settings
from tests.support.system import free_port, running_system

MAX_EXAMPLES = 25

# 422 is how the API answers values JSON Schema cannot judge (a NIK's region and birth date,
# a phone number's validity, a text of only spaces, a photo's magic bytes), so schema-valid
# data may be refused with it on the operations that take such values; everywhere else a
# valid request must succeed. 409: a message on a complaint that is still being registered.
SEMANTIC_REFUSALS = ["2xx", "401", "403", "404", "409", "422"]

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "operations": [
            {
                "include-operation-id": ["submitComplaint", "addMessage"],
                "checks": {"positive_data_acceptance": {"expected-statuses": SEMANTIC_REFUSALS}},
            }
        ],
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(Settings(_env_file=None)), config=CONFIG)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The gateway serving on a free port, and the token of one registered device."""
    path: Path = tmp_path_factory.mktemp("schemathesis")
    # With workers: complaints get opened, routed and answered, so /mine shows real replies.
    with running_system(base_settings(path, port=free_port())) as system:
        resp = requests.post(f"{system.url}/api/v1/devices", json={"platform": "android"}, timeout=10)
        resp.raise_for_status()
        yield system.url, resp.json()["device_token"]


def test_served_document_is_the_one_tested(live_api: tuple[str, str]) -> None:
    """GET /api/v1/openapi.json serves the document Schemathesis tests (only the server URL differs)."""
    url, _ = live_api
    served = requests.get(f"{url}/api/v1/openapi.json", timeout=10).json()
    served.pop("servers")
    tested = dict(schema.raw_schema)
    tested.pop("servers")
    assert served == tested


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case: Case, live_api: tuple[str, str]) -> None:
    """Every /api/v1 operation answers as its OpenAPI document says, for valid and invalid requests."""
    url, token = live_api
    case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_ticket_flows_follow_the_documents_links(live_api: tuple[str, str]) -> None:
    """Submitting, then reading and messaging the ticket (OpenAPI links) stays within the document."""
    url, token = live_api

    class TicketFlows(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": url, "headers": {"Authorization": f"Bearer {token}"}, "timeout": 10}

    TicketFlows.run(
        settings=settings(
            max_examples=10, stateful_step_count=5, deadline=None, suppress_health_check=list(HealthCheck)
        )
    )
