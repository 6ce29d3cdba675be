// The control API client: bearer token from AuthClient, one retry after a refresh on 401,
// errors as ApiError with the contract's {error: {code, message}}.
import type { App, FileEntry, Framework, Me, Session } from './types'

export class ApiError extends Error {
  status: number
  code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** A save that lost the race: someone (often an agent) changed the file first. */
export class ConflictError extends ApiError {
  constructor(message = 'The file changed since you opened it.') {
    super(412, 'precondition_failed', message)
  }
}

export interface TokenSource {
  getAccessToken(force?: boolean): Promise<string | null>
}

export interface FileContent {
  content: string
  etag: string | null
}

const encodePath = (p: string) => p.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/')

export class Api {
  private tokens: TokenSource
  private fetchImpl: typeof fetch
  /** Called when the API rejects even a fresh token: the person must sign in again. */
  onUnauthorized?: () => void

  constructor(tokens: TokenSource, fetchImpl?: typeof fetch) {
    this.tokens = tokens
    this.fetchImpl = fetchImpl ?? ((...a) => fetch(...a))
  }

  getToken = (force = false) => this.tokens.getAccessToken(force)

  async raw(path: string, init: RequestInit = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.tokens.getAccessToken(attempt > 0).catch(() => null)
      const headers = new Headers(init.headers)
      if (token) headers.set('Authorization', `Bearer ${token}`)
      let res: Response
      try {
        res = await this.fetchImpl(path, { ...init, headers })
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e
        throw new ApiError(0, 'network', 'Cannot reach MGX. Check your connection.')
      }
      if (res.status === 401 && attempt === 0 && token) continue
      if (res.status === 401) this.onUnauthorized?.()
      return res
    }
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers)
    headers.set('Accept', 'application/json')
    if (init.body && typeof init.body === 'string') headers.set('Content-Type', 'application/json')
    const res = await this.raw(path, { ...init, headers })
    if (!res.ok) throw await toError(res)
    if (res.status === 204) return undefined as T
    return (await res.json()) as T
  }

  me = () => this.json<Me>('/api/me')
  apps = async () => listOf<App>(await this.json<unknown>('/api/apps'), 'apps')
  app = (slug: string) => this.json<App>(`/api/apps/${encodeURIComponent(slug)}`)
  sessions = async () => listOf<Session>(await this.json<unknown>('/api/sessions'), 'sessions')
  session = (id: string) => this.json<Session>(`/api/sessions/${encodeURIComponent(id)}`)
  createSession = (prompt: string, framework: Framework, name?: string) =>
    this.json<Session>('/api/sessions', { method: 'POST', body: JSON.stringify({ prompt, framework, ...(name ? { name } : {}) }) })
  sendMessage = (id: string, content: string) =>
    this.json<unknown>(`/api/sessions/${encodeURIComponent(id)}/messages`, { method: 'POST', body: JSON.stringify({ content }) })
  cancel = (id: string) => this.json<unknown>(`/api/sessions/${encodeURIComponent(id)}/cancel`, { method: 'POST', body: '{}' })
  eventsUrl = (id: string) => `/api/sessions/${encodeURIComponent(id)}/events`

  files = async (workspaceId: string): Promise<FileEntry[]> =>
    listOf<FileEntry>(await this.json<unknown>(`/api/workspaces/${encodeURIComponent(workspaceId)}/files`), 'files')

  async readFile(workspaceId: string, path: string, signal?: AbortSignal): Promise<FileContent> {
    const res = await this.raw(`/api/workspaces/${encodeURIComponent(workspaceId)}/files/${encodePath(path)}`, { signal, cache: 'no-store' })
    if (!res.ok) throw await toError(res)
    return { content: await res.text(), etag: res.headers.get('ETag') }
  }

  /** Saves with If-Match; throws ConflictError on 412. Returns the new ETag. */
  async writeFile(workspaceId: string, path: string, content: string, etag: string | null): Promise<string | null> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' }
    if (etag) headers['If-Match'] = etag
    const res = await this.raw(`/api/workspaces/${encodeURIComponent(workspaceId)}/files/${encodePath(path)}`, {
      method: 'PUT',
      headers,
      body: content,
    })
    if (res.status === 412) throw new ConflictError()
    if (!res.ok) throw await toError(res)
    return res.headers.get('ETag')
  }

  /** A short-lived single-use ticket for a WebSocket; null when the server has none. */
  async ticket(purpose: string, slug: string): Promise<string | null> {
    const res = await this.raw('/api/tickets', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ purpose, app: slug }),
    })
    if (res.status === 404 || res.status === 405 || res.status === 501) return null
    if (!res.ok) throw await toError(res)
    const j = (await res.json()) as { ticket?: string }
    return j.ticket ?? null
  }
}

function listOf<T>(v: unknown, key: string): T[] {
  if (Array.isArray(v)) return v as T[]
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    for (const k of [key, 'items', 'data']) if (Array.isArray(o[k])) return o[k] as T[]
  }
  return []
}

export async function toError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`
  let message = res.statusText || `HTTP ${res.status}`
  try {
    const j = (await res.json()) as { error?: { code?: string; message?: string } }
    if (j?.error?.code) code = j.error.code
    if (j?.error?.message) message = j.error.message
  } catch {
    /* not JSON */
  }
  if (res.status === 404 && !message) message = 'Not found.'
  if (res.status === 403) message = message || 'You do not have access to this.'
  return new ApiError(res.status, code, message)
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof Error) return e.message
  return String(e)
}
