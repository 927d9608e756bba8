"""What the graph shows about identity, end to end: a sandbox whose truth the test knows.

A stack of its own (sandbox, PostgreSQL, sync, gateway): the session's shared stack is
changed by other tests (live links, unlinks), and the report's counts must be exact. The
sandbox holds the named customers and a small generated set; the truth is worked out here
from the sandbox's own records, independently of the sync: records sharing a normalised
email or phone, or naming each other (a CRM contact's billing id, a support user's CRM id),
belong to one person, and every CRM contact anchors a customer of its own.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.cli.environment import with_sandbox_port
from app.demo.runner import run_sync
from app.main import create_app
from app.settings import Settings
from kernel.models import Source
from kernel.normalize import normalize_email, normalize_phone
from sandbox.data.generate import generate_dataset
from sandbox.records import Dataset
from sandbox.server import create_sandbox_app
from tests.conftest import scratch_database
from tests.e2e.harness import role_tokens, serve, stop
from tests.e2e.resilience_harness import for_shared_stack

pytestmark = pytest.mark.e2e

SEED, PEOPLE = 42, 40
REGION = "US"


@dataclass(frozen=True)
class Graph:
    gateway_url: str
    http: httpx.AsyncClient
    tokens: dict[str, str]
    dataset: Dataset
    #: What `scv sync` printed when it linked the dataset.
    sync_output: str

    async def data(self, role: str, document: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.gateway_url}/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {self.tokens[role]}", "X-Purpose": "e2e check"}
            if role == "supervisor"
            else {"Authorization": f"Bearer {self.tokens[role]}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result


@pytest.fixture(scope="module")
async def graph(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Graph]:
    dataset = generate_dataset(SEED, PEOPLE)
    sandbox_server, sandbox_task, sandbox_port = await serve(
        create_sandbox_app(seed=SEED, customers=PEOPLE, dataset=dataset)
    )
    data_dir: Path = tmp_path_factory.mktemp("scv-graph")
    async with scratch_database(database_url, "e2e_graph") as url:
        settings = for_shared_stack(
            with_sandbox_port(
                Settings(demo=True, data_dir=data_dir, database_url=SecretStr(url)), sandbox_port
            )
        )
        # The sync as `scv sync` runs it, keeping what it prints.
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            await run_sync(settings)
        gateway_server, gateway_task, gateway_port = await serve(create_app(settings))
        tokens = role_tokens(data_dir, settings, ("agent", "supervisor", "analyst", "ivr"))
        async with httpx.AsyncClient(timeout=10.0) as http:
            yield Graph(
                f"http://127.0.0.1:{gateway_port}", http, tokens, dataset, printed.getvalue()
            )
        await stop(gateway_server, gateway_task)
    await stop(sandbox_server, sandbox_task)


# --- the truth, from the sandbox's records -----------------------------------------------------


@dataclass(frozen=True)
class Record:
    source: Source
    id: str
    email: str | None
    phone: str | None


def records(dataset: Dataset) -> Iterator[Record]:
    for contact in dataset.crm.contacts:
        props = contact.properties
        yield Record(
            Source.CRM,
            contact.id,
            normalize_email(props.get("email")),
            normalize_phone(props.get("phone"), REGION),
        )
    for customer in dataset.billing.customers:
        yield Record(
            Source.BILLING,
            customer.id,
            normalize_email(customer.email),
            normalize_phone(customer.phone, REGION),
        )
    for user in dataset.support.users:
        yield Record(
            Source.SUPPORT,
            str(user.id),
            normalize_email(user.email),
            normalize_phone(user.phone, REGION),
        )


@dataclass(frozen=True)
class Truth:
    customers: int
    links: dict[Source, int]
    standalone: dict[Source, int]
    conflicts: dict[str, int]
    duplicate_pairs: int


def truth(dataset: Dataset) -> Truth:
    """People by union-find over shared keys and cross-references; a customer per CRM contact."""
    found = list(records(dataset))
    parent = {(r.source, r.id): (r.source, r.id) for r in found}

    def root(node: tuple[Source, str]) -> tuple[Source, str]:
        while parent[node] != node:
            node = parent[node]
        return node

    def join(a: tuple[Source, str], b: tuple[Source, str]) -> None:
        if a in parent and b in parent:
            parent[root(a)] = root(b)

    first_with: dict[tuple[str, str], tuple[Source, str]] = {}
    for r in found:
        for kind, value in (("email", r.email), ("phone", r.phone)):
            if value is not None:
                join((r.source, r.id), first_with.setdefault((kind, value), (r.source, r.id)))
    for contact in dataset.crm.contacts:
        billing_id = contact.properties.get("billing_customer_id")
        if billing_id:
            join((Source.CRM, contact.id), (Source.BILLING, billing_id))
    for user in dataset.support.users:
        if user.external_id:
            join((Source.SUPPORT, str(user.id)), (Source.CRM, user.external_id))

    people: dict[tuple[Source, str], list[Record]] = {}
    for r in found:
        people.setdefault(root((r.source, r.id)), []).append(r)
    customers = 0
    pairs = 0
    standalone = dict.fromkeys(Source, 0)
    conflicts = {"email": 0, "phone": 0}
    for group in people.values():
        contacts = sum(1 for r in group if r.source is Source.CRM)
        # Only Katherine Johnson's CRM duplicate puts two contacts in one person.
        assert contacts <= 1 or {r.id for r in group} >= {"1004", "1005"}
        split = max(1, contacts)
        customers += split
        pairs += len(list(combinations(range(split), 2)))
        if len(group) == 1:
            standalone[group[0].source] += 1
        standalone[Source.CRM] += split - 1
        for kind in conflicts:
            values = {getattr(r, kind) for r in group} - {None}
            conflicts[kind] += len(values) > 1
    links = {source: sum(1 for r in found if r.source is source) for source in Source}
    return Truth(customers, links, standalone, conflicts, pairs)


# --- the tests ---------------------------------------------------------------------------------

REPORT = """{ dataQuality { customers duplicateCandidates conflicts { field customers }
  sources { source links standalone awaitingReview lastSync { outcome seen linked failed } }
  unmappedWords { source field word count } } }"""


async def test_the_report_counts_what_the_sandbox_holds(graph: Graph) -> None:
    expected = truth(graph.dataset)
    report = (await graph.data("analyst", REPORT))["dataQuality"]
    assert report["customers"] == expected.customers
    assert report["duplicateCandidates"] == expected.duplicate_pairs
    assert {c["field"]: c["customers"] for c in report["conflicts"]} == expected.conflicts
    by_source = {s["source"]: s for s in report["sources"]}
    # No orders database in this stack: its line is there, empty.
    assert list(by_source) == ["CRM", "BILLING", "SUPPORT", "ORDERS"]
    assert by_source["ORDERS"]["links"] == 0
    for source in (Source.CRM, Source.BILLING, Source.SUPPORT):
        quality = by_source[source.value]
        assert (quality["links"], quality["standalone"]) == (
            expected.links[source],
            expected.standalone[source],
        ), source
        assert quality["lastSync"] == {
            "outcome": "succeeded",
            "seen": expected.links[source],
            "linked": expected.links[source],
            "failed": 0,
        }


async def test_the_truth_has_the_cases_the_issue_names(graph: Graph) -> None:
    # Guards the test above against a dataset that proves nothing.
    expected = truth(graph.dataset)
    assert expected.conflicts["email"] >= 2
    assert expected.duplicate_pairs >= 1
    assert expected.standalone[Source.CRM] >= 2


ALAN = """{ customerByEmail(email: "alan.turing@example.com") {
  contact { emails { value source isSystemOfRecord } phones { value source } }
  conflicts { field values { value source } chosen { value source isSystemOfRecord } } } }"""


async def test_alan_turing_has_one_email_conflict_with_the_crm_value_chosen(graph: Graph) -> None:
    alan = (await graph.data("supervisor", ALAN))["customerByEmail"]
    assert alan["conflicts"] == [
        {
            "field": "email",
            "values": [
                {"value": "alan.turing@example.com", "source": "CRM"},
                {"value": "alan.turing@example.com", "source": "BILLING"},
                {"value": "alan@turing.example", "source": "SUPPORT"},
            ],
            "chosen": {
                "value": "alan.turing@example.com",
                "source": "CRM",
                "isSystemOfRecord": True,
            },
        }
    ]
    assert alan["contact"]["phones"] == [{"value": "+441614960311", "source": "CRM"}]


async def test_an_analyst_sees_alans_contact_points_masked_and_the_trail_names_the_field(
    graph: Graph,
) -> None:
    data = await graph.data(
        "analyst",
        '{ customerByEmail(email: "alan.turing@example.com") { id contact { '
        "emails { value source } } } }",
    )
    alan = data["customerByEmail"]
    assert [e["value"] for e in alan["contact"]["emails"]] == [
        "a***@example.com",
        "a***@example.com",
        "a***@turing.example",
    ]
    trail = await graph.data(
        "supervisor",
        """query($id: ID!) { auditTrail(customerId: $id, first: 5) {
             events { kind role fields masked outcome } } }""",
        id=alan["id"],
    )
    analyst_reads = [e for e in trail["auditTrail"]["events"] if e["role"] == "analyst"]
    assert analyst_reads[0] == {
        "kind": "READ",
        "role": "analyst",
        "fields": ["SourcedValue.value"],
        "masked": True,
        "outcome": "masked",
    }


KATHERINE = """{ customerBySourceId(source: CRM, id: "1004") { id
  possibleDuplicates { customer { id links { source externalId } } reason } } }"""


async def test_katherine_johnson_has_a_duplicate_candidate_with_a_reason(graph: Graph) -> None:
    katherine = (await graph.data("agent", KATHERINE))["customerBySourceId"]
    [candidate] = katherine["possibleDuplicates"]
    assert candidate["customer"]["links"] == [{"source": "CRM", "externalId": "1005"}]
    assert candidate["reason"].startswith("same email address as CRM contact 1005")
    assert candidate["reason"].endswith("same name")
    assert "@" not in candidate["reason"]


async def test_agents_and_machine_clients_are_refused_the_report(graph: Graph) -> None:
    for role in ("agent", "ivr"):
        response = await graph.http.post(
            f"{graph.gateway_url}/graphql",
            json={"query": "{ dataQuality { customers } }"},
            headers={"Authorization": f"Bearer {graph.tokens[role]}"},
        )
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["FORBIDDEN"]


async def test_scv_sync_ends_with_the_report_as_tables(graph: Graph) -> None:
    expected = truth(graph.dataset)
    printed = graph.sync_output.splitlines()
    report = printed[printed.index("data quality") :]
    assert report[1].split()[:4] == ["source", "links", "standalone", "review"]
    for line, source in zip(report[2:5], (Source.CRM, Source.BILLING, Source.SUPPORT), strict=True):
        cells = line.split()
        links, standalone = expected.links[source], expected.standalone[source]
        assert cells[:3] == [source.value, str(links), str(standalone)]
        # seen, linked (all new on a first sync), failed, outcome
        assert cells[4:] == [str(links), str(links), "0", "succeeded"]
    assert report[5].split()[:3] == ["ORDERS", "0", "0"]
    assert report[6].startswith(f"{expected.customers} customers; ")
    assert "@" not in "\n".join(report)


async def test_metrics_show_conflicts_and_duplicate_candidates(graph: Graph) -> None:
    expected = truth(graph.dataset)
    text = (await graph.http.get(f"{graph.gateway_url}/metrics")).text
    assert f'scv_identity_conflicts{{field="email"}} {float(expected.conflicts["email"])}' in text
    assert f'scv_identity_conflicts{{field="phone"}} {float(expected.conflicts["phone"])}' in text
    assert f"scv_identity_duplicate_candidates {float(expected.duplicate_pairs)}" in text
