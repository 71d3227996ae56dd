"""Where every domain's job handlers are imported, so a worker knows them all.

A new domain with a ``tasks`` module adds it here.
"""

from __future__ import annotations

import importlib

JOB_MODULES: tuple[str, ...] = (
    "cxloop.ops.tasks",
    "cxloop.collection.tasks",
    "cxloop.collection.edit_tasks",
    "cxloop.customers.tasks",
    "cxloop.distribution.tasks",
    "cxloop.text.tasks",
    "cxloop.dashboards.tasks",
    "cxloop.cases.tasks",
    # The prompt lane calls its subscribers in this order, in one transaction per batch:
    # the writers of rows that every response shares (the rollup cells, the tenant's case
    # counter) come last, so that concurrent pipeline jobs wait for each other's row
    # locks for as short a time as possible.
    "cxloop.analytics.tasks",
    "cxloop.alerts.tasks",
)

# (job name, seconds between runs): started by every worker's relay loop,
# at most one waiting in the queue at a time.
PERIODIC_JOBS: tuple[tuple[str, float], ...] = (
    ("ops.housekeeping", 3600.0),
    # SLA breaches escalate within a minute of their deadline.
    ("cases.escalate", 60.0),
    # Quiet-hour deferrals, retries, trigger delays, campaigns and reminders that came due.
    ("distribution.tick", 15.0),
    # Metric alert rules: windows are whole days, so a run every 5 minutes fires each once.
    ("alerts.metric_rules", 300.0),
    # Scheduled email reports: slots are whole hours, so every 5 minutes sends each within minutes.
    ("dashboards.reports_due", 300.0),
    # Sentiment re-adapts to a tenant's comments and their scores as they double (text/adapt.py).
    ("text.adapt_due", 3600.0),
)


def load_job_handlers() -> None:
    for module in JOB_MODULES:
        importlib.import_module(module)
