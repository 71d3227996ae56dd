"""Distribution: campaigns, event triggers, reminders, channel choice, contact-
frequency rules, and the channels (email, SMS, WeChat/WeCom, web intercepts,
QR codes) that carry invitations.

Other packages import only what is listed here.
"""

from cxloop.distribution.routes import router

__all__ = ["router"]
