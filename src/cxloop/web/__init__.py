"""The web assembly: the FastAPI app that mounts every domain's routes."""

from cxloop.web.app import create_app

__all__ = ["create_app"]
