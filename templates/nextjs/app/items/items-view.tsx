"use client";

import { useEffect, useState, type FormEvent } from "react";
import { apiUrl } from "@/lib/app";
import type { Item } from "@/lib/items";

type Status = "loading" | "ready" | "signed-out" | "error";

async function errorMessage(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  return body?.error?.message ?? `request failed (${res.status})`;
}

type Loaded =
  | { status: "ready"; items: Item[] }
  | { status: "signed-out" }
  | { status: "error"; message: string };

async function loadItems(): Promise<Loaded> {
  try {
    const res = await fetch(apiUrl("/api/items"), { cache: "no-store" });
    if (res.status === 401) return { status: "signed-out" };
    if (!res.ok) return { status: "error", message: await errorMessage(res) };
    return { status: "ready", items: ((await res.json()) as { items: Item[] }).items };
  } catch {
    return { status: "error", message: "the server cannot be reached" };
  }
}

/** The items list: create, toggle, rename and delete through /api/items. */
export function ItemsView() {
  const [items, setItems] = useState<Item[]>([]);
  const [status, setStatus] = useState<Status>("loading");
  const [error, setError] = useState("");
  const [title, setTitle] = useState("");
  const [editing, setEditing] = useState<{ id: string; title: string } | null>(null);

  useEffect(() => {
    let active = true;
    loadItems().then((result) => {
      if (!active) return;
      if (result.status === "ready") setItems(result.items);
      if (result.status === "error") setError(result.message);
      setStatus(result.status);
    });
    return () => {
      active = false;
    };
  }, []);

  async function send(path: string, method: string, body?: unknown): Promise<Response | null> {
    setError("");
    const res = await fetch(apiUrl(path), {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      setError(await errorMessage(res));
      return null;
    }
    return res;
  }

  async function create(e: FormEvent) {
    e.preventDefault();
    const res = await send("/api/items", "POST", { title });
    if (!res) return;
    const item = (await res.json()) as Item;
    setItems((prev) => [item, ...prev]);
    setTitle("");
  }

  async function update(id: string, patch: Partial<Pick<Item, "title" | "done">>) {
    const res = await send(`/api/items/${id}`, "PATCH", patch);
    if (!res) return;
    const item = (await res.json()) as Item;
    setItems((prev) => prev.map((it) => (it.id === id ? item : it)));
    setEditing(null);
  }

  async function remove(id: string) {
    if (await send(`/api/items/${id}`, "DELETE")) setItems((prev) => prev.filter((it) => it.id !== id));
  }

  if (status === "loading") return <div className="card muted">Loading…</div>;
  if (status === "signed-out") {
    return (
      <div className="card empty">
        <p>Sign in to see your items.</p>
        <a className="button button-primary" href={apiUrl("/api/auth/login")}>
          Sign in with MGX
        </a>
      </div>
    );
  }

  return (
    <div className="card">
      <form className="row" onSubmit={create}>
        <input
          className="input"
          aria-label="New item title"
          placeholder="What needs doing?"
          value={title}
          maxLength={200}
          onChange={(e) => setTitle(e.target.value)}
        />
        <button className="button button-primary" type="submit" disabled={title.trim() === ""}>
          Add
        </button>
      </form>
      {error && (
        <p className="alert" role="alert">
          {error}
        </p>
      )}
      {items.length === 0 ? (
        <p className="empty muted">No items yet. Add your first one above.</p>
      ) : (
        <ul className="list">
          {items.map((item) => (
            <li key={item.id} className={item.done ? "list-row done" : "list-row"}>
              <input
                type="checkbox"
                className="check"
                aria-label={`Mark ${item.title} ${item.done ? "not done" : "done"}`}
                checked={item.done}
                onChange={() => update(item.id, { done: !item.done })}
              />
              {editing?.id === item.id ? (
                <form
                  className="row grow"
                  onSubmit={(e) => {
                    e.preventDefault();
                    void update(item.id, { title: editing.title });
                  }}
                >
                  <input
                    className="input"
                    aria-label="Item title"
                    value={editing.title}
                    maxLength={200}
                    autoFocus
                    onChange={(e) => setEditing({ id: item.id, title: e.target.value })}
                  />
                  <button className="button" type="submit">
                    Save
                  </button>
                  <button className="button button-ghost" type="button" onClick={() => setEditing(null)}>
                    Cancel
                  </button>
                </form>
              ) : (
                <>
                  <span className="grow title">{item.title}</span>
                  <time className="muted small" dateTime={item.created_at}>
                    {new Date(item.created_at).toLocaleDateString()}
                  </time>
                  <button
                    className="button button-ghost"
                    type="button"
                    onClick={() => setEditing({ id: item.id, title: item.title })}
                  >
                    Edit
                  </button>
                  <button className="button button-danger" type="button" onClick={() => remove(item.id)}>
                    Delete
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
