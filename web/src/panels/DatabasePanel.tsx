// The Database panel: the app's collections with counts, a query bar (filter, sort as
// JSON), a paged document list, a JSON editor to insert, replace and delete, and export.
import { useCallback, useEffect, useState } from 'react'
import { errorText } from '../lib/api'
import { Icon, Spinner } from '../components/Icon'
import { Empty, ErrorState } from '../components/States'
import type { PanelProps } from './types'

interface Collection {
  name: string
  count: number
}

type Doc = Record<string, unknown> & { _id?: unknown }

const PAGE = 25

/** The document's id as the API takes it in a path: an ObjectId's hex or the plain value. */
export function docId(d: Doc): string {
  const id = d._id as unknown
  if (id && typeof id === 'object' && '$oid' in (id as Record<string, unknown>)) return String((id as Record<string, unknown>).$oid)
  return String(id)
}

/** Parses a JSON object typed by a person, with a readable error. */
export function parseObject(text: string, what: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(text.trim() === '' ? '{}' : text)
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a JSON object`)
  return v as Record<string, unknown>
}

export default function DatabasePanel({ api, slug, active }: PanelProps) {
  const base = `/api/apps/${encodeURIComponent(slug)}/db/collections`
  const [colls, setColls] = useState<Collection[] | null>(null)
  const [current, setCurrent] = useState<string | null>(null)
  const [filter, setFilter] = useState('{}')
  const [sort, setSort] = useState('{"_id": -1}')
  const [skip, setSkip] = useState(0)
  const [docs, setDocs] = useState<{ documents: Doc[]; total: number } | null>(null)
  const [editing, setEditing] = useState<{ id: string | null; text: string } | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const loadCollections = useCallback(async () => {
    try {
      const r = await api.json<{ collections: Collection[] }>(base)
      setColls(r.collections)
      setError(null)
      setCurrent((c) => c ?? r.collections[0]?.name ?? null)
    } catch (e) {
      setError(errorText(e))
    }
  }, [api, base])

  const loadDocs = useCallback(async () => {
    if (!current) return
    try {
      parseObject(filter, 'Filter')
      parseObject(sort, 'Sort')
      const qs = `filter=${encodeURIComponent(filter || '{}')}&sort=${encodeURIComponent(sort || '{}')}&limit=${PAGE}&skip=${skip}`
      setDocs(await api.json(`${base}/${encodeURIComponent(current)}/documents?${qs}`))
      setError(null)
    } catch (e) {
      setError(errorText(e))
    }
  }, [api, base, current, filter, sort, skip])

  useEffect(() => {
    if (active) void loadCollections()
  }, [active, loadCollections])
  useEffect(() => {
    if (active) void loadDocs()
  }, [active, current, skip]) // eslint-disable-line react-hooks/exhaustive-deps

  const save = async () => {
    if (!editing || !current) return
    setBusy(true)
    try {
      const body = JSON.stringify(parseObject(editing.text, 'Document'))
      const url = editing.id === null ? `${base}/${encodeURIComponent(current)}/documents` : `${base}/${encodeURIComponent(current)}/documents/${encodeURIComponent(editing.id)}`
      await api.json(url, { method: editing.id === null ? 'POST' : 'PUT', body })
      setEditing(null)
      await Promise.all([loadDocs(), loadCollections()])
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  const remove = async (d: Doc) => {
    if (!current || !window.confirm('Delete this document?')) return
    try {
      await api.json(`${base}/${encodeURIComponent(current)}/documents/${encodeURIComponent(docId(d))}`, { method: 'DELETE' })
      await Promise.all([loadDocs(), loadCollections()])
    } catch (e) {
      setError(errorText(e))
    }
  }

  const exportJSON = async () => {
    if (!current) return
    try {
      const res = await api.raw(`${base}/${encodeURIComponent(current)}/export`)
      const blob = await res.blob()
      const a = document.createElement('a')
      a.href = URL.createObjectURL(blob)
      a.download = `${slug}-${current}.json`
      a.click()
      URL.revokeObjectURL(a.href)
    } catch (e) {
      setError(errorText(e))
    }
  }

  if (colls === null && error) return <div className="panel" data-testid="panel-database"><ErrorState message={error} onRetry={loadCollections} /></div>
  if (colls === null) return <div className="panel" data-testid="panel-database"><Spinner label="Loading collections" /></div>
  if (colls.length === 0)
    return (
      <div className="panel" data-testid="panel-database">
        <Empty icon="database" title="No collections yet">
          <p>Your app's collections appear here once it writes to its database (sign in to the preview, or add an item).</p>
        </Empty>
      </div>
    )

  return (
    <div className="panel" data-testid="panel-database" style={{ display: 'grid', gridTemplateColumns: 'minmax(10rem, 14rem) 1fr', gap: 12, overflow: 'hidden', height: '100%' }}>
      <nav aria-label="Collections" style={{ overflow: 'auto' }}>
        <ul style={{ listStyle: 'none', margin: 0, padding: 0 }}>
          {colls.map((c) => (
            <li key={c.name}>
              <button
                className={`btn btn-sm btn-ghost${c.name === current ? ' active' : ''}`}
                aria-current={c.name === current ? 'true' : undefined}
                style={{ width: '100%', justifyContent: 'space-between' }}
                onClick={() => { setCurrent(c.name); setSkip(0) }}
              >
                <span><Icon name="database" /> {c.name}</span>
                <span className="muted">{c.count}</span>
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <section style={{ display: 'flex', flexDirection: 'column', gap: 8, overflow: 'auto' }} aria-label={`Documents of ${current ?? ''}`}>
        <form
          style={{ display: 'flex', gap: 8, flexWrap: 'wrap' }}
          onSubmit={(e) => { e.preventDefault(); setSkip(0); void loadDocs() }}
          aria-label="Query"
        >
          <input className="url-field" aria-label="Filter (JSON)" value={filter} onChange={(e) => setFilter(e.target.value)} style={{ flex: '2 1 14rem', fontFamily: 'var(--mono)' }} />
          <input className="url-field" aria-label="Sort (JSON)" value={sort} onChange={(e) => setSort(e.target.value)} style={{ flex: '1 1 8rem', fontFamily: 'var(--mono)' }} />
          <button className="btn btn-sm btn-primary" type="submit">Run</button>
          <button className="btn btn-sm" type="button" onClick={() => setEditing({ id: null, text: '{\n  \n}' })}><Icon name="plus" /> Insert</button>
          <button className="btn btn-sm btn-ghost" type="button" onClick={exportJSON}>Export JSON</button>
        </form>
        {error && <div className="form-error" role="alert">{error}</div>}
        {editing && (
          <div style={{ display: 'flex', flexDirection: 'column', gap: 6 }}>
            <label className="muted" htmlFor="doc-editor">{editing.id === null ? 'New document (Extended JSON)' : `Document ${editing.id}`}</label>
            <textarea id="doc-editor" value={editing.text} onChange={(e) => setEditing({ ...editing, text: e.target.value })} rows={12} spellCheck={false} style={{ fontFamily: 'var(--mono)', fontSize: 13 }} />
            <div style={{ display: 'flex', gap: 8 }}>
              <button className="btn btn-sm btn-primary" onClick={save} disabled={busy}><Icon name="save" /> Save</button>
              <button className="btn btn-sm btn-ghost" onClick={() => setEditing(null)}>Cancel</button>
            </div>
          </div>
        )}
        {docs === null ? (
          <Spinner label="Loading documents" />
        ) : docs.documents.length === 0 ? (
          <p className="muted">No document matches.</p>
        ) : (
          <ul style={{ listStyle: 'none', margin: 0, padding: 0, display: 'flex', flexDirection: 'column', gap: 6 }} data-testid="documents">
            {docs.documents.map((d) => (
              <li key={docId(d)} style={{ border: '1px solid var(--border)', borderRadius: 8, padding: 8 }}>
                <pre style={{ margin: 0, fontSize: 12, whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>{JSON.stringify(d, null, 2)}</pre>
                <div style={{ display: 'flex', gap: 6, marginTop: 6 }}>
                  <button className="btn btn-sm btn-ghost" onClick={() => setEditing({ id: docId(d), text: JSON.stringify(d, null, 2) })}>Edit</button>
                  <button className="btn btn-sm btn-ghost" onClick={() => remove(d)}>Delete</button>
                </div>
              </li>
            ))}
          </ul>
        )}
        {docs && docs.total > PAGE && (
          <div style={{ display: 'flex', gap: 8, alignItems: 'center' }}>
            <button className="btn btn-sm" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - PAGE))}>Previous</button>
            <span className="muted">{skip + 1}–{Math.min(skip + PAGE, docs.total)} of {docs.total}</span>
            <button className="btn btn-sm" disabled={skip + PAGE >= docs.total} onClick={() => setSkip(skip + PAGE)}>Next</button>
          </div>
        )}
      </section>
    </div>
  )
}
