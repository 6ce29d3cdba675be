"""The app's MongoDB database (MONGODB_URL, MONGODB_DB) and its indexes."""

from __future__ import annotations

import logging

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
from pymongo.database import Database

from app.config import APP_SLUG, Settings

log = logging.getLogger(__name__)

# Every collection's indexes. A new entity adds its line here.
INDEXES: dict[str, list[IndexModel]] = {
    "users": [
        IndexModel([("sub", ASCENDING)], name="sub_unique", unique=True),
        IndexModel([("email", ASCENDING)], name="email"),
    ],
    "sessions": [
        IndexModel([("user_id", ASCENDING)], name="user"),
        IndexModel([("expires_at", ASCENDING)], name="expires"),
    ],
    "auth_states": [IndexModel([("created_at", ASCENDING)], name="created")],
    "items": [IndexModel([("owner_id", ASCENDING), ("created_at", DESCENDING)], name="owner_created")],
}


def connect(settings: Settings) -> Database:
    """A client that gives up on an unreachable server after 3 s instead of hanging."""
    client: MongoClient = MongoClient(
        settings.mongodb_url,
        appname=APP_SLUG,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        tz_aware=True,
    )
    return client[settings.mongodb_db]


class Indexes:
    """Creates missing indexes once; retries after a failure (the database may come up later)."""

    def __init__(self) -> None:
        self.done = False

    def ensure(self, db: Database) -> bool:
        if self.done:
            return True
        try:
            for name, models in INDEXES.items():
                # One index per call: FerretDB v1 drops the connection when one
                # createIndexes names several indexes that already exist.
                for model in models:
                    db[name].create_indexes([model])
            self.done = True
        except Exception as err:  # noqa: BLE001 - any driver error means "not yet"
            log.warning("indexes not created yet: %s", err)
        return self.done
