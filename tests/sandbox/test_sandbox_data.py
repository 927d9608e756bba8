"""Dataset generation: determinism, the named customers, and the documented messiness."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from sandbox.data.generate import generate_dataset
from sandbox.records import REFERENCE_TIME, Dataset

NAMED_CRM_IDS = ["1001", "1002", "1003", "1004", "1005", "1006", "1007"]
NAMED_SUPPORT_IDS = [9001, 9002, 9003, 9004, 9007]
NAMED_BILLING_IDS = ["cus_ada", "cus_alan", "cus_barbara", "cus_grace", "cus_katherine"]
_INDEX = re.compile(r"(\d+)@")


def snapshot(dataset: Dataset) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as plain data, in insertion order."""
    return {
        name: [dataclasses.asdict(row) for row in table] for name, table in dataset.tables().items()
    }


def person_index(email: str | None) -> int | None:
    """Generated emails end in the person's number, whatever their case or address."""
    match = _INDEX.search(email or "")
    return int(match.group(1)) if match else None


@pytest.fixture(scope="module")
def big() -> Dataset:
    """Large enough for shares (70%, 85%, 60%) to be meaningful."""
    return generate_dataset(seed=42, customers=2000)


def test_the_same_seed_gives_identical_data() -> None:
    assert snapshot(generate_dataset(7, 200)) == snapshot(generate_dataset(7, 200))


def test_another_seed_gives_other_data() -> None:
    assert snapshot(generate_dataset(7, 200)) != snapshot(generate_dataset(8, 200))


def test_named_customers_are_the_same_whatever_the_seed() -> None:
    first, second = generate_dataset(1, 50), generate_dataset(2, 50)

    for table in ("customers", "subscriptions", "invoices", "payment_methods"):
        named_first = [
            r for r in snapshot(first)[f"billing.{table}"] if not _is_generated_billing(r)
        ]
        named_second = [
            r for r in snapshot(second)[f"billing.{table}"] if not _is_generated_billing(r)
        ]
        assert named_first == named_second
        assert named_first
    for crm_id in NAMED_CRM_IDS:
        assert first.crm.contacts.rows[crm_id] == second.crm.contacts.rows[crm_id]
    assert [t for t in first.support.tickets if t.id < 100001] == [
        t for t in second.support.tickets if t.id < 100001
    ]


def _is_generated_billing(row: dict[str, Any]) -> bool:
    owner = row.get("customer", row["id"])
    return not any(owner == named for named in NAMED_BILLING_IDS)


def test_zero_customers_gives_only_the_named_ones() -> None:
    dataset = generate_dataset(42, 0)

    assert sorted(dataset.crm.contacts.rows) == NAMED_CRM_IDS
    assert sorted(dataset.billing.customers.rows) == NAMED_BILLING_IDS
    assert sorted(dataset.support.users.rows) == NAMED_SUPPORT_IDS
    assert list(dataset.ivr.contacts.rows) == ["contact-ada-0001"]


def test_negative_customer_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="customers"):
        generate_dataset(42, -1)


def test_generated_ids_follow_the_documented_ranges(big: Dataset) -> None:
    crm_ids = sorted(int(i) for i in big.crm.contacts.rows if i not in NAMED_CRM_IDS)
    support_ids = sorted(i for i in big.support.users.rows if i not in NAMED_SUPPORT_IDS)
    billing_ids = [i for i in big.billing.customers.rows if i not in NAMED_BILLING_IDS]

    assert crm_ids == list(range(2001, 2001 + len(crm_ids)))
    assert support_ids == list(range(20001, 20001 + len(support_ids)))
    assert all(re.fullmatch(r"cus_[A-Za-z0-9]{14}", i) for i in billing_ids)


def test_about_seventy_percent_are_in_all_three_customer_systems(big: Dataset) -> None:
    in_crm = {person_index(c.properties["email"]) for c in big.crm.contacts} - {None}
    in_billing = {person_index(c.email) for c in big.billing.customers} - {None}
    in_support = {person_index(u.email) for u in big.support.users} - {None}

    everywhere = len(in_crm & in_billing & in_support) / big.customers
    assert 0.6 < everywhere < 0.75
    assert in_crm - in_billing - in_support
    assert in_billing - in_crm - in_support


def test_billing_references_sit_on_about_85_percent_of_crm_contacts_with_billing(
    big: Dataset,
) -> None:
    billed = {person_index(c.email) for c in big.billing.customers}
    contacts = [
        c for c in big.crm.contacts if int(c.id) >= 2001 and person_index(c.properties["email"])
        in billed
    ]  # fmt: skip

    share = sum(c.properties["billing_customer_id"] is not None for c in contacts) / len(contacts)
    assert 0.78 < share < 0.92
    references = {c.properties["billing_customer_id"] for c in contacts} - {None}
    assert references <= set(big.billing.customers.rows)


def test_external_ids_sit_on_about_60_percent_of_support_users_with_a_contact(
    big: Dataset,
) -> None:
    in_crm = {person_index(c.properties["email"]) for c in big.crm.contacts}
    users = [u for u in big.support.users if u.id >= 20001 and person_index(u.email) in in_crm]
    with_external_id = [u for u in users if u.external_id is not None]

    assert 0.52 < len(with_external_id) / len(users) < 0.68
    assert {u.external_id for u in with_external_id} <= set(big.crm.contacts.rows)


def test_uk_phones_always_carry_plus_44(big: Dataset) -> None:
    phones = [c.phone for c in big.billing.customers] + [u.phone for u in big.support.users]
    uk = [p for p in phones if p and "7700" in p.replace(" ", "")[:8]]

    assert uk
    assert all(p.startswith("+44") for p in uk)


def test_us_phones_come_in_several_national_formats(big: Dataset) -> None:
    phones = [u.phone for u in big.support.users if u.phone and not u.phone.startswith("+44")]
    shapes = {re.sub(r"\d", "9", phone) for phone in phones}

    assert {"(999) 999-9999", "+99999999999", "999.999.9999", "999-999-9999"} <= shapes


def test_some_emails_differ_only_in_case_across_systems(big: Dataset) -> None:
    crm_emails = {c.properties["email"] for c in big.crm.contacts}
    case_only = [
        c.email
        for c in big.billing.customers
        if c.email and c.email not in crm_emails and c.email.lower() in crm_emails
    ]

    assert case_only


def test_no_timestamp_lies_after_the_reference_time(big: Dataset) -> None:
    created = [c.created for c in big.billing.customers]
    created += [i.created for i in big.billing.invoices]
    created += [c.updated for c in big.crm.contacts]
    created += [t.updated for t in big.support.tickets]
    created += [c.initiated for c in big.ivr.contacts]

    assert max(created) <= REFERENCE_TIME


def test_delinquent_customers_are_exactly_those_with_overdue_open_invoices(big: Dataset) -> None:
    overdue = {
        i.customer
        for i in big.billing.invoices
        if i.status == "open" and i.due_date is not None and i.due_date < REFERENCE_TIME
    }

    assert {c.id for c in big.billing.customers if c.delinquent} == overdue
    assert len(overdue) > 1
