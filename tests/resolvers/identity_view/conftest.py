"""The identity view's fixtures: customers in memory, their identity evidence, the schema."""

from __future__ import annotations

import pytest
import strawberry

from app.http.errors import PresentErrors
from kernel.identity_evidence import SharedKeyLead
from resolvers.schema import build_schema
from tests.resolvers.identity_view.identity_view_kit import (
    ALAN,
    KATE_TOO,
    KATHERINE,
    B,
    C,
    MemoryEvidence,
    S,
    key,
)
from tests.resolvers.memory_store import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    store.add("alan", "Alan Turing", [(C, "1003"), (B, "cus_alan"), (S, "9003")])
    store.add("kj", "Katherine Johnson", [(C, "1004"), (B, "cus_katherine"), (S, "9004")])
    store.add("kj2", "Katherine  johnson", [(C, "1005")])
    store.add("ada", "Ada Lovelace", [(C, "1001"), (B, "cus_ada")])
    return store


@pytest.fixture
def evidence() -> MemoryEvidence:
    evidence = MemoryEvidence()
    # As the store holds them: normalised, the billing email lower-cased like the CRM's.
    evidence.keys[ALAN] = (
        key("email", "alan.turing@example.com", C, "1003"),
        key("phone", "+441614960311", C, "1003"),
        key("email", "alan.turing@example.com", B, "cus_alan"),
        key("email", "alan@turing.example", S, "9003"),
    )
    evidence.keys[KATHERINE] = (
        key("email", "katherine.johnson@example.com", C, "1004"),
        key("email", "katherine.johnson@example.com", B, "cus_katherine"),
    )
    evidence.keys[KATE_TOO] = (key("email", "katherine.johnson@example.com", C, "1005"),)
    evidence.leads[KATHERINE] = (SharedKeyLead(KATE_TOO, "email", C, "1005"),)
    evidence.leads[KATE_TOO] = (
        SharedKeyLead(KATHERINE, "email", C, "1004"),
        SharedKeyLead(KATHERINE, "email", B, "cus_katherine"),
    )
    return evidence


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])
