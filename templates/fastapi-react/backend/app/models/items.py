"""The example entity `items`: what the API accepts and returns, and how it is stored.

Stored documents: {_id: ObjectId, owner_id: ObjectId, title: str, done: bool, created_at: datetime}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title


class ItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    done: bool | None = None


class Item(BaseModel):
    id: str
    title: str
    done: bool
    created_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Item:
        return cls(id=str(doc["_id"]), title=doc["title"], done=doc["done"], created_at=doc["created_at"])


class ItemList(BaseModel):
    items: list[Item]
