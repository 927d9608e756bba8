"""Who may write: an agent within the customer's claimed call, verified at the mutation's
level; a supervisor likewise, or without the call for the mutations configured; never an
analyst, the IVR or anyone else."""

from __future__ import annotations

from app.writes.settings import WritesSettings
from kernel.client_errors import Forbidden, VerificationRequired
from kernel.identity import CustomerId
from kernel.writes import WriteActor, WriteKind

#: Roles that take calls and so may write for the caller.
WRITER_ROLES = frozenset({"agent", "supervisor"})
SUPERVISOR = "supervisor"


def authorize(
    actor: WriteActor, kind: WriteKind, customer_id: CustomerId | None, settings: WritesSettings
) -> CustomerId:
    """The customer the actor may write ``kind`` for, or ``Forbidden`` /
    ``VerificationRequired``.

    ``customer_id`` is the mutation's; None for a mutation that names a record instead (a
    ticket, a subscription), which is then the interaction's customer's.
    """
    role = actor.principal.role
    if role not in WRITER_ROLES:
        raise Forbidden(f"the {role} role may not write to the systems of record")
    interaction = actor.interaction
    if interaction is None:
        if role == SUPERVISOR and kind in settings.supervisor_writes and customer_id:
            return customer_id
        raise Forbidden(
            f"{kind.value} is made within the customer's claimed call (X-Interaction-Token)"
        )
    if customer_id is not None and interaction.customer_id != customer_id:
        raise Forbidden(f"{kind.value} is made for the customer of the claimed call only")
    needed = settings.level_for(kind)
    if interaction.level < needed:
        raise VerificationRequired(kind.value, needed.name)
    return interaction.customer_id
