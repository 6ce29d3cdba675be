"""People who signed in to this app through MGX (collection `users`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from pymongo import ReturnDocument
from pymongo.database import Database


class User(BaseModel):
    id: str
    sub: str
    email: str
    name: str


def to_user(doc: dict[str, Any]) -> User:
    return User(id=str(doc["_id"]), sub=doc["sub"], email=doc.get("email", ""), name=doc.get("name", ""))


def upsert_user(db: Database, info: dict[str, Any]) -> dict[str, Any]:
    """Record a sign-in: the first one creates the user, later ones refresh name and email."""
    now = datetime.now(UTC)
    email = str(info.get("email") or "")
    name = str(info.get("name") or info.get("preferred_username") or email or info["sub"])
    return db.users.find_one_and_update(
        {"sub": info["sub"]},
        {"$set": {"email": email, "name": name, "last_login_at": now}, "$setOnInsert": {"created_at": now}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
