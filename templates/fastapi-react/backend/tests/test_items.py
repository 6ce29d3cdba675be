import pytest

BASE = "/apps/demo"


def test_needs_a_session(client):
    assert client.get(f"{BASE}/api/items").status_code == 401
    assert client.post(f"{BASE}/api/items", json={"title": "x"}).status_code == 401


def test_create_list_update_delete(client, session_for):
    client.cookies.update(session_for("alice"))
    res = client.post(f"{BASE}/api/items", json={"title": "  Buy milk "})
    assert res.status_code == 201
    item = res.json()
    assert item["title"] == "Buy milk" and item["done"] is False

    assert [i["id"] for i in client.get(f"{BASE}/api/items").json()["items"]] == [item["id"]]

    res = client.patch(f"{BASE}/api/items/{item['id']}", json={"done": True})
    assert res.status_code == 200
    assert res.json()["done"] is True and res.json()["title"] == "Buy milk"

    assert client.delete(f"{BASE}/api/items/{item['id']}").status_code == 204
    assert client.get(f"{BASE}/api/items").json()["items"] == []


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("missing title", {}),
        ("blank title", {"title": "   "}),
        ("non-string title", {"title": 5}),
        ("too long title", {"title": "x" * 201}),
        ("unknown field", {"title": "a", "owner_id": "x"}),
        ("not an object", "hello"),
    ],
)
def test_refuses_invalid_items(client, session_for, name, body):
    client.cookies.update(session_for("alice"))
    res = client.post(f"{BASE}/api/items", json=body)
    assert res.status_code == 422
    assert res.json()["error"]["code"] == "invalid_request"


def test_refuses_bad_updates(client, session_for):
    client.cookies.update(session_for("alice"))
    item = client.post(f"{BASE}/api/items", json={"title": "a"}).json()
    for body in ({}, {"done": "maybe"}, {"title": ""}):
        assert client.patch(f"{BASE}/api/items/{item['id']}", json=body).status_code == 422


def test_keeps_users_items_apart(client, session_for, db):
    alice, bob = session_for("alice"), session_for("bob")
    client.cookies.update(alice)
    item = client.post(f"{BASE}/api/items", json={"title": "a"}).json()
    client.cookies.update(bob)
    assert client.get(f"{BASE}/api/items").json()["items"] == []
    assert client.patch(f"{BASE}/api/items/{item['id']}", json={"done": True}).status_code == 404
    assert client.delete(f"{BASE}/api/items/{item['id']}").status_code == 404
    assert db.items.count_documents({}) == 1


@pytest.mark.parametrize("item_id", ["nope", "0123456789abcdef0123456z", "x" * 24])
def test_malformed_ids_are_not_found(client, session_for, item_id):
    client.cookies.update(session_for("alice"))
    assert client.delete(f"{BASE}/api/items/{item_id}").status_code == 404
