"""The case state machine: which transitions exist and who may make them.

One table, read by the service, the API docs and the inbox (which offers only
the actions the table allows). ``who`` is one of:

- ``worker``: anyone who works cases (``Perm.CASES_WORK``) on the case's
  unit; an agent only on cases they own or that nobody owns;
- ``manager``: a role that also writes data (unit manager, CX manager,
  admin) on the case's unit: closing and reopening a closed case.
"""

from __future__ import annotations

from dataclasses import dataclass

NEW, ACKNOWLEDGED, IN_PROGRESS, RESOLVED, CLOSED = "new", "acknowledged", "in_progress", "resolved", "closed"
STATUSES = (NEW, ACKNOWLEDGED, IN_PROGRESS, RESOLVED, CLOSED)
OPEN_STATUSES = (NEW, ACKNOWLEDGED, IN_PROGRESS)
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    who: str  # "worker" or "manager"
    action: str  # the timeline's verb


TRANSITIONS: tuple[Transition, ...] = (
    Transition(NEW, ACKNOWLEDGED, "worker", "acknowledge"),
    Transition(NEW, IN_PROGRESS, "worker", "start"),
    Transition(ACKNOWLEDGED, IN_PROGRESS, "worker", "start"),
    Transition(ACKNOWLEDGED, RESOLVED, "worker", "resolve"),
    Transition(IN_PROGRESS, RESOLVED, "worker", "resolve"),
    Transition(RESOLVED, CLOSED, "manager", "close"),
    Transition(RESOLVED, IN_PROGRESS, "worker", "reopen"),
    Transition(CLOSED, IN_PROGRESS, "manager", "reopen"),
)

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


def find_transition(source: str, target: str) -> Transition | None:
    return _BY_PAIR.get((source, target))


def transitions_from(source: str) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source == source]
