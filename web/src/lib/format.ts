export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

export function formatTokens(n: number): string {
  if (n < 1000) return String(n)
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`
  return `${(n / 1_000_000).toFixed(1)}M`
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return ''
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`
  const m = Math.floor(s / 60)
  return `${m} min ${Math.round(s % 60)} s`
}

export function timeAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return ''
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return ''
  const s = Math.max(0, Math.round((now - t) / 1000))
  if (s < 45) return 'just now'
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.round(m / 60)
  if (h < 24) return `${h} h ago`
  const d = Math.round(h / 24)
  return d === 1 ? 'yesterday' : `${d} days ago`
}

/** Agent roles as people read them. */
const ROLE_TITLES: Record<string, string> = {
  team_leader: 'Team Leader',
  leader: 'Team Leader',
  lead: 'Team Leader',
  product_manager: 'Product Manager',
  pm: 'Product Manager',
  architect: 'Architect',
  engineer: 'Engineer',
  qa: 'QA Engineer',
  qa_engineer: 'QA Engineer',
  tester: 'QA Engineer',
  data_analyst: 'Data Analyst',
  system: 'MGX',
  platform: 'MGX',
  user: 'You',
}

export function roleTitle(role: string | undefined): string {
  if (!role) return 'Agent'
  const key = role.toLowerCase().replace(/[\s-]+/g, '_')
  if (ROLE_TITLES[key]) return ROLE_TITLES[key]
  return key
    .split('_')
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join(' ')
}

/** A stable hue per role so each member of the team keeps their colour. */
export function roleHue(role: string | undefined): number {
  const fixed: Record<string, number> = {
    team_leader: 262, leader: 262, lead: 262, product_manager: 328, pm: 328,
    architect: 200, engineer: 152, qa: 32, qa_engineer: 32, tester: 32, system: 220, user: 250,
  }
  const key = (role ?? '').toLowerCase()
  if (key in fixed) return fixed[key]
  let h = 0
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) % 360
  return h
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/)
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase()
}

/** Normalises an app's state to the four the home page shows. */
export type AppState = 'building' | 'preview' | 'live' | 'failed' | 'idle'

export function appState(status: string | undefined): AppState {
  const s = (status ?? '').toLowerCase()
  if (!s) return 'idle'
  if (/fail|error|crash|timed_out|cancel/.test(s)) return 'failed'
  if (/live|deployed|production/.test(s)) return 'live'
  if (/preview|dev|ready|running_dev|serving/.test(s)) return 'preview'
  if (/build|queue|pending|running|starting|generat|creat|agent/.test(s)) return 'building'
  return 'idle'
}

export const APP_STATE_LABEL: Record<AppState, string> = {
  building: 'Building',
  preview: 'Preview running',
  live: 'Live',
  failed: 'Failed',
  idle: 'Idle',
}

/**
 * An app's state from what the API reports: the latest run of its session (`status`), its
 * dev environment (`dev.state`) and its live deployment. A run under way wins.
 */
export function deriveAppState(app: { status?: unknown; state?: unknown; dev?: unknown; live_deployment_id?: unknown } | undefined, sessionStatus?: string): AppState {
  const run = (sessionStatus ?? '').toLowerCase()
  if (/queued|running|starting|pending/.test(run)) return 'building'
  const explicit = typeof app?.status === 'string' ? app.status : typeof app?.state === 'string' ? app.state : undefined
  if (explicit) return appState(explicit)
  if (typeof app?.live_deployment_id === 'string' && app.live_deployment_id) return 'live'
  const dev = app?.dev && typeof app.dev === 'object' ? ((app.dev as Record<string, unknown>).state as string | undefined) : undefined
  if (dev === 'running') return 'preview'
  if (dev === 'installing' || dev === 'starting') return 'building'
  if (dev === 'crashed' || /failed|timed_out/.test(run)) return 'failed'
  return 'idle'
}
