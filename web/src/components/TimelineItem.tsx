import { useState } from 'react'
import { formatDuration, roleTitle } from '../lib/format'
import { FINISH_LABEL, type TimelineItem as Item } from '../lib/timeline'
import { Avatar } from './Avatar'
import { Icon, Spinner } from './Icon'
import { Markdown } from './Markdown'

export interface ItemActions {
  onOpenFile?: (path: string) => void
  onShowPreview?: () => void
}

function Speaker({ role, name }: { role: string; name?: string }) {
  const title = roleTitle(role)
  return (
    <div className="speaker">
      <span className="speaker-name">{name ?? title}</span>
      {name && name !== title && <span className="speaker-role">{title}</span>}
    </div>
  )
}

function pretty(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'string') return v
  try {
    return JSON.stringify(v, null, 2)
  } catch {
    return String(v)
  }
}

function ToolLine({ item }: { item: Extract<Item, { kind: 'tool' }> }) {
  const [open, setOpen] = useState(false)
  const id = `tool-${item.key}`
  const input = pretty(item.input)
  const output = pretty(item.error ?? item.output)
  return (
    <div className={`tool tool-${item.status}`} data-testid="tool-step">
      <button type="button" className="tool-line" aria-expanded={open} aria-controls={id} onClick={() => setOpen((o) => !o)}>
        <span className="tool-status" aria-hidden="true">
          {item.status === 'running' ? <Spinner size={12} /> : item.status === 'ok' ? <Icon name="check" size={13} /> : <Icon name="x" size={13} />}
        </span>
        <span className="tool-name">{item.tool}</span>
        {(() => {
          // "npm test" + "npm test: exit 0 in 2m56s" reads best as the latter alone.
          const merged = item.result && item.summary && item.result.includes(item.summary) ? item.result : item.summary
          return merged && <span className="tool-summary">{merged}</span>
        })()}
        <span className="tool-meta">
          {item.result && !(item.summary && item.result.includes(item.summary)) && <span className="tool-result">{item.result}</span>}
          {item.durationMs !== undefined && formatDuration(item.durationMs)}
          <Icon name={open ? 'chevronDown' : 'chevronRight'} size={13} />
        </span>
        <span className="sr-only">{item.status === 'running' ? 'running' : item.status === 'ok' ? 'done' : 'failed'}</span>
      </button>
      {open && (
        <div className="tool-detail" id={id}>
          {input && (
            <>
              <div className="tool-label">Input</div>
              <pre>{input}</pre>
            </>
          )}
          <div className="tool-label">{item.error ? 'Error' : 'Output'}</div>
          <pre>{output || (item.status === 'running' ? 'Running…' : 'No output')}</pre>
        </div>
      )}
    </div>
  )
}

function ErrorCard({ item }: { item: Extract<Item, { kind: 'error' }> }) {
  const [open, setOpen] = useState(false)
  return (
    <div className="event-error" role="alert" data-testid="event-error">
      <Icon name="alert" size={16} />
      <div>
        <div className="event-error-title">
          {item.role && item.role !== 'system' ? `${roleTitle(item.role)} hit a problem` : 'Something went wrong'}
        </div>
        <div>{item.message}</div>
        {item.detail && (
          <>
            <button type="button" className="link-btn" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
              {open ? 'Hide details' : 'Details'}
            </button>
            {open && <pre className="event-error-detail">{item.detail}</pre>}
          </>
        )}
      </div>
    </div>
  )
}

