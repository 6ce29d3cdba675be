import { useEffect, useRef, useState } from 'react'
import { followStream, SeqDeduper, type SSEMessage, type StreamState } from './sse'
import { applyEvent, emptyTimeline, type Timeline } from './timeline'
import type { AgentEvent } from './types'

/** Turns an SSE message into an agent event: `data` holds the event JSON, `id` its seq. */
export function decodeEvent(msg: SSEMessage): AgentEvent | null {
  let parsed: unknown
  try {
    parsed = JSON.parse(msg.data)
  } catch {
    return null
  }
  if (!parsed || typeof parsed !== 'object') return null
  const o = parsed as Record<string, unknown>
  const idSeq = msg.id !== undefined && /^\d+$/.test(msg.id) ? Number(msg.id) : undefined
  const seq = typeof o.seq === 'number' ? o.seq : idSeq
  if (seq === undefined) return null
  if (typeof o.type === 'string') {
    return {
      session_id: typeof o.session_id === 'string' ? o.session_id : undefined,
      seq,
      type: o.type,
      role: typeof o.role === 'string' ? o.role : '',
      data: o.data && typeof o.data === 'object' ? (o.data as Record<string, unknown>) : {},
      ts: typeof o.ts === 'string' ? o.ts : undefined,
    }
  }
  // `event:` names the type and `data:` carries only the event's data.
  if (msg.event && msg.event !== 'message') {
    return { seq, type: msg.event, role: typeof o.role === 'string' ? o.role : '', data: o }
  }
  return null
}

export interface EventStream {
  timeline: Timeline
  state: StreamState
  /** Events received so far (after de-duplication). */
  count: number
}

export function useEventStream(
  sessionId: string | undefined,
  url: string | undefined,
  getToken: (force: boolean) => Promise<string | null>,
  onEvent?: (ev: AgentEvent) => void,
): EventStream {
  const [timeline, setTimeline] = useState<Timeline>(emptyTimeline)
  const [state, setState] = useState<StreamState>({ kind: 'connecting', attempt: 1 })
  const [count, setCount] = useState(0)
  const onEventRef = useRef(onEvent)
  onEventRef.current = onEvent
  const tokenRef = useRef(getToken)
  tokenRef.current = getToken

  useEffect(() => {
    if (!sessionId || !url) return
    setTimeline(emptyTimeline())
    setCount(0)
    const ac = new AbortController()
    const dedupe = new SeqDeduper()
    void followStream<AgentEvent>({
      url,
      getToken: (force) => tokenRef.current(force),
      decode: decodeEvent,
      deduper: dedupe,
      signal: ac.signal,
      onState: setState,
      onItem: (ev) => {
        setTimeline((t) => applyEvent(t, ev))
        setCount((c) => c + 1)
        onEventRef.current?.(ev)
      },
    })
    return () => ac.abort()
  }, [sessionId, url])

  return { timeline, state, count }
}
