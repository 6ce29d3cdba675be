"""GET /api/health: 200 when MongoDB answers, 503 within seconds when it does not."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.auth import Db

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", summary="Health, including the database")
def health(request: Request, db: Db) -> JSONResponse:
    try:
        db.command("ping")
    except Exception as err:  # noqa: BLE001 - any driver error means the database is down
        return JSONResponse(
            {"status": "error", "database": "unreachable", "detail": type(err).__name__}, status_code=503
        )
    request.app.state.indexes.ensure(db)
    return JSONResponse({"status": "ok", "database": "ok"})
