"""Static files: our own CSS/JS, and vendor scripts from the local node_modules.

Nothing is ever loaded from another host. Vendor files come from
``settings.assets_dir`` (a node_modules directory) or, when unset, the
repository's ``node_modules``; when neither has them, their routes answer 404
and pages still work, as scripts only improve them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

import cxloop
from cxloop.kit.errors import not_found
from cxloop.kit.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
REPO_NODE_MODULES = Path(cxloop.__file__).resolve().parents[2] / "node_modules"

# The only vendor files served: public name -> path inside node_modules.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "echarts.min.js": "echarts/dist/echarts.min.js",
}


def vendor_dir(settings: Settings) -> Path:
    return settings.assets_dir if settings.assets_dir is not None else REPO_NODE_MODULES


def mount_assets(app: FastAPI, settings: Settings) -> None:
    base = vendor_dir(settings)
    router = APIRouter(include_in_schema=False)

    @router.get("/static/vendor/{name}")
    async def vendor_file(name: str) -> Response:
        relative = VENDOR_FILES.get(name)
        path = base / relative if relative else None
        if path is None or not path.is_file():
            raise not_found("file")
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
