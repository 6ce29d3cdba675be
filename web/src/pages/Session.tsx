import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { errorText, ApiError } from '../lib/api'
import { useServices } from '../lib/context'
import { deriveAppState, formatTokens, type AppState } from '../lib/format'
import { onLinkClick } from '../lib/router'
import type { AgentEvent, FileEntry } from '../lib/types'
import { sessionSlug } from '../lib/types'
import { useAsync } from '../lib/useAsync'
import { useEventStream } from '../lib/useEventStream'
import { Chat, type PendingMessage } from '../components/Chat'
import { EditorPane, type FileChange } from '../components/EditorPane'
import { ErrorBoundary } from '../components/ErrorBoundary'
import { Icon, Spinner, type IconName } from '../components/Icon'
import { Preview } from '../components/Preview'
import { ErrorState, Loading } from '../components/States'
import { StateBadge } from './Home'
import type { PanelProps } from '../panels/types'

const Console = lazy(() => import('../components/Console').then((m) => ({ default: m.Console })))
const DeployPanel = lazy(() => import('../panels/DeployPanel'))
const LogsPanel = lazy(() => import('../panels/LogsPanel'))
const UsersPanel = lazy(() => import('../panels/UsersPanel'))
const DatabasePanel = lazy(() => import('../panels/DatabasePanel'))

type Tab = 'preview' | 'code' | 'console' | 'deploy' | 'logs' | 'users' | 'database'
const TABS: { id: Tab; label: string; icon: IconName }[] = [
  { id: 'preview', label: 'Preview', icon: 'eye' },
  { id: 'code', label: 'Code', icon: 'code' },
  { id: 'console', label: 'Console', icon: 'terminal' },
  { id: 'deploy', label: 'Deploy', icon: 'rocket' },
  { id: 'logs', label: 'Logs', icon: 'logs' },
  { id: 'users', label: 'Users', icon: 'users' },
  { id: 'database', label: 'Database', icon: 'database' },
]
const PANELS: Partial<Record<Tab, React.ComponentType<PanelProps>>> = {
  deploy: DeployPanel,
  logs: LogsPanel,
  users: UsersPanel,
  database: DatabasePanel,
}

