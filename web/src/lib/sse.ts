// A Server-Sent Events reader on top of fetch (EventSource cannot send an Authorization
// header), with Last-Event-ID resumption and de-duplication by event seq.

export interface SSEMessage {
  id?: string
  event: string
  data: string
  retry?: number
}

/**
 * Incremental parser for the text/event-stream format (WHATWG HTML §9.2.6): feed it text as
 * it arrives, in chunks of any size; it returns the complete messages.
 */
export class SSEParser {
  private buf = ''
  private data: string[] = []
  private event = ''
  private id: string | undefined
  private retry: number | undefined
  private sawField = false
  private first = true
  /** The last id the stream set (persists across messages, as in EventSource). */
  lastEventId = ''

  feed(chunk: string): SSEMessage[] {
    if (this.first && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1)
      this.first = false
    }
    this.buf += chunk
    const out: SSEMessage[] = []
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf)
      if (!m) break
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break
      const line = this.buf.slice(0, m.index)
      this.buf = this.buf.slice(m.index + m[0].length)
      const msg = this.line(line)
      if (msg) out.push(msg)
    }
    return out
  }

  /** Flush at end of stream: a message without its final blank line is discarded (per spec). */
  end(): void {
    this.buf = ''
    this.reset()
  }

  private reset() {
    this.data = []
    this.event = ''
    this.id = undefined
    this.retry = undefined
    this.sawField = false
  }

  private line(line: string): SSEMessage | null {
    if (line === '') {
      if (!this.sawField) return null
      const msg: SSEMessage | null =
        this.data.length > 0
          ? {
              id: this.id ?? (this.lastEventId || undefined),
              event: this.event || 'message',
              data: this.data.join('\n'),
              ...(this.retry !== undefined ? { retry: this.retry } : {}),
            }
          : null
      this.reset()
      return msg
    }
    if (line.startsWith(':')) return null // comment / keep-alive
    const colon = line.indexOf(':')
    let field = line
    let value = ''
    if (colon >= 0) {
      field = line.slice(0, colon)
      value = line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
    }
    this.sawField = true
    switch (field) {
      case 'data':
        this.data.push(value)
        break
      case 'event':
        this.event = value
        break
      case 'id':
        if (!value.includes('\0')) {
          this.id = value
          this.lastEventId = value
        }
        break
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value)
        break
    }
    return null
  }
}

/** Remembers which seqs were shown so that a replay after a reconnect shows nothing twice. */
export class SeqDeduper {
  private seen = new Set<number>()
  private max = -1

  constructor(initial: Iterable<number> = []) {
    for (const s of initial) this.accept(s)
  }

  /** True the first time a seq is offered, false for every repeat. */
  accept(seq: number): boolean {
    if (!Number.isFinite(seq)) return true
    if (this.seen.has(seq)) return false
    this.seen.add(seq)
    if (seq > this.max) this.max = seq
    return true
  }

  /** The highest seq seen, or undefined: the value for Last-Event-ID. */
  get last(): number | undefined {
    return this.max >= 0 ? this.max : undefined
  }
}

export type StreamState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open' }
  | { kind: 'waiting'; attempt: number; delayMs: number; reason: string }
  | { kind: 'closed'; reason: string }

export class HttpError extends Error {
  status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

export interface StreamOptions<T> {
  url: string
  /** The bearer token; `force` asks for a fresh one (after a 401). */
  getToken: (force: boolean) => Promise<string | null>
  /** Turns a message into an item with its seq; null to ignore the message. */
  decode: (msg: SSEMessage) => (T & { seq: number }) | null
  onItem: (item: T & { seq: number }) => void
  onState?: (s: StreamState) => void
  /** Seqs already shown (e.g. from a previous page of the same stream). */
  deduper?: SeqDeduper
  signal: AbortSignal
  fetchImpl?: typeof fetch
  /** Reconnect delays: first, cap (ms). */
  minDelayMs?: number
  maxDelayMs?: number
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(t)
      resolve()
    }, { once: true })
  })

/**
 * Follows an SSE stream until `signal` aborts: reconnects after any failure or end of stream
 * with exponential back-off, sends `Last-Event-ID` with the highest seq seen, refreshes the
 * token once on 401, and gives up (state `closed`) on 403/404/410.
 */
export async function followStream<T>(o: StreamOptions<T>): Promise<void> {
  const doFetch = o.fetchImpl ?? fetch.bind(globalThis)
  const sleep = o.sleep ?? defaultSleep
  const dedupe = o.deduper ?? new SeqDeduper()
  const minDelay = o.minDelayMs ?? 500
  const maxDelay = o.maxDelayMs ?? 15000
  let attempt = 0
  let serverRetry: number | undefined
  let forceToken = false

  while (!o.signal.aborted) {
    attempt++
    o.onState?.({ kind: 'connecting', attempt })
    let reason = 'stream ended'
    try {
      const token = await o.getToken(forceToken)
      forceToken = false
      const headers: Record<string, string> = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' }
      if (token) headers.Authorization = `Bearer ${token}`
      if (dedupe.last !== undefined) headers['Last-Event-ID'] = String(dedupe.last)
      const res = await doFetch(o.url, { headers, signal: o.signal, cache: 'no-store' })
      if (res.status === 401 && attempt <= 2) {
        forceToken = true
        reason = 'signed out: refreshing'
        continue
      }
      if (res.status === 403 || res.status === 404 || res.status === 410) {
        o.onState?.({ kind: 'closed', reason: `HTTP ${res.status}` })
        return
      }
      if (!res.ok || !res.body) throw new HttpError(res.status, `HTTP ${res.status}`)
      o.onState?.({ kind: 'open' })
      const parser = new SSEParser()
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          for (const msg of parser.feed(value)) {
            if (msg.retry !== undefined) serverRetry = msg.retry
            const item = o.decode(msg)
            if (!item) continue
            attempt = 0 // a healthy stream resets the back-off
            if (dedupe.accept(item.seq)) o.onItem(item)
          }
        }
      } finally {
        reader.releaseLock?.()
      }
      parser.end()
    } catch (e) {
      if (o.signal.aborted) break
      reason = e instanceof Error ? e.message : String(e)
    }
    if (o.signal.aborted) break
    const n = Math.max(attempt, 1)
    const base = serverRetry ?? minDelay
    const delayMs = Math.min(maxDelay, base * 2 ** (n - 1)) * (0.8 + Math.random() * 0.4)
    o.onState?.({ kind: 'waiting', attempt: n, delayMs, reason })
    await sleep(delayMs, o.signal)
  }
  o.onState?.({ kind: 'closed', reason: 'stopped' })
}
