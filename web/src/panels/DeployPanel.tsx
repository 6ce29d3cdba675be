// The Deploy panel: one button that builds production containers and serves them at
// /apps/<slug>/, the live build log (SSE, resumable), the status, the history with
// durations and images, rollback, and a link to the live app.
import { useCallback, useEffect, useRef, useState } from 'react'
import { errorText, toError } from '../lib/api'
import type { Api } from '../lib/api'
import { formatDuration, timeAgo } from '../lib/format'
import { SSEParser } from '../lib/sse'
import { Icon, Spinner } from '../components/Icon'
import { ErrorState } from '../components/States'
import type { PanelProps } from './types'

export interface ServiceInfo {
  name: string
  route?: string
  artifact?: { image?: string; image_id?: string; size?: number }
  restarts?: number
}

export interface Deployment {
  id: string
  slug: string
  status: 'queued' | 'building' | 'starting' | 'live' | 'failed' | 'superseded' | string
  reason?: string
  rollback_of?: string
  services?: ServiceInfo[]
  created_at: string
  finished_at?: string
  live_at?: string
  duration_ms?: number
  build_ms?: number
  pruned?: boolean
  url?: string
}

export interface LogLine {
  seq: number
  text: string
}

export const inProgress = (s: string) => s === 'queued' || s === 'building' || s === 'starting'

export const canRollback = (d: Deployment, liveId?: string) =>
  !!d.live_at && !d.pruned && d.id !== liveId && (d.status === 'live' || d.status === 'superseded')

const STATUS_LABEL: Record<string, string> = {
  queued: 'Queued',
  building: 'Building',
  starting: 'Starting',
  live: 'Live',
  failed: 'Failed',
  superseded: 'Replaced',
}

const STATUS_CLASS: Record<string, string> = {
  queued: 'state-building',
  building: 'state-building',
  starting: 'state-building',
  live: 'state-live',
  failed: 'state-failed',
  superseded: 'state-preview',
}

export function StatusChip({ status }: { status: string }) {
  return (
    <span className={`state ${STATUS_CLASS[status] ?? ''}`} data-testid="deploy-status">
      <span className="state-dot" />
      {STATUS_LABEL[status] ?? status}
    </span>
  )
}

/** Applies one build-log SSE message to the state; returns true on the final event. */
export function applyLogMessage(
  msg: { event: string; data: string },
  addLine: (l: LogLine) => void,
  setDeployment: (d: Deployment) => void,
): boolean {
  try {
    if (msg.event === 'log') {
      const l = JSON.parse(msg.data) as LogLine
      addLine(l)
    } else if (msg.event === 'status' || msg.event === 'end') {
      setDeployment(JSON.parse(msg.data) as Deployment)
      return msg.event === 'end'
    }
  } catch {
    /* a malformed message is skipped */
  }
  return false
}

/** Follows a deployment's build log until its final event, resuming after failures. */
async function followBuildLog(
  api: Api,
  slug: string,
  id: string,
  signal: AbortSignal,
  addLine: (l: LogLine) => void,
  setDeployment: (d: Deployment) => void,
) {
  let last = 0
  const add = (l: LogLine) => {
    if (l.seq <= last) return
    last = l.seq
    addLine(l)
  }
  for (let attempt = 0; !signal.aborted && attempt < 20; attempt++) {
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream' }
      if (last > 0) headers['Last-Event-ID'] = String(last)
      const res = await api.raw(`/api/apps/${encodeURIComponent(slug)}/deployments/${encodeURIComponent(id)}/logs`, { headers, signal })
      if (!res.ok || !res.body) throw await toError(res)
      const parser = new SSEParser()
      const reader = res.body.getReader()
      const decoder = new TextDecoder()
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        for (const msg of parser.feed(decoder.decode(value, { stream: true }))) {
          if (applyLogMessage(msg, add, setDeployment)) return
        }
      }
    } catch (e) {
      if (signal.aborted) return
      if ((e as { status?: number }).status === 404) return
    }
    await new Promise((r) => setTimeout(r, Math.min(8000, 500 * 2 ** attempt)))
  }
}

