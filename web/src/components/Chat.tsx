import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import type { StreamState } from '../lib/sse'
import { formatDuration, formatTokens, roleTitle } from '../lib/format'
import type { Timeline } from '../lib/timeline'
import { Avatar } from './Avatar'
import { Icon, Spinner } from './Icon'
import { TimelineItemView, type ItemActions } from './TimelineItem'

export interface PendingMessage {
  id: string
  text: string
  failed?: string
}

interface Props {
  timeline: Timeline
  stream: StreamState
  prompt?: string
  pending: PendingMessage[]
  onSend: (text: string) => Promise<void>
  onCancel: () => void
  actions?: ItemActions
  runStartedAt?: number
}

function StreamBadge({ s }: { s: StreamState }) {
  if (s.kind === 'open') return null
  const text =
    s.kind === 'connecting'
      ? s.attempt > 1
        ? 'Reconnecting…'
        : 'Connecting…'
      : s.kind === 'waiting'
        ? `Connection lost — retrying in ${Math.ceil(s.delayMs / 1000)} s`
        : s.reason === 'stopped'
          ? ''
          : `The event stream is unavailable (${s.reason}).`
  if (!text) return null
  return (
    <div className={`stream-badge stream-${s.kind}`} role="status" data-testid="stream-state">
      {s.kind !== 'closed' && <Spinner size={11} />} {text}
    </div>
  )
}

function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [])
  return <span className="elapsed">{formatDuration(Math.max(0, now - since)).replace(/\.\d s/, ' s')}</span>
}

export function Chat({ timeline, stream, prompt, pending, onSend, onCancel, actions, runStartedAt }: Props) {
  const [text, setText] = useState('')
  const [sending, setSending] = useState(false)
  const scroller = useRef<HTMLDivElement>(null)
  const stick = useRef(true)
  const hasUserEvent = timeline.items.some((i) => i.kind === 'user')
  const shownPending = pending.filter((p) => !timeline.items.some((i) => i.kind === 'user' && i.text === p.text))

  useLayoutEffect(() => {
    const el = scroller.current
    if (el && stick.current) el.scrollTop = el.scrollHeight
  })

  const onScroll = () => {
    const el = scroller.current
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80
  }

  const submit = async (e?: FormEvent) => {
    e?.preventDefault()
    const t = text.trim()
    if (!t || sending) return
    setSending(true)
    stick.current = true
    try {
      await onSend(t)
      setText('')
    } finally {
      setSending(false)
    }
  }

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      void submit()
    }
  }

  const plan = timeline.plan
  const done = plan?.filter((s) => s.status === 'done').length ?? 0

  return (
    <section className="chat" aria-label="Chat with the agent team">
      <div className="chat-scroll" ref={scroller} onScroll={onScroll}>
        <div className="chat-log" role="log" aria-live="polite" aria-relevant="additions" data-testid="chat-log">
          {prompt && !hasUserEvent && (
            <div className="msg msg-user">
              <div className="bubble-user">{prompt}</div>
            </div>
          )}
          {timeline.items.map((it) => (
            <TimelineItemView key={it.key} item={it} actions={actions} />
          ))}
          {shownPending.map((p) => (
            <div key={p.id} className="msg msg-user pending">
              <div className="bubble-user">{p.text}</div>
              {p.failed && <div className="pending-failed">Not sent: {p.failed}</div>}
            </div>
          ))}
          {timeline.items.length === 0 && stream.kind !== 'closed' && (
            <div className="chat-waiting">
              <Spinner size={14} /> Waiting for the team to start…
            </div>
          )}
        </div>
      </div>
      <StreamBadge s={stream} />
      {timeline.running && (
        <div className="activity" data-testid="activity" aria-live="polite">
          {timeline.activeRole ? <Avatar role={timeline.activeRole} size={20} /> : <Spinner size={14} />}
          <span className="activity-text">
            <strong>{timeline.activeRole ? roleTitle(timeline.activeRole) : 'The team'}</strong> is {timeline.activity ?? 'working'}
            <span className="dots" aria-hidden="true" />
          </span>
          {runStartedAt && <Elapsed since={runStartedAt} />}
          {plan && plan.length > 0 && (
            <span className="activity-progress" title={`${done} of ${plan.length} steps done`}>
              <span className="bar">
                <span style={{ width: `${(done / plan.length) * 100}%` }} />
              </span>
              {done}/{plan.length}
            </span>
          )}
        </div>
      )}
      <form className="composer" onSubmit={submit}>
        <label htmlFor="chat-input" className="sr-only">
          Message the team
        </label>
        <textarea
          id="chat-input"
          data-testid="chat-input"
          rows={2}
          value={text}
          placeholder={timeline.running ? 'Add a request — the team reads it after this step…' : 'Ask for a change, a fix or a new feature…'}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKey}
        />
        <div className="composer-bar">
          <span className="composer-tokens" title={`${timeline.usage.input} in · ${timeline.usage.output} out`} data-testid="tokens">
            {timeline.usage.total > 0 ? `${formatTokens(timeline.usage.total)} tokens used` : ''}
          </span>
          {timeline.running && (
            <button type="button" className="btn btn-ghost btn-sm" onClick={onCancel} data-testid="cancel">
              <Icon name="stop" size={13} /> Stop
            </button>
          )}
          <button type="submit" className="btn btn-primary btn-icon" disabled={!text.trim() || sending} aria-label="Send message">
            {sending ? <Spinner size={14} /> : <Icon name="arrowUp" size={16} />}
          </button>
        </div>
      </form>
    </section>
  )
}
