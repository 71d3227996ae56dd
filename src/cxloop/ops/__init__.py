"""Ops: operator features about the running system (heartbeats through the
job pipeline, the job queue's state, periodic housekeeping).
"""

from cxloop.ops.models import Heartbeat
from cxloop.ops.service import HEARTBEAT_JOB, HOUSEKEEPING_JOB, process_label

__all__ = ["HEARTBEAT_JOB", "HOUSEKEEPING_JOB", "Heartbeat", "process_label"]
