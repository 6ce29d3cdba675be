import { describe, expect, it, vi } from 'vitest'
import { followStream, SeqDeduper, SSEParser, type StreamState } from './sse'
import { decodeEvent } from './useEventStream'
import type { AgentEvent } from './types'

describe('SSEParser', () => {
  const cases: { name: string; chunks: string[]; want: { id?: string; event: string; data: string }[] }[] = [
    { name: 'one message', chunks: ['id: 1\nevent: MESSAGE\ndata: {"a":1}\n\n'], want: [{ id: '1', event: 'MESSAGE', data: '{"a":1}' }] },
    { name: 'split anywhere', chunks: ['id: 7\nev', 'ent: PLAN\nda', 'ta: x', '\n', '\n'], want: [{ id: '7', event: 'PLAN', data: 'x' }] },
    { name: 'CRLF and CR line ends', chunks: ['id: 2\r\ndata: a\r\n\r\nid: 3\rdata: b\r\r\n'], want: [{ id: '2', event: 'message', data: 'a' }, { id: '3', event: 'message', data: 'b' }] },
    { name: 'CR split from LF across chunks', chunks: ['data: a\r', '\n\r', '\n'], want: [{ event: 'message', data: 'a' }] },
    { name: 'multi-line data joined by LF', chunks: ['data: one\ndata: two\ndata:three\n\n'], want: [{ event: 'message', data: 'one\ntwo\nthree' }] },
    { name: 'comments and keep-alives ignored', chunks: [': ping\n\n: hello\ndata: x\n\n'], want: [{ event: 'message', data: 'x' }] },
    { name: 'no data, no message', chunks: ['event: X\n\nid: 4\n\n'], want: [] },
    { name: 'id persists to later messages', chunks: ['id: 9\ndata: a\n\ndata: b\n\n'], want: [{ id: '9', event: 'message', data: 'a' }, { id: '9', event: 'message', data: 'b' }] },
    { name: 'BOM stripped', chunks: ['\ufeffdata: x\n\n'], want: [{ event: 'message', data: 'x' }] },
    { name: 'field without colon', chunks: ['data\n\n'], want: [{ event: 'message', data: '' }] },
    { name: 'unfinished message is not emitted', chunks: ['data: half'], want: [] },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const p = new SSEParser()
      const got = c.chunks.flatMap((ch) => p.feed(ch)).map(({ id, event, data }) => (id === undefined ? { event, data } : { id, event, data }))
      expect(got).toEqual(c.want)
    })
  }
  it('reads retry', () => {
    const p = new SSEParser()
    expect(p.feed('retry: 1500\ndata: x\n\n')[0].retry).toBe(1500)
  })
})

describe('SeqDeduper', () => {
  it('accepts each seq once and tracks the highest', () => {
    const d = new SeqDeduper()
    expect([1, 2, 2, 3, 1, 4].map((s) => d.accept(s))).toEqual([true, true, false, true, false, true])
    expect(d.last).toBe(4)
  })
  it('starts empty', () => {
    expect(new SeqDeduper().last).toBeUndefined()
  })
})

describe('decodeEvent', () => {
  it('reads a full event from data', () => {
    expect(decodeEvent({ id: '3', event: 'MESSAGE', data: '{"seq":3,"type":"MESSAGE","role":"engineer","data":{"text":"hi"}}' })).toMatchObject({
      seq: 3,
      type: 'MESSAGE',
      role: 'engineer',
      data: { text: 'hi' },
    })
  })
  it('takes the type from event: and seq from id: when data holds only the payload', () => {
    expect(decodeEvent({ id: '5', event: 'FILE_CHANGED', data: '{"path":"a.ts"}' })).toMatchObject({ seq: 5, type: 'FILE_CHANGED', data: { path: 'a.ts' } })
  })
  it('ignores junk', () => {
    expect(decodeEvent({ event: 'message', data: 'not json' })).toBeNull()
    expect(decodeEvent({ event: 'message', data: '{"type":"MESSAGE"}' })).toBeNull()
  })
})

