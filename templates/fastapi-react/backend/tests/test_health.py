import time

from fastapi.testclient import TestClient
from pymongo import MongoClient

from app.factory import create_app

BASE = "/apps/demo"


def test_ok_when_the_database_answers_and_creates_indexes(client, db):
    res = client.get(f"{BASE}/api/health")
    assert res.status_code == 200
    assert res.json() == {"status": "ok", "database": "ok"}
    assert "sub_unique" in db.users.index_information()


def test_routes_stripped_and_unstripped_paths(client):
    assert client.get("/api/health").status_code == 200


def test_reports_an_unreachable_database_quickly(settings):
    down = MongoClient("mongodb://127.0.0.1:1", serverSelectionTimeoutMS=500, connectTimeoutMS=500)["demo"]
    with TestClient(create_app(settings, db=down)) as c:
        start = time.monotonic()
        res = c.get(f"{BASE}/api/health")
        assert res.status_code == 503
        assert res.json()["database"] == "unreachable"
        assert time.monotonic() - start < 5


def test_docs_are_served_under_the_base_path(client):
    assert client.get(f"{BASE}/api/openapi.json").status_code == 200
    docs = client.get(f"{BASE}/api/docs")
    assert docs.status_code == 200
    assert f"{BASE}/api/openapi.json" in docs.text