export function SessionPage({ id }: { id: string }) {
  const { api } = useServices()
  const session = useAsync(() => api.session(id), [api, id])
  const s = session.data
  const slug = sessionSlug(s)
  const workspaceId = s?.workspace_id

  const [tab, setTab] = useState<Tab>('preview')
  const [visited, setVisited] = useState<Set<Tab>>(() => new Set(['preview']))
  const [openPath, setOpenPath] = useState<string>()
  const [lastChange, setLastChange] = useState<FileChange>()
  const [seen, setSeen] = useState<Map<string, number>>(() => new Map())
  const [agentChanged, setAgentChanged] = useState<Map<string, number>>(() => new Map())
  const [previewSignal, setPreviewSignal] = useState(0)
  const [pending, setPending] = useState<PendingMessage[]>([])
  const [runStartedAt, setRunStartedAt] = useState<number>()
  const [chatOpen, setChatOpen] = useState(true)

  const files = useAsync<FileEntry[] | undefined>(async () => (workspaceId ? api.files(workspaceId) : undefined), [api, workspaceId])
  const reloadTimer = useRef<ReturnType<typeof setTimeout>>(undefined)
  const reloadFilesSoon = useCallback(() => {
    clearTimeout(reloadTimer.current)
    reloadTimer.current = setTimeout(files.reload, 700)
  }, [files.reload])
  // The session (its app's dev environment, its run status) changes at the end of a run.
  const sessionTimer = useRef<ReturnType<typeof setTimeout>>(undefined)
  const refreshSessionSoon = useCallback(() => {
    clearTimeout(sessionTimer.current)
    sessionTimer.current = setTimeout(session.reload, 1500)
  }, [session.reload])
  useEffect(
    () => () => {
      clearTimeout(reloadTimer.current)
      clearTimeout(sessionTimer.current)
    },
    [],
  )

  const onEvent = useCallback(
    (ev: AgentEvent) => {
      if (ev.type === 'FILE_CHANGED') {
        const d = ev.data ?? {}
        const paths = [d.path, d.file, ...(Array.isArray(d.paths) ? d.paths : [])].filter((p): p is string => typeof p === 'string')
        // Marks are for the agents' changes; people's saves (role "user") only refresh.
        if (ev.role !== 'user')
          setAgentChanged((m) => {
            const n = new Map(m)
            for (const p of paths) n.set(p.replace(/^\/+/, ''), ev.seq)
            return n
          })
        const etag = typeof d.etag === 'string' ? d.etag : undefined
        for (const p of paths) setLastChange({ path: p.replace(/^\/+/, ''), seq: ev.seq, role: ev.role, etag })
        reloadFilesSoon()
      } else if (ev.type === 'PREVIEW_READY') {
        setPreviewSignal((n) => n + 1)
        refreshSessionSoon()
      } else if (ev.type === 'AGENT_START' || ev.type === 'PLAN') {
        setRunStartedAt((t) => t ?? (ev.ts ? Date.parse(ev.ts) || Date.now() : Date.now()))
      } else if (ev.type === 'FINISH') {
        setRunStartedAt(undefined)
        reloadFilesSoon()
        refreshSessionSoon()
      }
    },
    [reloadFilesSoon, refreshSessionSoon],
  )

  const stream = useEventStream(s?.id, s ? api.eventsUrl(s.id) : undefined, api.getToken, onEvent)
  const tl = stream.timeline

  const changedUnseen = useMemo(() => {
    const out = new Set<string>()
    for (const [p, seq] of agentChanged) if ((seen.get(p) ?? -1) < seq) out.add(p)
    return out
  }, [agentChanged, seen])

  const openFile = useCallback(
    (p: string) => {
      const path = p.replace(/^\/+/, '')
      setOpenPath(path)
      setSeen((m) => new Map(m).set(path, Number.MAX_SAFE_INTEGER))
      setTab('code')
      setVisited((v) => new Set(v).add('code'))
    },
    [],
  )
  // Mark as seen again when the agents change an open file (the editor shows it).
  useEffect(() => {
    if (lastChange && lastChange.path === openPath) setSeen((m) => new Map(m).set(lastChange.path, lastChange.seq))
  }, [lastChange, openPath])

  const select = (t: Tab) => {
    setTab(t)
    setVisited((v) => new Set(v).add(t))
  }

  const send = async (text: string) => {
    const pid = `p${Date.now()}`
    setPending((p) => [...p, { id: pid, text }])
    try {
      await api.sendMessage(id, text)
      setRunStartedAt((t) => t ?? Date.now())
    } catch (e) {
      setPending((p) => p.map((m) => (m.id === pid ? { ...m, failed: errorText(e) } : m)))
    }
  }
  const cancel = () => {
    void api.cancel(id).catch(() => {})
  }

  if (session.loading && !s) return <Loading label="Opening the session…" />
  if (session.error && !s) {
    const nf = session.error instanceof ApiError && session.error.status === 404
    return (
      <main className="page-center">
        <ErrorState
          title={nf ? 'Session not found' : 'The session could not be opened'}
          message={nf ? 'It does not exist, or it belongs to someone else.' : errorText(session.error)}
          onRetry={nf ? undefined : session.reload}
        />
      </main>
    )
  }
  if (!s) return null

  const failed = !tl.running && !!tl.lastStatus && tl.lastStatus !== 'succeeded'
  // The header shows the app's state as the home page does: building, preview running, failed.
  const devRunning = deriveAppState(s.app) === 'preview' || deriveAppState(s.app) === 'live'
  const state: AppState = tl.running
    ? 'building'
    : failed && !tl.previewReady
      ? 'failed'
      : tl.previewReady || devRunning
        ? 'preview'
        : deriveAppState(s.app, s.status)

  return (
    <main className={`session${chatOpen ? '' : ' chat-collapsed'}`} id="main">
      <div className="session-head">
        <a href="/" className="icon-btn" onClick={(e) => onLinkClick(e, '/')} aria-label="All apps" title="All apps">
          <Icon name="home" size={15} />
        </a>
        <button type="button" className="icon-btn" onClick={() => setChatOpen((o) => !o)} aria-pressed={chatOpen} aria-label={chatOpen ? 'Hide chat' : 'Show chat'} title={chatOpen ? 'Hide chat' : 'Show chat'}>
          <Icon name="panel" size={15} />
        </button>
        <h1 className="session-title" data-testid="session-title">
          {s.app?.name ?? s.name ?? slug ?? 'Session'}
        </h1>
        {slug && <span className="slug">/{slug}</span>}
        <StateBadge state={state} label={state === 'idle' && tl.lastStatus === 'succeeded' ? 'Built' : undefined} />
        <span className="grow" />
        {tl.usage.total > 0 && (
          <span className="tokens-pill" title={`${tl.usage.input.toLocaleString()} input · ${tl.usage.output.toLocaleString()} output`}>
            {formatTokens(tl.usage.total)} tokens
          </span>
        )}
      </div>
      <div className="session-body">
        {chatOpen && (
          <Chat
            timeline={tl}
            stream={stream.state}
            prompt={s.prompt}
            pending={pending}
            onSend={send}
            onCancel={cancel}
            runStartedAt={runStartedAt}
            actions={{ onOpenFile: openFile, onShowPreview: () => select('preview') }}
          />
        )}
        <section className="workspace" aria-label="Workspace">
          <div className="tabs" role="tablist" aria-label="Workspace views">
            {TABS.map((t, i) => (
              <button
                key={t.id}
                type="button"
                role="tab"
                id={`tab-${t.id}`}
                aria-selected={tab === t.id}
                aria-controls={`panel-${t.id}`}
                tabIndex={tab === t.id ? 0 : -1}
                className={`tab${tab === t.id ? ' active' : ''}${i === 3 ? ' tab-sep' : ''}`}
                title={t.label}
                onClick={() => select(t.id)}
                onKeyDown={(e) => {
                  if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return
                  const n = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length]
                  select(n.id)
                  document.getElementById(`tab-${n.id}`)?.focus()
                }}
                data-testid={`tab-${t.id}`}
              >
                <Icon name={t.icon} size={14} />
                <span className="tab-label">{t.label}</span>
                {t.id === 'code' && changedUnseen.size > 0 && <span className="tab-badge">{changedUnseen.size}</span>}
                {t.id === 'preview' && tl.previewReady && <span className="pulse-dot small" aria-label="running" />}
              </button>
            ))}
          </div>
          <div className="tab-panels">
            <div role="tabpanel" id="panel-preview" aria-labelledby="tab-preview" hidden={tab !== 'preview'} className="tab-panel">
              {slug ? (
                <Preview slug={slug} ready={tl.previewReady || devRunning} reloadSignal={previewSignal} failed={failed} />
              ) : (
                <Loading label="Waiting for the app…" />
              )}
            </div>
            {visited.has('code') && (
              <div role="tabpanel" id="panel-code" aria-labelledby="tab-code" hidden={tab !== 'code'} className="tab-panel">
                {workspaceId ? (
                  <ErrorBoundary what="The editor">
                  <EditorPane
                    api={api}
                    workspaceId={workspaceId}
                    files={files.data}
                    filesError={files.error}
                    filesLoading={files.loading}
                    onReloadFiles={files.reload}
                    changed={changedUnseen}
                    lastChange={lastChange}
                    openPath={openPath}
                    onOpenPath={openFile}
                  />
                  </ErrorBoundary>
                ) : (
                  <Loading />
                )}
              </div>
            )}
            {visited.has('console') && slug && (
              <div role="tabpanel" id="panel-console" aria-labelledby="tab-console" hidden={tab !== 'console'} className="tab-panel">
                <ErrorBoundary what="The console">
                  <Suspense fallback={<Loading label="Loading the terminal…" />}>
                    <Console api={api} slug={slug} active={tab === 'console'} />
                  </Suspense>
                </ErrorBoundary>
              </div>
            )}
            {(['deploy', 'logs', 'users', 'database'] as const).map((t) => {
              const P = PANELS[t]
              if (!P || !visited.has(t) || !slug) return null
              return (
                <div key={t} role="tabpanel" id={`panel-${t}`} aria-labelledby={`tab-${t}`} hidden={tab !== t} className="tab-panel">
                  <ErrorBoundary what={`The ${TABS.find((x) => x.id === t)?.label} panel`} resetKey={s.id}>
                    <Suspense fallback={<Loading />}>
                      <P api={api} slug={slug} app={s.app} session={s} active={tab === t} />
                    </Suspense>
                  </ErrorBoundary>
                </div>
              )
            })}
          </div>
        </section>
      </div>
      {tl.running && <span className="sr-only" role="status"><Spinner /> The team is working</span>}
    </main>
  )
}
