"""Schemathesis against the running gateway, checked against its own OpenAPI document.

The gateway runs for real (HTTP on a loopback port, SQLite, in-process queue and workers). Schemathesis
generates valid and invalid requests for every operation of the document and checks each
answer: no 5xx; status codes, content types, headers and bodies as documented; invalid data
refused; device routes refusing calls without (or with a wrong) token; and nothing logged at ERROR
(no unhandled exception). Calls carry the token of a device registered before the run. Examples
are bounded so this stays well under a minute.

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
from normalizer.tickets import new_ticket
from tests.conftest import base_settings
from tests.support.cases import seed_case
from tests.support.error_logs import error_records, no_errors
from tests.support.system import SystemThread, free_port, running_system

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
def live_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemThread]:
    """The gateway serving on a free port."""
    path: Path = tmp_path_factory.mktemp("schemathesis")
    # With workers: complaints get opened, routed and answered, so /mine shows real replies.
    with running_system(base_settings(path, port=free_port())) as system:
        yield system


@pytest.fixture(autouse=True)
def nothing_logged_at_error(live_system: SystemThread) -> Iterator[None]:
    """part-hostile: besides no 5xx, no unhandled exception (nor a handler's own bug report) was logged."""
    with error_records() as errors:
        yield
    no_errors(errors)


@pytest.fixture(scope="module")
def live_api(live_system: SystemThread) -> tuple[str, str]:
    """The gateway's URL and the token of one registered device."""
    resp = requests.post(f"{live_system.url}/api/v1/devices", json={"platform": "android"}, timeout=10)
    resp.raise_for_status()
    return live_system.url, resp.json()["device_token"]


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


@pytest.mark.parametrize("public", [True, False], ids=["published", "unpublished"])
def test_a_closed_case_with_its_answer_matches_the_document(
    live_system: SystemThread, live_api: tuple[str, str], public: bool
) -> None:
    """part-manual: publicStatus of a closed case (answer published or not) is as documented."""
    url, _ = live_api
    ticket = new_ticket()
    assert live_system.system is not None
    with live_system.system.runtime.sf.begin() as session:
        seed_case(session, ticket, "selesai", opd_code="pupr", answer_text="Sudah diperbaiki.", answer_public=public)
    operation = schema["/api/v1/complaints/{ticket}"]["GET"]
    response = operation.Case(path_parameters={"ticket": ticket}).call_and_validate(base_url=url, timeout=10)
    answer = response.json()["answer"]
    assert answer == {"published": public, "text": "Sudah diperbaiki." if public else None, "sent_on": "sms"}