export default function DeployPanel({ api, slug, active }: PanelProps) {
  const [list, setList] = useState<Deployment[] | null>(null)
  const [liveId, setLiveId] = useState<string>()
  const [liveUrl, setLiveUrl] = useState<string>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const [selected, setSelected] = useState<string>()
  const [lines, setLines] = useState<LogLine[]>([])
  const logRef = useRef<HTMLPreElement>(null)
  const base = `/api/apps/${encodeURIComponent(slug)}/deployments`

  const load = useCallback(async () => {
    try {
      const r = await api.json<{ deployments: Deployment[]; live_deployment_id?: string; url?: string }>(base)
      setList(r.deployments ?? [])
      setLiveId(r.live_deployment_id)
      setLiveUrl(r.url)
      setError(undefined)
      setSelected((s) => s ?? r.deployments?.[0]?.id)
    } catch (e) {
      setError(errorText(e))
    }
  }, [api, base])

  useEffect(() => {
    if (active) void load()
  }, [active, load])

  const upsert = useCallback((d: Deployment) => {
    setList((l) => {
      const rest = (l ?? []).filter((x) => x.id !== d.id)
      return [d, ...rest].sort((a, b) => b.created_at.localeCompare(a.created_at))
    })
    if (d.status === 'live') {
      setLiveId(d.id)
      setLiveUrl(d.url)
    }
  }, [])

  // Follow the selected deployment's build log.
  useEffect(() => {
    if (!selected) return
    const ctl = new AbortController()
    setLines([])
    void followBuildLog(
      api,
      slug,
      selected,
      ctl.signal,
      (l) => setLines((ls) => (ls.length > 5000 ? [...ls.slice(-4000), l] : [...ls, l])),
      (d) => {
        upsert(d)
        if (!inProgress(d.status)) void load()
      },
    )
    return () => ctl.abort()
  }, [api, slug, selected, upsert, load])

  useEffect(() => {
    const el = logRef.current
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight
  }, [lines])

  const start = async (from?: string) => {
    setBusy(true)
    setError(undefined)
    try {
      const d = await api.json<Deployment>(from ? `${base}/${encodeURIComponent(from)}/rollback` : base, { method: 'POST', body: '{}' })
      upsert(d)
      setSelected(d.id)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  if (list === null && error) return <div className="panel" data-testid="panel-deploy"><ErrorState message={error} onRetry={load} /></div>
  const running = (list ?? []).some((d) => inProgress(d.status))
  const current = (list ?? []).find((d) => d.id === selected)

  return (
    <div className="panel" data-testid="panel-deploy" style={{ display: 'flex', flexDirection: 'column', gap: 12, overflow: 'auto' }}>
      <div className="section-head" style={{ display: 'flex', alignItems: 'center', gap: 12, flexWrap: 'wrap' }}>
        <button className="btn btn-primary" onClick={() => start()} disabled={busy || running} data-testid="deploy-button">
          {running ? <Spinner size={14} /> : <Icon name="rocket" size={14} />} {running ? 'Deploying…' : 'Deploy'}
        </button>
        {liveUrl ? (
          <a href={liveUrl} target="_blank" rel="noreferrer" data-testid="live-link">
            <Icon name="external" size={14} /> {liveUrl}
          </a>
        ) : (
          <span className="muted">Not deployed yet: the app will be served at /apps/{slug}/</span>
        )}
      </div>
      {error && <div className="form-error" role="alert">{error}</div>}

      {current && (
        <section>
          <div style={{ display: 'flex', alignItems: 'center', gap: 8 }}>
            <StatusChip status={current.status} />
            <span className="muted">
              {current.rollback_of ? `rollback to ${current.rollback_of.slice(0, 8)} · ` : ''}
              started {timeAgo(current.created_at)}
              {current.duration_ms ? ` · ${formatDuration(current.duration_ms)}` : ''}
            </span>
          </div>
          {current.status === 'failed' && current.reason && (
            <p className="event-error" data-testid="deploy-reason">
              {current.reason}
              {liveId ? ' — the previous version is still serving.' : ''}
            </p>
          )}
          <pre
            ref={logRef}
            data-testid="build-log"
            style={{ maxHeight: 320, overflow: 'auto', background: 'var(--term-bg, #0b0d12)', color: 'var(--term-fg, #e6e6ef)', padding: 8, fontSize: 12, borderRadius: 6 }}
          >
            {lines.map((l) => l.text).join('\n') || (inProgress(current.status) ? 'Waiting for the build…' : 'No build output.')}
          </pre>
        </section>
      )}

      <section>
        <h3>History</h3>
        {list && list.length === 0 && <p className="muted">No deployments yet. Deploy builds the workspace into production containers.</p>}
        <table style={{ width: '100%', borderCollapse: 'collapse', fontSize: 13 }} data-testid="deploy-history">
          <tbody>
            {(list ?? []).map((d) => (
              <tr key={d.id} onClick={() => setSelected(d.id)} style={{ cursor: 'pointer', background: d.id === selected ? 'var(--hover, rgba(127,127,127,.1))' : undefined }}>
                <td><StatusChip status={d.status} /></td>
                <td className="muted">{timeAgo(d.created_at)}</td>
                <td>{d.duration_ms ? formatDuration(d.duration_ms) : ''}</td>
                <td className="muted" style={{ fontFamily: 'var(--mono)' }}>
                  {(d.services ?? []).map((s) => s.artifact?.image).filter(Boolean).join(', ') || d.id.slice(0, 8)}
                </td>
                <td style={{ textAlign: 'right' }}>
                  {canRollback(d, liveId) && (
                    <button
                      className="btn btn-sm btn-ghost"
                      disabled={busy || running}
                      onClick={(e) => {
                        e.stopPropagation()
                        void start(d.id)
                      }}
                    >
                      Roll back
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  )
}
