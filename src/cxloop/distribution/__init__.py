"""Distribution: campaigns, event triggers, reminders, channel choice, contact-
frequency rules, and the channels (email, SMS, WeChat/WeCom, web intercepts,
QR codes) that carry invitations.

Other packages import only what is listed here.
"""

from cxloop.distribution.models import STATUSES as INVITATION_STATUSES
from cxloop.distribution.models import Invitation
from cxloop.distribution.routes import router
from cxloop.distribution.service import send_survey

__all__ = ["INVITATION_STATUSES", "Invitation", "router", "send_survey"]
