"""The fixtures of the masking tests: the systems, the store of customers, the schema."""

from __future__ import annotations

import pytest
import strawberry

from app.http.errors import PresentErrors
from kernel.models import Address
from resolvers.schema import build_schema
from tests.builders import crm_contact, ticket
from tests.fake_systems import FakeSystems, named_customers
from tests.resolvers.extensions.masking_roles.masking_roles_kit import ADA_EMAIL, ADA_PHONE
from tests.resolvers.memory_store import MemoryStore, named_store


@pytest.fixture
def systems() -> FakeSystems:
    systems = named_customers()
    systems.crm.contacts["1001"] = crm_contact(
        "1001",
        "Ada",
        "Lovelace",
        email=ADA_EMAIL,
        phone=ADA_PHONE,
        billing_id="cus_ada",
        address=Address(
            line1="12 St James's Square",
            line2="Flat 3",
            city="London",
            region="Greater London",
            postal_code="SW1Y 4JH",
            country="GB",
        ),
    )
    systems.support.tickets["9001"] = [ticket("70001", "Call me on +44 20 7946 0018")]
    return systems


@pytest.fixture
def store() -> MemoryStore:
    return named_store()


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])
