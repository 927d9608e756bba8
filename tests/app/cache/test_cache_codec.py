"""Cache entries as bytes: plain or AES-GCM, and never garbage when they cannot be read."""

from __future__ import annotations

import pytest

from app.cache.codec import Entry, EntryCodec, UnreadableEntry
from kernel.models import BillingCustomer, SubscriptionList
from tests.builders import billing_customer

KEY = "scv:cache:v1:billing:abc:g0:customer:"
VALUE = billing_customer("cus_ada", "Ada Lovelace", email="ada.lovelace@example.com")
ENTRY = Entry(fetched_at=1_000.5, value=VALUE)


@pytest.mark.parametrize("key", [None, b"k" * 32], ids=["plain", "encrypted"])
def test_an_entry_reads_back_as_it_was_written(key: bytes | None) -> None:
    codec = EntryCodec(key)
    assert codec.decode(KEY, codec.encode(KEY, ENTRY), BillingCustomer) == ENTRY


def test_a_remembered_not_found_reads_back() -> None:
    codec = EntryCodec(b"k" * 16)
    entry = Entry(fetched_at=5.0, value=None, not_found_message="no such customer")
    assert codec.decode(KEY, codec.encode(KEY, entry), BillingCustomer) == entry


def test_an_encrypted_value_does_not_show_the_record() -> None:
    blob = EntryCodec(b"k" * 32).encode(KEY, ENTRY)
    assert b"Lovelace" not in blob
    assert b"ada.lovelace" not in blob


def test_a_wrong_key_is_unreadable_not_garbage() -> None:
    blob = EntryCodec(b"k" * 32).encode(KEY, ENTRY)
    with pytest.raises(UnreadableEntry) as raised:
        EntryCodec(b"x" * 32).decode(KEY, blob, BillingCustomer)
    assert raised.value.reason == "decryption"


def test_a_value_copied_under_another_key_does_not_decrypt() -> None:
    codec = EntryCodec(b"k" * 32)
    blob = codec.encode(KEY, ENTRY)
    with pytest.raises(UnreadableEntry):
        codec.decode(KEY.replace("abc", "def"), blob, BillingCustomer)


def test_an_encrypted_value_is_unreadable_without_a_key() -> None:
    blob = EntryCodec(b"k" * 32).encode(KEY, ENTRY)
    with pytest.raises(UnreadableEntry):
        EntryCodec(None).decode(KEY, blob, BillingCustomer)


def test_a_plain_value_is_unreadable_to_a_process_that_expects_encryption() -> None:
    blob = EntryCodec(None).encode(KEY, ENTRY)
    with pytest.raises(UnreadableEntry):
        EntryCodec(b"k" * 32).decode(KEY, blob, BillingCustomer)


@pytest.mark.parametrize("blob", [b"", b"\x00not json", b'\x00{"fetched_at": 1}', b"\x07abc"])
def test_a_malformed_plain_value_is_unreadable(blob: bytes) -> None:
    with pytest.raises(UnreadableEntry):
        EntryCodec(None).decode(KEY, blob, BillingCustomer)


def test_a_value_of_another_model_is_unreadable() -> None:
    codec = EntryCodec(None)
    with pytest.raises(UnreadableEntry) as raised:
        codec.decode(KEY, codec.encode(KEY, ENTRY), SubscriptionList)
    assert raised.value.reason == "format"
