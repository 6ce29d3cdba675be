"""Builds the FastAPI app; app/main.py runs it with the settings from the environment.

MGX strips BASE_PATH before requests reach this process, so routes are /api/...; root_path
makes the generated links (docs at BASE_PATH/api/docs) right for the browser.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pymongo.database import Database
from starlette.types import ASGIApp, Receive, Scope, Send

from app import auth
from app.config import APP_NAME, Settings
from app.db import Indexes, connect
from app.errors import install_error_handlers
from app.oauth import OAuthClient
from app.routes import health, items
from app.telemetry import setup_telemetry

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class RootPath:
    """Tells the app where the browser sees it (ASGI root_path = BASE_PATH), so the docs and
    OpenAPI links are right; routing accepts both stripped and unstripped paths."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "root_path": self.root_path}
        await self.app(scope, receive, send)


def create_app(settings: Settings, db: Database | None = None, oauth: OAuthClient | None = None) -> FastAPI:
    """Build the app; tests pass a mongomock database and an OAuth client with fake HTTP."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.indexes.ensure(app.state.db)  # best effort; /api/health retries
        yield
        for provider in telemetry or ():
            provider.shutdown()

    app = FastAPI(
        title=APP_NAME,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    telemetry = setup_telemetry(app, settings)  # before the MongoClient exists
    app.state.settings = settings
    app.state.db = db if db is not None else connect(settings)
    app.state.oauth = oauth or OAuthClient(settings)
    app.state.indexes = Indexes()
    if settings.base_path:
        app.add_middleware(RootPath, root_path=settings.base_path)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(items.router)
    return app
