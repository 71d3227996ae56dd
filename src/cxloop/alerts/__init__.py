"""Alerts: response and metric alert rules, their actions, notifications over
many channels and signed webhooks.

Other packages import only what is listed here.
"""

from cxloop.alerts.models import Alert, AlertRule, Webhook, WebhookDelivery
from cxloop.alerts.routes import router
from cxloop.alerts.rules import DEFAULT_WORD_LISTS, parse_rule
from cxloop.alerts.webhooks import sign as sign_webhook
from cxloop.alerts.webhooks import verify as verify_webhook

__all__ = [
    "DEFAULT_WORD_LISTS",
    "Alert",
    "AlertRule",
    "Webhook",
    "WebhookDelivery",
    "parse_rule",
    "router",
    "sign_webhook",
    "verify_webhook",
]
