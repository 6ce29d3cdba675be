import { useEffect, useState, type FormEvent } from "react";
import { ApiError, loginUrl } from "../api/client";
import { createItem, deleteItem, listItems, updateItem, type Item, type ItemUpdate } from "../api/items";

type Status = "loading" | "ready" | "signed-out" | "error";

function message(err: unknown): string {
  return err instanceof Error ? err.message : "something went wrong";
}

/** The example entity's page: list, create, toggle, rename and delete items. */
export function ItemsPage() {
  const [items, setItems] = useState<Item[]>([]);
  const [status, setStatus] = useState<Status>("loading");
  const [error, setError] = useState("");
  const [title, setTitle] = useState("");
  const [editing, setEditing] = useState<{ id: string; title: string } | null>(null);

  useEffect(() => {
    let active = true;
    listItems()
      .then((list) => {
        if (!active) return;
        setItems(list);
        setStatus("ready");
      })
      .catch((err: unknown) => {
        if (!active) return;
        if (err instanceof ApiError && err.status === 401) return setStatus("signed-out");
        setError(message(err));
        setStatus("error");
      });
    return () => {
      active = false;
    };
  }, []);

  async function run(action: () => Promise<void>) {
    setError("");
    try {
      await action();
    } catch (err) {
      setError(message(err));
    }
  }

  const create = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const item = await createItem({ title });
      setItems((prev) => [item, ...prev]);
      setTitle("");
    });
  };

  const update = (id: string, patch: ItemUpdate) =>
    run(async () => {
      const item = await updateItem(id, patch);
      setItems((prev) => prev.map((it) => (it.id === id ? item : it)));
      setEditing(null);
    });

  const remove = (id: string) =>
    run(async () => {
      await deleteItem(id);
      setItems((prev) => prev.filter((it) => it.id !== id));
    });

  let body;
  if (status === "loading") {
    body = <div className="card muted">Loading…</div>;
  } else if (status === "signed-out") {
    body = (
      <div className="card empty">
        <p>Sign in to see your items.</p>
        <a className="button button-primary" href={loginUrl()}>
          Sign in with MGX
        </a>
      </div>
    );
  } else {
    body = (
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

  return (
    <section>
      <div className="page-head">
        <h1>Items</h1>
        <p className="muted">Add, tick off, rename and delete your items.</p>
      </div>
      {body}
    </section>
  );
}
