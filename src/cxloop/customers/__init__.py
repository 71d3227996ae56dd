"""Customers: the contact directory (identities, encrypted personal data,
consent ledger), segments, journeys and events, and each contact's timeline.

Other packages import only what is listed here.
"""

from cxloop.customers.routes import router

__all__ = ["router"]
