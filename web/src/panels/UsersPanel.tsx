// The Users panel: the app's end users (its realm in MGX's OAuth provider). Search,
// page, create, rename, disable/enable, set a new password, sign out everywhere, delete.
import { useCallback, useEffect, useState } from 'react'
import { errorText } from '../lib/api'
import { timeAgo } from '../lib/format'
import { Icon, Spinner } from '../components/Icon'
import { Empty, ErrorState } from '../components/States'
import type { PanelProps } from './types'

export interface AppUser {
  id: string
  email: string
  name: string
  disabled: boolean
  created: string
}

interface Page {
  users: AppUser[]
  total: number
}

const PAGE = 20

export default function UsersPanel({ api, slug, active }: PanelProps) {
  const base = `/api/apps/${encodeURIComponent(slug)}/users`
  const [q, setQ] = useState('')
  const [skip, setSkip] = useState(0)
  const [page, setPage] = useState<Page | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [form, setForm] = useState({ email: '', name: '', password: '' })
  const [showCreate, setShowCreate] = useState(false)

  const load = useCallback(async () => {
    try {
      const p = await api.json<Page>(`${base}?q=${encodeURIComponent(q)}&limit=${PAGE}&skip=${skip}`)
      setPage(p)
      setError(null)
    } catch (e) {
      setError(errorText(e))
    }
  }, [api, base, q, skip])

  useEffect(() => {
    if (active) void load()
  }, [active, load])

  const act = async (what: string, f: () => Promise<unknown>) => {
    setBusy(true)
    setNotice(null)
    try {
      await f()
      setNotice(what)
      await load()
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  const patch = (u: AppUser, body: object, what: string) =>
    act(what, () => api.json(`${base}/${encodeURIComponent(u.id)}`, { method: 'PATCH', body: JSON.stringify(body) }))

  const create = (e: React.FormEvent) => {
    e.preventDefault()
    void act(`Created ${form.email}.`, async () => {
      await api.json(base, { method: 'POST', body: JSON.stringify(form) })
      setForm({ email: '', name: '', password: '' })
      setShowCreate(false)
    })
  }

  const resetPassword = (u: AppUser) => {
    const pw = window.prompt(`New password for ${u.email} (at least 8 characters):`)
    if (pw) void patch(u, { password: pw, revoke_tokens: true }, `Password of ${u.email} changed; signed out everywhere.`)
  }

  if (page === null && error) return <div className="panel" data-testid="panel-users"><ErrorState message={error} onRetry={load} /></div>

  return (
    <div className="panel" data-testid="panel-users" style={{ display: 'flex', flexDirection: 'column', gap: 12, overflow: 'auto' }}>
      <div className="section-head" style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}>
        <input
          className="url-field"
          aria-label="Search users"
          placeholder="Search by email or name"
          value={q}
          onChange={(e) => { setQ(e.target.value); setSkip(0) }}
          style={{ flex: '1 1 16rem' }}
        />
        <button className="btn btn-primary btn-sm" onClick={() => setShowCreate((s) => !s)} aria-expanded={showCreate}>
          <Icon name="plus" /> New user
        </button>
        {busy && <Spinner label="Working" />}
      </div>
      {showCreate && (
        <form onSubmit={create} style={{ display: 'flex', gap: 8, flexWrap: 'wrap' }} aria-label="Create a user">
          <input className="url-field" required type="email" placeholder="email" aria-label="Email" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
          <input className="url-field" placeholder="name" aria-label="Name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          <input className="url-field" required minLength={8} type="password" placeholder="password (8+)" aria-label="Password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
          <button className="btn btn-sm btn-primary" type="submit" disabled={busy}>Create</button>
        </form>
      )}
      {error && <div className="form-error" role="alert">{error}</div>}
      {notice && <div className="muted" role="status">{notice}</div>}
      {page === null ? (
        <Spinner label="Loading users" />
      ) : page.users.length === 0 ? (
        <Empty icon="users" title={q ? 'No user matches' : 'No users yet'}>
          <p>People who sign in to your app at /apps/{slug}/ or its preview appear here. You can also create them.</p>
        </Empty>
      ) : (
        <table className="table" data-testid="users-table">
          <thead>
            <tr><th>Email</th><th>Name</th><th>Status</th><th>Created</th><th aria-label="Actions" /></tr>
          </thead>
          <tbody>
            {page.users.map((u) => (
              <tr key={u.id}>
                <td>{u.email}</td>
                <td>{u.name || <span className="muted">—</span>}</td>
                <td>{u.disabled ? <span className="state state-failed">Disabled</span> : <span className="state state-live">Active</span>}</td>
                <td className="muted">{timeAgo(u.created)}</td>
                <td style={{ whiteSpace: 'nowrap' }}>
                  <button className="btn btn-sm btn-ghost" disabled={busy} onClick={() => {
                    const name = window.prompt('Name', u.name)
                    if (name !== null) void patch(u, { name }, `Renamed ${u.email}.`)
                  }}>Rename</button>
                  <button className="btn btn-sm btn-ghost" disabled={busy} onClick={() => patch(u, { disabled: !u.disabled, revoke_tokens: !u.disabled }, u.disabled ? `Enabled ${u.email}.` : `Disabled ${u.email} and signed them out.`)}>
                    {u.disabled ? 'Enable' : 'Disable'}
                  </button>
                  <button className="btn btn-sm btn-ghost" disabled={busy} onClick={() => resetPassword(u)}>Reset password</button>
                  <button className="btn btn-sm btn-ghost" disabled={busy} onClick={() => patch(u, { revoke_tokens: true }, `Signed ${u.email} out everywhere.`)}>Sign out</button>
                  <button className="btn btn-sm btn-ghost" disabled={busy} onClick={() => {
                    if (window.confirm(`Delete ${u.email}? This cannot be undone.`)) void act(`Deleted ${u.email}.`, () => api.json(`${base}/${encodeURIComponent(u.id)}`, { method: 'DELETE' }))
                  }}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page && page.total > PAGE && (
        <div style={{ display: 'flex', gap: 8, alignItems: 'center' }}>
          <button className="btn btn-sm" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - PAGE))}>Previous</button>
          <span className="muted">{skip + 1}–{Math.min(skip + PAGE, page.total)} of {page.total}</span>
          <button className="btn btn-sm" disabled={skip + PAGE >= page.total} onClick={() => setSkip(skip + PAGE)}>Next</button>
        </div>
      )}
    </div>
  )
}