/** A fake SSE endpoint: each call answers with the events after Last-Event-ID, then ends. */
function fakeServer(all: number[], opts: { dropAfter?: number[]; status?: number[] } = {}) {
  const calls: { lastEventId: string | null; auth: string | null }[] = []
  const fetchImpl = vi.fn(async (_url: string, init?: RequestInit) => {
    const h = new Headers(init?.headers)
    calls.push({ lastEventId: h.get('Last-Event-ID'), auth: h.get('Authorization') })
    const status = opts.status?.[calls.length - 1]
    if (status) return new Response('', { status })
    // Replays one event already seen, as a server resuming "from" rather than "after" would.
    const from = h.get('Last-Event-ID') ? Number(h.get('Last-Event-ID')) : 0
    const limit = opts.dropAfter?.[calls.length - 1] ?? Infinity
    const evs = all.filter((s) => s >= from).slice(0, limit)
    const body = evs.map((s) => `id: ${s}\nevent: MESSAGE_DELTA\ndata: ${JSON.stringify({ seq: s, type: 'MESSAGE_DELTA', role: 'engineer', data: { delta: `${s} ` } })}\n\n`).join('')
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } })
  })
  return { calls, fetchImpl }
}

describe('followStream', () => {
  it('reconnects with Last-Event-ID and shows nothing twice', async () => {
    const srv = fakeServer([1, 2, 3, 4, 5, 6], { dropAfter: [3, 2, 10] })
    const ac = new AbortController()
    const got: number[] = []
    const states: StreamState['kind'][] = []
    await followStream<AgentEvent>({
      url: '/events',
      getToken: async () => 'tok',
      decode: decodeEvent,
      fetchImpl: srv.fetchImpl as unknown as typeof fetch,
      signal: ac.signal,
      onState: (s) => states.push(s.kind),
      onItem: (ev) => {
        got.push(ev.seq)
        if (ev.seq === 6) ac.abort()
      },
      sleep: async () => {},
    })
    expect(got).toEqual([1, 2, 3, 4, 5, 6])
    expect(srv.calls.map((c) => c.lastEventId)).toEqual([null, '3', '4'])
    expect(srv.calls.every((c) => c.auth === 'Bearer tok')).toBe(true)
    expect(states).toContain('waiting')
  })

  it('refreshes the token once on 401', async () => {
    const srv = fakeServer([1], { status: [401] })
    const ac = new AbortController()
    const forced: boolean[] = []
    await followStream<AgentEvent>({
      url: '/events',
      getToken: async (force) => {
        forced.push(force)
        return force ? 'fresh' : 'stale'
      },
      decode: decodeEvent,
      fetchImpl: srv.fetchImpl as unknown as typeof fetch,
      signal: ac.signal,
      onItem: () => ac.abort(),
      sleep: async () => {},
    })
    expect(forced).toEqual([false, true])
    expect(srv.calls[1].auth).toBe('Bearer fresh')
  })

  it('stops on 404 with a closed state', async () => {
    const srv = fakeServer([], { status: [404] })
    const states: StreamState[] = []
    await followStream<AgentEvent>({
      url: '/events',
      getToken: async () => 't',
      decode: decodeEvent,
      fetchImpl: srv.fetchImpl as unknown as typeof fetch,
      signal: new AbortController().signal,
      onState: (s) => states.push(s),
      onItem: () => {},
      sleep: async () => {},
    })
    expect(states.at(-1)).toEqual({ kind: 'closed', reason: 'HTTP 404' })
    expect(srv.calls).toHaveLength(1)
  })

  it('backs off after network errors', async () => {
    let n = 0
    const ac = new AbortController()
    const delays: number[] = []
    await followStream<AgentEvent>({
      url: '/events',
      getToken: async () => null,
      decode: decodeEvent,
      fetchImpl: (async () => {
        if (++n > 4) ac.abort()
        throw new TypeError('Failed to fetch')
      }) as unknown as typeof fetch,
      signal: ac.signal,
      onState: (s) => s.kind === 'waiting' && delays.push(s.delayMs),
      onItem: () => {},
      sleep: async () => {},
      minDelayMs: 100,
      maxDelayMs: 1000,
    })
    expect(delays).toHaveLength(4)
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1] * 1.2)
    expect(Math.max(...delays)).toBeLessThanOrEqual(1200)
  })
})
