// The Logs panel: the production app's container output and OpenTelemetry logs (search,
// minimum level, follow as SSE) and its traces with their spans as a waterfall.
import { useCallback, useEffect, useRef, useState } from 'react'
import { errorText, toError } from '../lib/api'
import type { Api } from '../lib/api'
import { SSEParser } from '../lib/sse'
import { Icon } from '../components/Icon'
import type { PanelProps } from './types'

export interface LogEntry {
  id: string
  ts: string
  level: string
  source: string
  service?: string
  message: string
  trace_id?: string
}

export interface Span {
  trace_id: string
  span_id: string
  parent_span_id?: string
  name: string
  kind?: string
  start: string
  end: string
  duration_ms: number
  status_code?: string
  status_message?: string
}

export interface Trace {
  trace_id: string
  name: string
  start: string
  duration_ms: number
  error: boolean
  spans: Span[]
}

export const LEVELS = ['debug', 'info', 'warn', 'error'] as const

const LEVEL_COLOR: Record<string, string> = {
  trace: 'var(--muted, #888)',
  debug: 'var(--muted, #888)',
  info: 'inherit',
  warn: '#d9a400',
  error: '#e5484d',
  fatal: '#e5484d',
}

export function logsQuery(q: string, level: string, follow: boolean): string {
  const p = new URLSearchParams()
  if (q.trim()) p.set('q', q.trim())
  if (level) p.set('level', level)
  p.set('limit', '500')
  if (follow) p.set('follow', '1')
  return p.toString()
}

/** Bars of a trace's waterfall: offset and width in percent of the trace, and depth. */
export function waterfall(t: Trace): { span: Span; left: number; width: number; depth: number }[] {
  const start = Date.parse(t.start)
  const total = Math.max(t.duration_ms, 0.001)
  const byId = new Map(t.spans.map((s) => [s.span_id, s]))
  const depth = (s: Span): number => {
    let d = 0
    let cur: Span | undefined = s
    while (cur?.parent_span_id && byId.has(cur.parent_span_id) && d < 32) {
      cur = byId.get(cur.parent_span_id)
      d++
    }
    return d
  }
  return t.spans.map((s) => {
    const left = ((Date.parse(s.start) - start) / total) * 100
    return { span: s, left: Math.max(0, Math.min(100, left)), width: Math.max(0.5, Math.min(100 - left, (s.duration_ms / total) * 100)), depth: depth(s) }
  })
}

async function followLogs(api: Api, url: string, signal: AbortSignal, onEntry: (e: LogEntry) => void, onState: (s: string) => void) {
  let last = ''
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream' }
      if (last) headers['Last-Event-ID'] = last
      const res = await api.raw(url, { headers, signal })
      if (!res.ok || !res.body) throw await toError(res)
      onState('following')
      attempt = 0
      const parser = new SSEParser()
      const reader = res.body.getReader()
      const decoder = new TextDecoder()
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        for (const msg of parser.feed(decoder.decode(value, { stream: true }))) {
          if (msg.event !== 'log') continue
          try {
            const e = JSON.parse(msg.data) as LogEntry
            last = msg.id ?? e.id
            onEntry(e)
          } catch {
            /* skip */
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return
      onState(`reconnecting: ${errorText(e)}`)
    }
    await new Promise((r) => setTimeout(r, Math.min(15000, 500 * 2 ** attempt)))
  }
}

function LogsView({ api, slug, active }: PanelProps) {
  const [q, setQ] = useState('')
  const [query, setQuery] = useState('')
  const [level, setLevel] = useState('')
  const [follow, setFollow] = useState(true)
  const [entries, setEntries] = useState<LogEntry[]>([])
  const [state, setState] = useState('')
  const [error, setError] = useState<string>()
  const box = useRef<HTMLDivElement>(null)
  const url = `/api/apps/${encodeURIComponent(slug)}/logs?${logsQuery(query, level, follow)}`

  useEffect(() => {
    if (!active) return
    const ctl = new AbortController()
    setEntries([])
    setError(undefined)
    if (follow) {
      setState('connecting')
      void followLogs(api, url, ctl.signal, (e) => setEntries((es) => (es.length >= 2000 ? [...es.slice(-1500), e] : [...es, e])), setState)
    } else {
      setState('')
      api
        .json<{ entries: LogEntry[] }>(url, { signal: ctl.signal })
        .then((r) => setEntries(r.entries ?? []))
        .catch((e) => !ctl.signal.aborted && setError(errorText(e)))
    }
    return () => ctl.abort()
  }, [api, url, follow, active])

  useEffect(() => {
    const el = box.current
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight
  }, [entries])

  return (
    <>
      <form
        style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}
        onSubmit={(e) => {
          e.preventDefault()
          setQuery(q)
        }}
      >
        <input className="url-field" placeholder="Search messages" value={q} onChange={(e) => setQ(e.target.value)} aria-label="Search logs" />
        <select value={level} onChange={(e) => setLevel(e.target.value)} aria-label="Minimum level">
          <option value="">All levels</option>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l} and above
            </option>
          ))}
        </select>
        <label style={{ display: 'flex', gap: 4, alignItems: 'center' }}>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <button className="btn btn-sm" type="submit">Search</button>
        <span className="muted">{state}</span>
      </form>
      {error && <div className="form-error" role="alert">{error}</div>}
      <div ref={box} data-testid="log-entries" style={{ flex: 1, overflow: 'auto', fontFamily: 'var(--mono)', fontSize: 12, minHeight: 200 }}>
        {entries.length === 0 && <p className="muted">No log entries{query || level ? ' match' : ' yet'}.</p>}
        {entries.map((e) => (
          <div key={e.id} style={{ display: 'flex', gap: 8, whiteSpace: 'pre-wrap' }}>
            <span className="muted">{new Date(e.ts).toLocaleTimeString()}</span>
            <span style={{ color: LEVEL_COLOR[e.level], minWidth: 40 }}>{e.level}</span>
            <span className="muted">{e.service ?? e.source}</span>
            <span>{e.message}</span>
          </div>
        ))}
      </div>
    </>
  )
}

