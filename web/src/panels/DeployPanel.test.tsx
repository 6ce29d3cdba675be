import { describe, expect, it } from 'vitest'
import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Api } from '../lib/api'
import DeployPanel, { applyLogMessage, canRollback, type Deployment } from './DeployPanel'
import { logsQuery, waterfall, type Trace } from './LogsPanel'

const live: Deployment = { id: 'd1', slug: 'shop', status: 'live', created_at: '2026-11-26T10:00:00Z', live_at: '2026-11-26T10:01:00Z', duration_ms: 42000, url: 'http://mgx/apps/shop/', services: [{ name: 'web', artifact: { image: 'mgx-app/shop-web:d1' } }] }
const old: Deployment = { id: 'd0', slug: 'shop', status: 'superseded', created_at: '2026-11-26T09:00:00Z', live_at: '2026-11-26T09:01:00Z' }
const failed: Deployment = { id: 'dx', slug: 'shop', status: 'failed', reason: 'build of service web failed: exit code 1', created_at: '2026-11-26T11:00:00Z' }

function sse(chunks: string[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const s of chunks) c.enqueue(new TextEncoder().encode(s))
      c.close()
    },
  })
  return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } })
}

describe('deploy panel helpers', () => {
  it('applies log, status and end events', () => {
    const lines: string[] = []
    const ds: Deployment[] = []
    const add = (l: { text: string }) => lines.push(l.text)
    const set = (d: Deployment) => ds.push(d)
    expect(applyLogMessage({ event: 'log', data: '{"seq":1,"text":"Step 1/9"}' }, add, set)).toBe(false)
    expect(applyLogMessage({ event: 'status', data: JSON.stringify({ ...live, status: 'building' }) }, add, set)).toBe(false)
    expect(applyLogMessage({ event: 'log', data: 'not json' }, add, set)).toBe(false)
    expect(applyLogMessage({ event: 'end', data: JSON.stringify(live) }, add, set)).toBe(true)
    expect(lines).toEqual(['Step 1/9'])
    expect(ds.map((d) => d.status)).toEqual(['building', 'live'])
  })
  it('offers rollback only to earlier successful, unpruned deployments', () => {
    expect(canRollback(old, 'd1')).toBe(true)
    expect(canRollback(live, 'd1')).toBe(false)
    expect(canRollback(failed, 'd1')).toBe(false)
    expect(canRollback({ ...old, pruned: true }, 'd1')).toBe(false)
  })
})

describe('deploy panel', () => {
  it('deploys, streams the build log and shows the failure reason with the live link', async () => {
    const calls: string[] = []
    let posted = false
    const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input)
      calls.push(`${init?.method ?? 'GET'} ${url}`)
      if (url.endsWith('/deployments') && init?.method === 'POST') posted = true
      if (url.endsWith('/deployments') && init?.method === 'POST') return Response.json({ ...failed, status: 'queued', reason: undefined }, { status: 202 })
      if (url.endsWith('/deployments')) return Response.json({ deployments: posted ? [failed, live, old] : [live, old], live_deployment_id: 'd1', url: live.url })
      if (url.endsWith('/dx/logs'))
        return sse([
          'id: 1\nevent: log\ndata: {"seq":1,"text":"==> building service web"}\n\n',
          'id: 2\nevent: log\ndata: {"seq":2,"text":"SyntaxError: Unexpected token"}\n\n',
          `event: end\ndata: ${JSON.stringify(failed)}\n\n`,
        ])
      if (url.endsWith('/logs')) return sse([`event: end\ndata: ${JSON.stringify(live)}\n\n`])
      return new Response('{}', { status: 404 })
    }) as typeof fetch
    const api = new Api({ getAccessToken: async () => 't' }, fetchImpl)
    render(<DeployPanel api={api} slug="shop" active />)
    expect(await screen.findByTestId('live-link')).toHaveAttribute('href', 'http://mgx/apps/shop/')
    expect(screen.getByText('Roll back')).toBeInTheDocument()
    await userEvent.click(screen.getByTestId('deploy-button'))
    await waitFor(() => expect(screen.getByTestId('build-log')).toHaveTextContent('SyntaxError: Unexpected token'))
    expect(await screen.findByTestId('deploy-reason')).toHaveTextContent('build of service web failed: exit code 1 — the previous version is still serving.')
    expect(calls).toContain('POST /api/apps/shop/deployments')
  })
})

describe('logs panel helpers', () => {
  it('builds the query', () => {
    expect(logsQuery(' payment ', 'warn', true)).toBe('q=payment&level=warn&limit=500&follow=1')
    expect(logsQuery('', '', false)).toBe('limit=500')
  })
  it('lays out a waterfall', () => {
    const t: Trace = {
      trace_id: 't', name: 'GET /', start: '2026-11-26T10:00:00.000Z', duration_ms: 100, error: false,
      spans: [
        { trace_id: 't', span_id: 'a', name: 'GET /', start: '2026-11-26T10:00:00.000Z', end: '', duration_ms: 100 },
        { trace_id: 't', span_id: 'b', parent_span_id: 'a', name: 'db', start: '2026-11-26T10:00:00.050Z', end: '', duration_ms: 25 },
      ],
    }
    const bars = waterfall(t)
    expect(bars.map((b) => [b.left, b.width, b.depth])).toEqual([[0, 100, 0], [50, 25, 1]])
  })
})
