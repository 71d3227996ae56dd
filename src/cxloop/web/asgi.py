"""The ASGI entry point for uvicorn: ``cxloop.web.asgi:app``."""

from cxloop.web.app import create_app

app = create_app()
