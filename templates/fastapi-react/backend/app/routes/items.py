"""API of the example entity: /api/items. Every item belongs to the user who created it."""

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId
from fastapi import APIRouter, Response
from pymongo import DESCENDING, ReturnDocument

from app.auth import CurrentUser, Db
from app.errors import ApiError
from app.models.items import Item, ItemCreate, ItemList, ItemUpdate

router = APIRouter(prefix="/api/items", tags=["items"])


def _object_id(value: str) -> ObjectId:
    if not ObjectId.is_valid(value) or len(value) != 24:
        raise ApiError(404, "not_found", "no such item")
    return ObjectId(value)


@router.get("", summary="The signed-in user's items, newest first")
def list_items(user: CurrentUser, db: Db) -> ItemList:
    docs = db.items.find({"owner_id": ObjectId(user.id)}).sort("created_at", DESCENDING).limit(500)
    return ItemList(items=[Item.from_doc(d) for d in docs])


@router.post("", status_code=201, summary="Create an item")
def create_item(body: ItemCreate, user: CurrentUser, db: Db) -> Item:
    doc = {"owner_id": ObjectId(user.id), "title": body.title, "done": False, "created_at": datetime.now(UTC)}
    doc["_id"] = db.items.insert_one(doc).inserted_id
    return Item.from_doc(doc)


@router.patch("/{item_id}", summary="Update an item's title or done flag")
def update_item(item_id: str, body: ItemUpdate, user: CurrentUser, db: Db) -> Item:
    patch = body.model_dump(exclude_none=True)
    if not patch:
        raise ApiError(422, "invalid_request", "nothing to update (title, done)")
    doc = db.items.find_one_and_update(
        {"_id": _object_id(item_id), "owner_id": ObjectId(user.id)},
        {"$set": patch},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise ApiError(404, "not_found", "no such item")
    return Item.from_doc(doc)


@router.delete("/{item_id}", status_code=204, summary="Delete an item")
def delete_item(item_id: str, user: CurrentUser, db: Db) -> Response:
    res = db.items.delete_one({"_id": _object_id(item_id), "owner_id": ObjectId(user.id)})
    if res.deleted_count != 1:
        raise ApiError(404, "not_found", "no such item")
    return Response(status_code=204)
