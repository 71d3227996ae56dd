"""Customers: the contact directory (identities, encrypted personal data,
consent ledger), segments, journeys and events, and each contact's timeline.

Other packages import only what is listed here (see docs/notes on the agreed
interfaces: every function takes a session first and never commits).
"""

from cxloop.customers.consent import consent_allows, consents_allow, record_consent, unsubscribe_url
from cxloop.customers.events import EventSubscriber, subscribe_events, unsubscribe_events
from cxloop.customers.merge import subscribe_merges
from cxloop.customers.models import Contact, ContactEvent, ContactResponse, EventType, Journey, Segment
from cxloop.customers.routes import router
from cxloop.customers.segments import SegmentFilter, segment_contact_ids
from cxloop.customers.service import Reach, contact_reach, contacts_reach, find_contact, upsert_contact
from cxloop.customers.tasks import contact_ids_for_responses
from cxloop.customers.timeline import TimelineEntry, TimelineSource, register_timeline_source

__all__ = [
    "Contact",
    "ContactEvent",
    "ContactResponse",
    "EventSubscriber",
    "EventType",
    "Journey",
    "Reach",
    "Segment",
    "SegmentFilter",
    "TimelineEntry",
    "TimelineSource",
    "consent_allows",
    "consents_allow",
    "contact_ids_for_responses",
    "contact_reach",
    "contacts_reach",
    "find_contact",
    "record_consent",
    "register_timeline_source",
    "router",
    "segment_contact_ids",
    "subscribe_events",
    "subscribe_merges",
    "unsubscribe_events",
    "unsubscribe_url",
    "upsert_contact",
]
