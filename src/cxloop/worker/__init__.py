"""The job worker: Huey as the transport for the transactional outbox.

Web processes hand committed job ids to a transport; a worker runs them.
Embedded (no Redis): Huey keeps its queue in a SQLite file beside the app
database and a thread of the web process consumes it. Scaled out: Redis is
the broker and ``cxloop worker`` processes consume it.
"""

from cxloop.worker.runtime import EmbeddedWorker, HueyTransport, InlineTransport, make_huey, make_transport

__all__ = ["EmbeddedWorker", "HueyTransport", "InlineTransport", "make_huey", "make_transport"]
