"""Each source's resilience policy, built from the whole ``Settings``: its breaker, bulkhead
and retries, and the fair share between this instance's agents and analysts."""

from __future__ import annotations

from app.resilience.agent_latency import AgentLatency
from app.resilience.events import ResilienceEvents
from app.resilience.policy import Resilience, resilience_for
from app.settings import Settings


def instance_processes(settings: Settings) -> int:
    """How many processes of this gateway instance share each source's call rate."""
    if settings.fair_share.processes is not None:
        return settings.fair_share.processes
    if settings.analyst_port is None:
        return settings.workers
    # In either group, SCV_WORKERS is the group's own: the analysts' child is told its
    # count in SCV_WORKERS, and the agents' count in SCV_FAIR_SHARE__PROCESSES.
    return settings.workers + settings.analyst_workers


def build_resilience(settings: Settings, events: ResilienceEvents | None) -> Resilience:
    """The policies of every source, sharing agents' latency across the instance."""
    agent_latency = AgentLatency(settings.fair_share.dir, publish=settings.audience != "analysts")
    return resilience_for(
        settings,
        events,
        agent_latency=agent_latency,
        processes=instance_processes(settings),
    )
