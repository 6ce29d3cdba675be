// The read-only terminal of the app's dev container over a WebSocket. Browsers cannot set
// an Authorization header on a WebSocket, so it asks for a short-lived single-use ticket.
import { useCallback, useEffect, useRef, useState } from 'react'
import type { Api } from '../lib/api'
import { errorText } from '../lib/api'
import { Icon, Spinner } from './Icon'
import { Empty } from './States'

type Status = 'connecting' | 'open' | 'closed' | 'unavailable' | 'error'

export function terminalUrl(slug: string, ticket: string, loc: Location = window.location): string {
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${loc.host}/api/apps/${encodeURIComponent(slug)}/terminal?ticket=${encodeURIComponent(ticket)}`
}

export function Console({ api, slug, active }: { api: Api; slug: string; active: boolean }) {
  const host = useRef<HTMLDivElement>(null)
  const [status, setStatus] = useState<Status>('connecting')
  const [detail, setDetail] = useState<string>()
  const [attempt, setAttempt] = useState(0)
  const fitRef = useRef<(() => void) | null>(null)

  const reconnect = useCallback(() => setAttempt((a) => a + 1), [])

  useEffect(() => {
    if (active) fitRef.current?.()
  }, [active])

  useEffect(() => {
    let disposed = false
    let ws: WebSocket | null = null
    let cleanupTerm: (() => void) | null = null
    setStatus('connecting')
    setDetail(undefined)
    ;(async () => {
      const [{ Terminal }, { FitAddon }] = await Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')])
      await import('@xterm/xterm/css/xterm.css')
      if (disposed || !host.current) return
      const css = getComputedStyle(document.documentElement)
      const term = new Terminal({
        disableStdin: true,
        convertEol: true,
        cursorBlink: false,
        fontFamily: css.getPropertyValue('--mono').trim() || 'monospace',
        fontSize: 12.5,
        scrollback: 5000,
        theme: {
          background: css.getPropertyValue('--term-bg').trim() || '#0b0d12',
          foreground: css.getPropertyValue('--term-fg').trim() || '#e6e6ef',
          cursor: 'transparent',
        },
      })
      const fit = new FitAddon()
      term.loadAddon(fit)
      term.open(host.current)
      const doFit = () => {
        try {
          fit.fit()
        } catch {
          /* hidden */
        }
      }
      fitRef.current = doFit
      doFit()
      const ro = new ResizeObserver(doFit)
      ro.observe(host.current)
      cleanupTerm = () => {
        ro.disconnect()
        term.dispose()
      }
      let ticket: string | null
      try {
        ticket = await api.ticket('terminal', slug)
      } catch (e) {
        if (!disposed) {
          setStatus('error')
          setDetail(errorText(e))
        }
        return
      }
      if (disposed) return
      if (!ticket) {
        setStatus('unavailable')
        return
      }
      ws = new WebSocket(terminalUrl(slug, ticket))
      ws.binaryType = 'arraybuffer'
      ws.onopen = () => !disposed && setStatus('open')
      ws.onmessage = (m) => {
        if (typeof m.data === 'string') term.write(m.data)
        else term.write(new Uint8Array(m.data as ArrayBuffer))
      }
      ws.onerror = () => !disposed && setDetail('The connection failed.')
      ws.onclose = (e) => {
        if (disposed) return
        setStatus('closed')
        if (e.reason) setDetail(e.reason)
        term.write('\r\n\x1b[2m— disconnected —\x1b[0m\r\n')
      }
    })().catch((e) => {
      if (!disposed) {
        setStatus('error')
        setDetail(errorText(e))
      }
    })
    return () => {
      disposed = true
      ws?.close()
      cleanupTerm?.()
      fitRef.current = null
    }
  }, [api, slug, attempt])

  return (
    <div className="console">
      <div className="console-bar">
        <Icon name="terminal" size={14} />
        <span>Dev container · read-only</span>
        <span className={`console-status cs-${status}`} data-testid="console-status">
          {status === 'connecting' && <Spinner size={10} />}
          {status === 'open' ? 'Connected' : status === 'connecting' ? 'Connecting…' : status === 'closed' ? 'Disconnected' : status === 'unavailable' ? 'Unavailable' : 'Error'}
        </span>
        {(status === 'closed' || status === 'error') && (
          <button type="button" className="btn btn-sm" onClick={reconnect}>
            <Icon name="refresh" size={12} /> Reconnect
          </button>
        )}
      </div>
      {status === 'unavailable' ? (
        <Empty icon="terminal" title="The terminal is not available yet">
          This MGX server does not hand out terminal tickets. The chat and the preview still show what the team is doing.
        </Empty>
      ) : status === 'error' ? (
        <Empty icon="alert" title="Could not open the terminal" action={<button type="button" className="btn" onClick={reconnect}>Try again</button>}>
          {detail}
        </Empty>
      ) : null}
      <div className="term-host" ref={host} hidden={status === 'unavailable' || status === 'error'} data-testid="terminal" />
    </div>
  )
}