function TracesView({ api, slug, active }: PanelProps) {
  const [traces, setTraces] = useState<Trace[] | null>(null)
  const [open, setOpen] = useState<string>()
  const [errorsOnly, setErrorsOnly] = useState(false)
  const [error, setError] = useState<string>()
  const load = useCallback(async () => {
    try {
      const r = await api.json<{ traces: Trace[] }>(`/api/apps/${encodeURIComponent(slug)}/traces?limit=100${errorsOnly ? '&errors=1' : ''}`)
      setTraces(r.traces ?? [])
      setError(undefined)
    } catch (e) {
      setError(errorText(e))
    }
  }, [api, slug, errorsOnly])
  useEffect(() => {
    if (active) void load()
  }, [active, load])
  return (
    <>
      <div style={{ display: 'flex', gap: 8, alignItems: 'center' }}>
        <button className="btn btn-sm" onClick={() => load()}>
          <Icon name="refresh" size={14} /> Refresh
        </button>
        <label style={{ display: 'flex', gap: 4, alignItems: 'center' }}>
          <input type="checkbox" checked={errorsOnly} onChange={(e) => setErrorsOnly(e.target.checked)} /> Errors only
        </label>
      </div>
      {error && <div className="form-error" role="alert">{error}</div>}
      {traces && traces.length === 0 && <p className="muted">No traces yet. The app sends them with OpenTelemetry once it is live.</p>}
      <div data-testid="traces" style={{ overflow: 'auto' }}>
        {(traces ?? []).map((t) => (
          <div key={t.trace_id} style={{ borderBottom: '1px solid var(--border, #333)', padding: '4px 0' }}>
            <button className="link-btn" onClick={() => setOpen(open === t.trace_id ? undefined : t.trace_id)} style={{ display: 'flex', gap: 8, width: '100%' }}>
              <span style={{ color: t.error ? '#e5484d' : undefined }}>{t.error ? '✕' : '•'}</span>
              <span style={{ flex: 1, textAlign: 'left' }}>{t.name}</span>
              <span className="muted">{t.spans.length} spans</span>
              <span>{t.duration_ms.toFixed(1)} ms</span>
              <span className="muted">{new Date(t.start).toLocaleTimeString()}</span>
            </button>
            {open === t.trace_id &&
              waterfall(t).map(({ span, left, width, depth }) => (
                <div key={span.span_id} style={{ display: 'flex', gap: 8, fontSize: 12, alignItems: 'center' }} title={span.status_message}>
                  <span style={{ width: 240, paddingLeft: depth * 12, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>{span.name}</span>
                  <span style={{ flex: 1, position: 'relative', height: 10 }}>
                    <span style={{ position: 'absolute', left: `${left}%`, width: `${width}%`, top: 0, bottom: 0, borderRadius: 2, background: span.status_code === 'error' ? '#e5484d' : 'var(--accent, #6e56cf)' }} />
                  </span>
                  <span style={{ width: 70, textAlign: 'right' }}>{span.duration_ms.toFixed(1)} ms</span>
                </div>
              ))}
          </div>
        ))}
      </div>
    </>
  )
}

export default function LogsPanel(props: PanelProps) {
  const [tab, setTab] = useState<'logs' | 'traces'>('logs')
  return (
    <div className="panel" data-testid="panel-logs" style={{ display: 'flex', flexDirection: 'column', gap: 8, overflow: 'hidden' }}>
      <div className="segmented" role="tablist">
        <button className={`seg ${tab === 'logs' ? 'active' : ''}`} role="tab" aria-selected={tab === 'logs'} onClick={() => setTab('logs')}>
          Logs
        </button>
        <button className={`seg ${tab === 'traces' ? 'active' : ''}`} role="tab" aria-selected={tab === 'traces'} onClick={() => setTab('traces')}>
          Traces
        </button>
      </div>
      {tab === 'logs' ? <LogsView {...props} active={props.active && tab === 'logs'} /> : <TracesView {...props} active={props.active} />}
    </div>
  )
}
