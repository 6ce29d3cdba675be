// Shapes of the public HTTP contract (shared/DESIGN.md). Fields the contract does not pin
// down are optional, and the UI reads them defensively.

export type Framework = 'nextjs' | 'fastapi-react'

export type EventType =
  | 'AGENT_START'
  | 'PLAN'
  | 'MESSAGE_DELTA'
  | 'MESSAGE'
  | 'TOOL_START'
  | 'TOOL_END'
  | 'FILE_CHANGED'
  | 'PREVIEW_READY'
  | 'ERROR'
  | 'FINISH'

export interface AgentEvent {
  session_id?: string
  seq: number
  type: EventType | string
  role: string
  data: Record<string, unknown>
  ts?: string
}

export interface App {
  slug: string
  name?: string
  id?: string
  framework?: Framework | string
  status?: string
  state?: string
  preview_url?: string
  url?: string
  session_id?: string
  latest_session_id?: string
  workspace_id?: string
  /** The dev environment (devenv.Status): state stopped|installing|starting|running|crashed|idle. */
  dev?: { state?: string; message?: string; url?: string }
  live_deployment_id?: string
  created_at?: string
  updated_at?: string
  [k: string]: unknown
}

export interface Session {
  id: string
  workspace_id: string
  app?: App
  app_slug?: string
  prompt?: string
  framework?: Framework | string
  status?: string
  name?: string
  created_at?: string
  updated_at?: string
  [k: string]: unknown
}

export interface Me {
  id?: string
  user_id?: string
  email?: string
  name?: string
  admin?: boolean
  [k: string]: unknown
}

export interface FileEntry {
  path: string
  type: 'file' | 'dir' | string
  size?: number
}

export const sessionSlug = (s: Session | null | undefined): string | undefined =>
  s?.app?.slug ?? s?.app_slug ?? (typeof s?.slug === 'string' ? (s.slug as string) : undefined)
