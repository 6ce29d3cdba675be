// File tree + editor: open, edit, save with If-Match, resolve 412 conflicts, follow the
// agents' changes live.
import { lazy, Suspense, useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react'
import { ConflictError, errorText, type Api } from '../lib/api'
import type { FileEntry } from '../lib/types'
import { roleTitle } from '../lib/format'
import { ConflictView } from './ConflictView'
import { FileTree } from './FileTree'
import { Icon, Spinner } from './Icon'
import { Empty, ErrorState, Loading } from './States'

const CodeEditor = lazy(() => import('./CodeEditor'))

export interface FileChange {
  path: string
  seq: number
  role: string
  /** The ETag the change produced (the workspace API reports it for saves through it). */
  etag?: string
}

interface Props {
  api: Api
  workspaceId: string
  files: FileEntry[] | undefined
  filesError?: unknown
  filesLoading: boolean
  onReloadFiles: () => void
  changed: Set<string>
  /** The latest change the agents made to some file. */
  lastChange?: FileChange
  openPath?: string
  onOpenPath: (p: string) => void
}

interface Doc {
  path: string
  base: string
  buffer: string
  etag: string | null
  version: number
}

interface Conflict {
  mine: string
  theirs: string
  theirsEtag: string | null
  by?: string
}

export function EditorPane({ api, workspaceId, files, filesError, filesLoading, onReloadFiles, changed, lastChange, openPath, onOpenPath }: Props) {
  const [doc, setDoc] = useState<Doc | null>(null)
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<string>()
  const [saving, setSaving] = useState(false)
  const [saveMsg, setSaveMsg] = useState<{ kind: 'ok' | 'err'; text: string }>()
  const [conflict, setConflict] = useState<Conflict | null>(null)
  const [external, setExternal] = useState<string | null>(null) // who changed the open file while it was dirty
  const [flash, setFlash] = useState<string>()
  const docRef = useRef(doc)
  docRef.current = doc
  const dirty = !!doc && doc.buffer !== doc.base

  const load = useCallback(
    async (path: string, keepVersion = false) => {
      setLoading(!keepVersion)
      setError(undefined)
      try {
        const f = await api.readFile(workspaceId, path)
        setDoc((d) => ({ path, base: f.content, buffer: f.content, etag: f.etag, version: (d?.version ?? 0) + 1 }))
        setConflict(null)
        setExternal(null)
      } catch (e) {
        setError(errorText(e))
      } finally {
        setLoading(false)
      }
    },
    [api, workspaceId],
  )

  useEffect(() => {
    if (openPath && openPath !== docRef.current?.path) void load(openPath)
  }, [openPath, load])

  // Someone else changed the open file (an agent, another tab): reload it when the person has
  // no unsaved edits, else ask. Our own saves come back as FILE_CHANGED too: recognised by
  // their ETag, and held back while a save is in flight.
  const ownEtags = useRef(new Set<string>())
  const savingRef = useRef(false)
  const heldChange = useRef<FileChange | null>(null)
  const onExternalChange = useCallback(
    (c: FileChange) => {
      const d = docRef.current
      if (!d || c.path !== d.path) return
      if (c.etag && (ownEtags.current.has(c.etag) || c.etag === d.etag)) return
      if (savingRef.current) {
        heldChange.current = c
        return
      }
      const who = c.role === 'user' ? 'Someone' : `The ${roleTitle(c.role)}`
      if (d.buffer === d.base) {
        void load(d.path, true).then(() => {
          setFlash(c.role === 'user' ? 'Updated from elsewhere' : `Updated by ${roleTitle(c.role)}`)
          setTimeout(() => setFlash(undefined), 2500)
        })
      } else {
        setExternal(who)
      }
    },
    [load],
  )
  useEffect(() => {
    if (lastChange) onExternalChange(lastChange)
  }, [lastChange, onExternalChange])

  const save = useCallback(async () => {
    const d = docRef.current
    if (!d || saving) return
    setSaving(true)
    savingRef.current = true
    setSaveMsg(undefined)
    try {
      let etag = await api.writeFile(workspaceId, d.path, d.buffer, d.etag)
      if (!etag) etag = (await api.readFile(workspaceId, d.path)).etag
      if (etag) ownEtags.current.add(etag)
      docRef.current = { ...d, base: d.buffer, etag }
      setDoc((cur) => (cur && cur.path === d.path ? { ...cur, base: d.buffer, etag } : cur))
      setExternal(null)
      setSaveMsg({ kind: 'ok', text: 'Saved' })
      setTimeout(() => setSaveMsg(undefined), 2000)
    } catch (e) {
      if (e instanceof ConflictError) {
        try {
          const theirs = await api.readFile(workspaceId, d.path)
          setConflict({ mine: d.buffer, theirs: theirs.content, theirsEtag: theirs.etag, by: external ?? undefined })
        } catch (e2) {
          setSaveMsg({ kind: 'err', text: errorText(e2) })
        }
      } else {
        setSaveMsg({ kind: 'err', text: `Not saved: ${errorText(e)}` })
      }
    } finally {
      setSaving(false)
      savingRef.current = false
      const held = heldChange.current
      heldChange.current = null
      if (held) onExternalChange(held)
    }
  }, [api, workspaceId, saving, external, onExternalChange])

  const compare = async () => {
    const d = docRef.current
    if (!d) return
    try {
      const theirs = await api.readFile(workspaceId, d.path)
      setConflict({ mine: d.buffer, theirs: theirs.content, theirsEtag: theirs.etag, by: external ?? undefined })
    } catch (e) {
      setSaveMsg({ kind: 'err', text: errorText(e) })
    }
  }

  const keepMine = async () => {
    const d = docRef.current
    if (!d || !conflict) return
    setSaving(true)
    try {
      let etag = await api.writeFile(workspaceId, d.path, conflict.mine, conflict.theirsEtag)
      if (!etag) etag = (await api.readFile(workspaceId, d.path)).etag
      if (etag) ownEtags.current.add(etag)
      setDoc({ ...d, base: conflict.mine, buffer: conflict.mine, etag, version: d.version + 1 })
      setConflict(null)
      setExternal(null)
      setSaveMsg({ kind: 'ok', text: 'Saved your version' })
      setTimeout(() => setSaveMsg(undefined), 2000)
    } catch (e) {
      if (e instanceof ConflictError) {
        // Changed again in the meantime: show the newest version.
        const theirs = await api.readFile(workspaceId, d.path).catch(() => null)
        if (theirs) setConflict({ ...conflict, theirs: theirs.content, theirsEtag: theirs.etag })
      } else setSaveMsg({ kind: 'err', text: errorText(e) })
    } finally {
      setSaving(false)
    }
  }

  const useTheirs = () => {
    const d = docRef.current
    if (!d || !conflict) return
    setDoc({ ...d, base: conflict.theirs, buffer: conflict.theirs, etag: conflict.theirsEtag, version: d.version + 1 })
    setConflict(null)
    setExternal(null)
  }

  // Ctrl+S anywhere in the pane (e.g. focus in the tree) saves instead of "Save page as".
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.defaultPrevented) return // CodeMirror's own Mod-s already saved
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
      e.preventDefault()
      void save()
    }
  }

  let tree
  if (filesLoading && !files) tree = <Loading label="Loading files…" />
  else if (filesError && !files) tree = <ErrorState title="Files unavailable" message={errorText(filesError)} onRetry={onReloadFiles} />
  else if (!files || files.length === 0)
    tree = (
      <Empty icon="folder" title="No files yet">
        The team writes them as it goes.
      </Empty>
    )
  else tree = <FileTree files={files} selected={doc?.path ?? openPath} changed={changed} onOpen={onOpenPath} />

  return (
    <div className="editor-pane" onKeyDown={onKeyDown}>
      <aside className="editor-tree">
        <div className="pane-head">
          <span>Files</span>
          <button type="button" className="icon-btn" onClick={onReloadFiles} aria-label="Refresh files" title="Refresh files">
            <Icon name="refresh" size={13} />
          </button>
        </div>
        <div className="tree-scroll">{tree}</div>
      </aside>
      <section className="editor-main" aria-label="Editor">
        {!doc && !loading && !error && (
          <Empty icon="code" title="Open a file">
            Pick a file on the left. Your edits and the agents' edits meet here — save with <kbd>Ctrl</kbd> <kbd>S</kbd>.
          </Empty>
        )}
        {loading && <Loading label="Opening…" />}
        {error && !loading && <ErrorState title="The file could not be opened" message={error} onRetry={() => openPath && load(openPath)} />}
        {doc && !loading && !error && (
          <>
            <div className="editor-head">
              <span className="editor-path" data-testid="editor-path">
                {doc.path.split('/').map((p, i, a) => (
                  <span key={i} className={i === a.length - 1 ? 'crumb last' : 'crumb'}>
                    {p}
                  </span>
                ))}
              </span>
              {dirty && <span className="dirty-dot" title="Unsaved changes" aria-label="Unsaved changes" data-testid="dirty" />}
              {flash && <span className="editor-flash" role="status">{flash}</span>}
              {saveMsg && (
                <span className={saveMsg.kind === 'ok' ? 'save-ok' : 'save-err'} role="status" data-testid="save-status">
                  {saveMsg.kind === 'ok' && <Icon name="check" size={12} />} {saveMsg.text}
                </span>
              )}
              <button type="button" className="btn btn-sm" onClick={() => void save()} disabled={!dirty || saving} data-testid="save">
                {saving ? <Spinner size={12} /> : <Icon name="save" size={13} />} Save
              </button>
            </div>
            {external && !conflict && (
              <div className="banner banner-warn" role="alert" data-testid="external-change">
                <Icon name="alert" size={14} />
                <span>{external} changed this file while you were editing.</span>
                <button type="button" className="link-btn" onClick={() => void compare()}>
                  Compare
                </button>
                <button type="button" className="link-btn" onClick={() => void load(doc.path, true)}>
                  Take theirs
                </button>
              </div>
            )}
            {conflict ? (
              <ConflictView
                path={doc.path}
                mine={conflict.mine}
                theirs={conflict.theirs}
                by={conflict.by}
                busy={saving}
                onKeepMine={() => void keepMine()}
                onUseTheirs={useTheirs}
                onCancel={() => setConflict(null)}
              />
            ) : (
              <div className="editor-host">
                <Suspense fallback={<Loading label="Loading editor…" />}>
                  <CodeEditor
                    path={doc.path}
                    value={doc.buffer}
                    version={doc.version}
                    onChange={(v) => setDoc((cur) => (cur ? { ...cur, buffer: v } : cur))}
                    onSave={() => void save()}
                  />
                </Suspense>
              </div>
            )}
          </>
        )}
      </section>
    </div>
  )
}