export function TimelineItemView({ item, actions }: { item: Item; actions?: ItemActions }) {
  switch (item.kind) {
    case 'user':
      return (
        <div className="msg msg-user" data-testid="user-message">
          <div className="bubble-user">{item.text}</div>
        </div>
      )
    case 'agent_start':
      return (
        <div className="event-divider" data-testid="agent-start">
          <Avatar role={item.role} name={item.name} size={18} />
          <span>
            <strong>{item.name ?? roleTitle(item.role)}</strong> joined{item.name ? ` as ${roleTitle(item.role)}` : ''}
          </span>
        </div>
      )
    case 'message':
      return (
        <div className="msg msg-agent" data-testid="agent-message" data-role={item.role}>
          <Avatar role={item.role} name={item.name} />
          <div className="msg-body">
            <Speaker role={item.role} name={item.name} />
            <div className={item.streaming ? 'msg-text streaming' : 'msg-text'}>
              <Markdown text={item.text} />
            </div>
          </div>
        </div>
      )
    case 'plan': {
      const done = item.steps.filter((s) => s.status === 'done').length
      return (
        <div className="plan-card" data-testid="plan">
          <div className="plan-head">
            <Icon name="list" size={15} />
            <span>Plan</span>
            <span className="plan-by">by {roleTitle(item.role)}</span>
            {item.steps.length > 0 && (
              <span className="plan-count">
                {done}/{item.steps.length}
              </span>
            )}
          </div>
          {item.steps.length > 0 ? (
            <ol className="plan-steps">
              {item.steps.map((s, i) => (
                <li key={i} className={`step step-${s.status}`}>
                  <span className="step-dot" aria-hidden="true">
                    {s.status === 'done' ? <Icon name="check" size={11} /> : s.status === 'active' ? <Spinner size={10} /> : s.status === 'failed' ? <Icon name="x" size={11} /> : i + 1}
                  </span>
                  <span className="step-title">{s.title}</span>
                  {s.role && <span className="step-role">{roleTitle(s.role)}</span>}
                  <span className="sr-only">({s.status})</span>
                </li>
              ))}
            </ol>
          ) : (
            item.text && <Markdown text={item.text} />
          )}
        </div>
      )
    }
    case 'tool':
      return <ToolLine item={item} />
    case 'handoff':
      return (
        <div className={`handoff handoff-${item.status}`} data-testid="handoff">
          <Avatar role={item.to} size={22} />
          <div className="handoff-body">
            <div className="handoff-head">
              <span>
                <strong>{roleTitle(item.from)}</strong> → <strong>{roleTitle(item.to)}</strong>
              </span>
              <span className="handoff-status" aria-label={item.status === 'running' ? 'in progress' : item.status === 'ok' ? 'done' : 'failed'}>
                {item.status === 'running' ? <Spinner size={11} /> : item.status === 'ok' ? <Icon name="check" size={12} /> : <Icon name="x" size={12} />}
              </span>
            </div>
            {item.task && <div className="handoff-task">{item.task}</div>}
          </div>
        </div>
      )
    case 'files':
      return (
        <div className="files-changed" data-testid="files-changed">
          <Icon name="file" size={13} />
          <span>
            {roleTitle(item.role)} changed {item.paths.length === 1 ? '1 file' : `${item.paths.length} files`}
          </span>
          <span className="file-chips">
            {item.paths.slice(0, 6).map((p) => (
              <button key={p} type="button" className="chip chip-file" onClick={() => actions?.onOpenFile?.(p)} title={`Open ${p}`}>
                {p.split('/').pop()}
              </button>
            ))}
            {item.paths.length > 6 && <span className="chip">+{item.paths.length - 6}</span>}
          </span>
        </div>
      )
    case 'preview':
      return (
        <div className="event-preview" data-testid="preview-ready">
          <span className="pulse-dot" aria-hidden="true" />
          <span>The preview is running.</span>
          {actions?.onShowPreview && (
            <button type="button" className="link-btn" onClick={actions.onShowPreview}>
              Show preview
            </button>
          )}
        </div>
      )
    case 'error':
      return <ErrorCard item={item} />
    case 'finish':
      return (
        <div className={`event-finish finish-${item.status}`} data-testid="finish" data-status={item.status}>
          <span className="finish-pill">
            <Icon name={item.status === 'succeeded' ? 'check' : item.status === 'cancelled' ? 'stop' : 'alert'} size={12} />
            {FINISH_LABEL[item.status] ?? item.status}
          </span>
          {item.summary && <span className="finish-summary">{item.summary}</span>}
        </div>
      )
  }
}
