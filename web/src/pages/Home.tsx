import { useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import { errorText } from '../lib/api'
import { useServices } from '../lib/context'
import { APP_STATE_LABEL, appState, deriveAppState, timeAgo, type AppState } from '../lib/format'
import { navigate, onLinkClick } from '../lib/router'
import type { App, Framework, Session } from '../lib/types'
import { sessionSlug } from '../lib/types'
import { useAsync } from '../lib/useAsync'
import { Icon, Spinner } from '../components/Icon'
import { Empty, ErrorState } from '../components/States'

const EXAMPLES: { title: string; prompt: string; framework: Framework }[] = [
  { title: 'Habit tracker', framework: 'nextjs', prompt: 'A habit tracker where I add daily habits, tick them off and see a 30-day streak calendar for each.' },
  { title: 'Team wiki', framework: 'fastapi-react', prompt: 'A small team wiki: pages in Markdown with a sidebar, full-text search and edit history.' },
  { title: 'Recipe box', framework: 'nextjs', prompt: 'A recipe box: save recipes with photos and ingredients, scale servings, and build a weekly shopping list.' },
  { title: 'Support inbox', framework: 'fastapi-react', prompt: 'A customer support inbox: tickets with status and priority, assignment to teammates, and canned replies.' },
]

const FRAMEWORKS: { id: Framework; label: string; hint: string }[] = [
  { id: 'nextjs', label: 'Next.js', hint: 'One full-stack React app' },
  { id: 'fastapi-react', label: 'FastAPI + React', hint: 'Python API with a React front end' },
]

function PromptBox() {
  const { api } = useServices()
  const [prompt, setPrompt] = useState('')
  const [framework, setFramework] = useState<Framework>('nextjs')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()
  const ref = useRef<HTMLTextAreaElement>(null)

  const submit = async (e?: FormEvent) => {
    e?.preventDefault()
    const p = prompt.trim()
    if (!p || busy) return
    setBusy(true)
    setError(undefined)
    try {
      const s = await api.createSession(p, framework)
      navigate(`/sessions/${encodeURIComponent(s.id)}`, {})
    } catch (err) {
      setError(errorText(err))
      setBusy(false)
    }
  }
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) {
      e.preventDefault()
      void submit()
    }
  }

  return (
    <form className="prompt-card" onSubmit={submit} aria-busy={busy}>
      <label htmlFor="prompt" className="sr-only">
        Describe the app you want
      </label>
      <textarea
        id="prompt"
        data-testid="prompt"
        ref={ref}
        value={prompt}
        onChange={(e) => setPrompt(e.target.value)}
        onKeyDown={onKey}
        rows={4}
        placeholder="Describe the app you want — who uses it, what they do, how it should look…"
        autoFocus
      />
      <div className="prompt-bar">
        <div className="segmented" role="radiogroup" aria-label="Framework">
          {FRAMEWORKS.map((f) => (
            <label key={f.id} className={framework === f.id ? 'seg active' : 'seg'} title={f.hint}>
              <input type="radio" name="framework" value={f.id} checked={framework === f.id} onChange={() => setFramework(f.id)} data-testid={`framework-${f.id}`} />
              {f.label}
            </label>
          ))}
        </div>
        <span className="prompt-hint">
          <kbd>Ctrl</kbd> <kbd>Enter</kbd>
        </span>
        <button type="submit" className="btn btn-primary" disabled={!prompt.trim() || busy} data-testid="create">
          {busy ? <Spinner size={14} /> : <Icon name="sparkles" size={15} />}
          {busy ? 'Starting…' : 'Build it'}
        </button>
      </div>
      {error && (
        <div className="form-error" role="alert">
          <Icon name="alert" size={14} /> {error}
        </div>
      )}
      <div className="examples" aria-label="Example prompts">
        {EXAMPLES.map((ex) => (
          <button
            key={ex.title}
            type="button"
            className="chip chip-example"
            onClick={() => {
              setPrompt(ex.prompt)
              setFramework(ex.framework)
              ref.current?.focus()
            }}
          >
            <Icon name="sparkles" size={12} /> {ex.title}
          </button>
        ))}
      </div>
    </form>
  )
}

