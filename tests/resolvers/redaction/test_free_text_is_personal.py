"""Free text is personal by default: every text field of the schema is declared one way.

A text field is either personal (``@pii``: ``personal`` or ``free_text`` in the resolvers)
or listed here with why it can hold no one's words. A new text field (agents' notes, say)
fails this test until someone decides which it is.
"""

from __future__ import annotations

from graphql import GraphQLObjectType, build_schema, get_named_type

from resolvers.schema import schema_sdl

#: Text fields that are not personal, and why.
NOT_PERSONAL = {
    # words the gateway or a vendor chose, from a closed set or the vendor's taxonomy
    **dict.fromkeys(
        [
            "AuditEvent.kind",
            "AuditEvent.outcome",
            "AuditEvent.role",
            "AuditEvent.fields",
            "IdentityLink.matchedBy",
            "IdentityLink.linkedVia",
            "Invoice.sourceStatus",
            "WriteResult.mutation",
            # a code and the gateway's own words (app/writes/delivery.py), never a value
            "WriteResult.reason",
            "Order.sourceStatus",
            "Shipment.status",
            "Shipment.carrier",
            "Ticket.sourceStatus",
            "Ticket.priority",
            "LastSync.outcome",
            "LastSync.mode",
            "SyncRunCount.outcome",
            "BacklogCount.ageBucket",
            # "orphan <the registry entry's record noun>s"
            "SourceQuality.orphansLabel",
            "UnmappedWord.field",
            "UnmappedWord.word",
            "Verification.method",
            "Verification.result",
            "FieldConflict.field",
            "FieldConflictCount.field",
            "DuplicateCandidate.reason",
            "ExportJob.error",
            "PaymentCard.brand",
            "Money.currency",
            "CustomerFacts.currency",
            # a plan of the business's catalogue, and its billing period
            "BillingSubscription.sourceStatus",
            "BillingSubscription.planName",
            "BillingSubscription.interval",
            # the names of Customer's own fields
            "CustomerChange.panels",
        ],
        "a word from a closed set, the gateway's or a vendor's",
    ),
    # opaque ids, cursors and tokens
    **dict.fromkeys(
        [
            "AuditEvent.cursor",
            "AuditEvent.requestId",
            "AuditTrailConnection.endCursor",
            "CustomerEdge.cursor",
            "PageInfo.startCursor",
            "PageInfo.endCursor",
            "InteractionGrant.token",
            "ExportJob.downloadPath",
            "Invoice.number",
            "Profile.version",
            "OrderLine.sku",
        ],
        "an opaque id, cursor or token",
    ),
    # staff, not customers: principals and their stated purposes, supervisors only
    **dict.fromkeys(
        [
            "AuditEvent.subject",
            "AuditEvent.purpose",
            "AuditEvent.detail",
            "AuditEvent.clientAddress",
            "Verification.by",
            "SourceRollout.changedBy",
            "SourceRollout.pilotSubjects",
            "SourceRollout.pilotQueues",
            "SourceRollout.reason",
        ],
        "about staff, read by supervisors only",
    ),
    # what a business sells, as its catalogue names it
    "OrderLine.description": "a product's catalogue description, the same for every buyer",
    # places too large to find anyone by
    **dict.fromkeys(
        ["Address.city", "Address.region", "Address.country", "CustomerFacts.country"],
        "a city, region or country: too coarse to identify anyone",
    ),
}


def undeclared_text_fields() -> list[str]:
    schema = build_schema(schema_sdl())
    found: list[str] = []
    for name, kind in schema.type_map.items():
        if name.startswith("__") or not isinstance(kind, GraphQLObjectType):
            continue
        if name in {"Query", "Mutation", "Subscription"}:
            continue
        for field_name, field in kind.fields.items():
            if get_named_type(field.type).name != "String":
                continue
            directives = (field.ast_node.directives or ()) if field.ast_node else ()
            if not any(directive.name.value == "pii" for directive in directives):
                found.append(f"{name}.{field_name}")
    return found


def test_every_text_field_is_personal_or_says_why_not() -> None:
    undeclared = set(undeclared_text_fields()) - NOT_PERSONAL.keys()
    assert not undeclared, f"declare these free_text()/personal() or list them: {undeclared}"


def test_the_list_names_only_fields_that_exist() -> None:
    assert set(NOT_PERSONAL) <= set(undeclared_text_fields())


def test_ticket_subjects_are_free_text() -> None:
    assert "subject: String @pii(level: LOW)" in schema_sdl()
