import { url } from "../app";

/** An error answer of the API: {"error": {"code", "message"}}. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * apiFetch calls the backend under the base path with the session cookie and JSON, and
 * throws ApiError for any non-2xx answer. 204 gives undefined.
 */
export async function apiFetch<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(url(path), {
    method: init.method ?? "GET",
    credentials: "same-origin",
    headers: init.body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  if (!res.ok) {
    throw new ApiError(res.status, body?.error?.code ?? "error", body?.error?.message ?? `request failed (${res.status})`);
  }
  return body as T;
}

/** The signed-in user (GET /api/me). */
export type Me = { id: string; sub: string; email: string; name: string };

/** fetchMe returns the signed-in user, or null when nobody is signed in. */
export async function fetchMe(): Promise<Me | null> {
  try {
    return await apiFetch<Me>("/api/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export const loginUrl = () => url("/api/auth/login");

export async function logout(): Promise<void> {
  await apiFetch("/api/auth/logout", { method: "POST" });
}
