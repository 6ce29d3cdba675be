// API client of the example entity; mirrors backend/app/models/items.py.
import { apiFetch } from "./client";

export type Item = { id: string; title: string; done: boolean; created_at: string };
export type ItemCreate = { title: string };
export type ItemUpdate = { title?: string; done?: boolean };

export async function listItems(): Promise<Item[]> {
  return (await apiFetch<{ items: Item[] }>("/api/items")).items;
}

export function createItem(input: ItemCreate): Promise<Item> {
  return apiFetch<Item>("/api/items", { method: "POST", body: input });
}

export function updateItem(id: string, patch: ItemUpdate): Promise<Item> {
  return apiFetch<Item>(`/api/items/${encodeURIComponent(id)}`, { method: "PATCH", body: patch });
}

export function deleteItem(id: string): Promise<void> {
  return apiFetch<void>(`/api/items/${encodeURIComponent(id)}`, { method: "DELETE" });
}