export function StateBadge({ status, state, label }: { status?: string; state?: AppState; label?: string }) {
  const st = state ?? appState(status)
  return (
    <span className={`state state-${st}`} data-testid="app-state" data-state={st}>
      <span className="state-dot" aria-hidden="true" />
      {label ?? APP_STATE_LABEL[st]}
    </span>
  )
}

function AppCard({ app, session }: { app: App; session?: Session }) {
  const sid = session?.id ?? app.latest_session_id ?? app.session_id
  const href = sid ? `/sessions/${encodeURIComponent(sid)}` : undefined
  const state = deriveAppState(app, session?.status)
  const fw = app.framework ?? session?.framework
  const body = (
    <>
      <div className="app-card-top">
        <div className="app-thumb" aria-hidden="true" style={{ ['--hue' as string]: String((app.slug.length * 47) % 360) }}>
          {(app.name ?? app.slug).slice(0, 1).toUpperCase()}
        </div>
        <StateBadge state={state} />
      </div>
      <h3 className="app-name">{app.name ?? app.slug}</h3>
      <p className="app-prompt">{session?.prompt ?? `/${app.slug}`}</p>
      <div className="app-meta">
        {fw && <span className="fw">{fw === 'fastapi-react' ? 'FastAPI + React' : fw === 'nextjs' ? 'Next.js' : fw}</span>}
        <span>{timeAgo(app.updated_at ?? session?.updated_at ?? app.created_at)}</span>
      </div>
    </>
  )
  return href ? (
    <a className="app-card" href={href} onClick={(e) => onLinkClick(e, href)} data-testid="app-card">
      {body}
    </a>
  ) : (
    <div className="app-card disabled" data-testid="app-card">
      {body}
    </div>
  )
}

function AppsGrid() {
  const { api } = useServices()
  const apps = useAsync(async () => {
    const [a, s] = await Promise.all([api.apps(), api.sessions().catch(() => [] as Session[])])
    return { apps: a, sessions: s }
  }, [api])
  const latest = useMemo(() => {
    const m = new Map<string, Session>()
    for (const s of apps.data?.sessions ?? []) {
      const slug = sessionSlug(s)
      if (!slug) continue
      const prev = m.get(slug)
      if (!prev || (s.created_at ?? '') > (prev.created_at ?? '')) m.set(slug, s)
    }
    return m
  }, [apps.data])

  if (apps.loading && !apps.data)
    return (
      <div className="apps-grid" aria-busy="true" aria-label="Loading your apps">
        {[0, 1, 2].map((i) => (
          <div key={i} className="app-card skeleton" />
        ))}
      </div>
    )
  if (apps.error && !apps.data) return <ErrorState title="Your apps could not be loaded" message={errorText(apps.error)} onRetry={apps.reload} />
  const list = apps.data?.apps ?? []
  if (list.length === 0)
    return (
      <Empty icon="sparkles" title="No apps yet">
        Describe one above and the team will build it — you will watch every step.
      </Empty>
    )
  const sorted = [...list].sort((a, b) => (b.updated_at ?? b.created_at ?? '').localeCompare(a.updated_at ?? a.created_at ?? ''))
  return (
    <div className="apps-grid" data-testid="apps">
      {sorted.map((a) => (
        <AppCard key={a.slug} app={a} session={latest.get(a.slug)} />
      ))}
    </div>
  )
}

export function Home() {
  const { me } = useServices()
  const first = (me?.name ?? me?.email ?? '').split(/[\s@]/)[0]
  return (
    <main className="home" id="main">
      <section className="hero">
        <div className="hero-glow" aria-hidden="true" />
        <h1>
          {first ? <>What shall we build, {first}?</> : <>What shall we build?</>}
        </h1>
        <p className="hero-sub">Describe an app. A team of AI agents plans it, writes it and runs it — you watch, edit and ship.</p>
        <PromptBox />
      </section>
      <section className="apps-section" aria-labelledby="apps-h">
        <div className="section-head">
          <h2 id="apps-h">Your apps</h2>
        </div>
        <AppsGrid />
      </section>
    </main>
  )
}
