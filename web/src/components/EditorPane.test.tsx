import { describe, expect, it, vi } from 'vitest'
import { act, render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Api } from '../lib/api'
import { EditorPane } from './EditorPane'
import { ConflictView } from './ConflictView'

// CodeMirror needs layout that jsdom lacks; a textarea stands in with the same contract.
vi.mock('./CodeEditor', () => ({
  default: ({ value, version, onChange, onSave, path }: { value: string; version: number; onChange: (v: string) => void; onSave: () => void; path: string }) => (
    <textarea
      key={version}
      aria-label={`Editor: ${path}`}
      defaultValue={value}
      onChange={(e) => onChange(e.target.value)}
      onKeyDown={(e) => {
        if (e.ctrlKey && e.key === 's') {
          e.preventDefault()
          onSave()
        }
      }}
    />
  ),
}))

/** An in-memory workspace speaking the files API with ETags. */
function fakeWorkspace(files: Record<string, string>) {
  let version = 1
  const etags: Record<string, string> = Object.fromEntries(Object.keys(files).map((k) => [k, `"v${version}"`]))
  const puts: { path: string; ifMatch: string | null; body: string }[] = []
  const fetchImpl = vi.fn(async (url: string, init?: RequestInit) => {
    const m = /\/api\/workspaces\/ws1\/files\/(.+)$/.exec(url)
    if (!m) return Response.json({ files: Object.keys(files).map((path) => ({ path, type: 'file', size: files[path].length })) })
    const path = decodeURIComponent(m[1])
    if ((init?.method ?? 'GET') === 'PUT') {
      const ifMatch = new Headers(init?.headers).get('If-Match')
      puts.push({ path, ifMatch, body: String(init?.body) })
      if (ifMatch && ifMatch !== etags[path]) return Response.json({ error: { code: 'precondition_failed', message: 'stale' } }, { status: 412 })
      files[path] = String(init?.body)
      etags[path] = `"v${++version}"`
      return new Response(null, { status: 204, headers: { ETag: etags[path] } })
    }
    return new Response(files[path], { headers: { ETag: etags[path] } })
  })
  const agentWrites = (path: string, text: string) => {
    files[path] = text
    etags[path] = `"v${++version}"`
  }
  return { fetchImpl, puts, agentWrites, files }
}

const tokens = { getAccessToken: async () => 't' }

describe('EditorPane', () => {
  it('saves with If-Match and, on 412, shows both versions and lets the person choose', async () => {
    const ws = fakeWorkspace({ 'src/app.tsx': 'one\ntwo\n' })
    const api = new Api(tokens, ws.fetchImpl as unknown as typeof fetch)
    render(
      <EditorPane api={api} workspaceId="ws1" files={[{ path: 'src/app.tsx', type: 'file' }]} filesLoading={false} onReloadFiles={() => {}} changed={new Set()} openPath="src/app.tsx" onOpenPath={() => {}} />,
    )
    const ed = await screen.findByLabelText('Editor: src/app.tsx')
    await userEvent.type(ed, 'mine{Control>}s{/Control}')
    await waitFor(() => expect(screen.getByTestId('save-status')).toHaveTextContent('Saved'))
    expect(ws.puts[0]).toMatchObject({ path: 'src/app.tsx', ifMatch: '"v1"', body: 'one\ntwo\nmine' })

    // An agent writes the file; the person's next save is stale.
    ws.agentWrites('src/app.tsx', 'one\nTWO by agent\n')
    await userEvent.type(ed, '!{Control>}s{/Control}')
    const conflict = await screen.findByTestId('conflict')
    expect(conflict).toHaveTextContent('Your version')
    expect(conflict).toHaveTextContent('Version on disk')
    expect(conflict).toHaveTextContent('TWO by agent')
    expect(conflict).toHaveTextContent('one\ntwo\nmine!'.split('\n')[2])

    await userEvent.click(screen.getByTestId('keep-mine'))
    await waitFor(() => expect(screen.queryByTestId('conflict')).toBeNull())
    expect(ws.files['src/app.tsx']).toBe('one\ntwo\nmine!')
    expect(ws.puts.at(-1)!.ifMatch).toBe('"v3"')
  })

  it('takes the version on disk when the person chooses it', async () => {
    const ws = fakeWorkspace({ 'a.py': 'print(1)\n' })
    const api = new Api(tokens, ws.fetchImpl as unknown as typeof fetch)
    render(<EditorPane api={api} workspaceId="ws1" files={[{ path: 'a.py', type: 'file' }]} filesLoading={false} onReloadFiles={() => {}} changed={new Set()} openPath="a.py" onOpenPath={() => {}} />)
    const ed = await screen.findByLabelText('Editor: a.py')
    ws.agentWrites('a.py', 'print(2)\n')
    await userEvent.type(ed, '#x{Control>}s{/Control}')
    await userEvent.click(await screen.findByTestId('use-theirs'))
    expect((await screen.findByLabelText('Editor: a.py')) as HTMLTextAreaElement).toHaveValue('print(2)\n')
    expect(ws.files['a.py']).toBe('print(2)\n')
  })

  it('reloads a clean file the agents change, and warns when the person has edits', async () => {
    const ws = fakeWorkspace({ 'x.ts': 'a' })
    const api = new Api(tokens, ws.fetchImpl as unknown as typeof fetch)
    const props = { api, workspaceId: 'ws1', files: [{ path: 'x.ts', type: 'file' }], filesLoading: false, onReloadFiles: () => {}, changed: new Set<string>(), openPath: 'x.ts', onOpenPath: () => {} }
    const { rerender } = render(<EditorPane {...props} />)
    await screen.findByLabelText('Editor: x.ts')
    ws.agentWrites('x.ts', 'b')
    rerender(<EditorPane {...props} lastChange={{ path: 'x.ts', seq: 10, role: 'engineer' }} />)
    await waitFor(() => expect(screen.getByLabelText('Editor: x.ts')).toHaveValue('b'))
    await userEvent.type(screen.getByLabelText('Editor: x.ts'), 'Z')
    ws.agentWrites('x.ts', 'c')
    await act(async () => rerender(<EditorPane {...props} lastChange={{ path: 'x.ts', seq: 11, role: 'engineer' }} />))
    expect(await screen.findByTestId('external-change')).toHaveTextContent('The Engineer changed this file')
  })
})

describe('EditorPane and saves through the API', () => {
  it('ignores the FILE_CHANGED of its own save but follows another person\'s', async () => {
    const ws = fakeWorkspace({ 'x.ts': 'a' })
    const api = new Api(tokens, ws.fetchImpl as unknown as typeof fetch)
    const props = { api, workspaceId: 'ws1', files: [{ path: 'x.ts', type: 'file' }], filesLoading: false, onReloadFiles: () => {}, changed: new Set<string>(), openPath: 'x.ts', onOpenPath: () => {} }
    const { rerender } = render(<EditorPane {...props} />)
    const ed = await screen.findByLabelText('Editor: x.ts')
    await userEvent.type(ed, 'b{Control>}s{/Control}')
    await waitFor(() => expect(screen.getByTestId('save-status')).toHaveTextContent('Saved'))
    const reads = ws.fetchImpl.mock.calls.length
    // The echo of our own save: nothing happens.
    await act(async () => rerender(<EditorPane {...props} lastChange={{ path: 'x.ts', seq: 5, role: 'user', etag: '"v2"' }} />))
    expect(ws.fetchImpl.mock.calls.length).toBe(reads)
    // Another tab or person saves: the clean buffer reloads.
    ws.agentWrites('x.ts', 'from elsewhere')
    await act(async () => rerender(<EditorPane {...props} lastChange={{ path: 'x.ts', seq: 6, role: 'user', etag: '"v3"' }} />))
    await waitFor(() => expect(screen.getByLabelText('Editor: x.ts')).toHaveValue('from elsewhere'))
  })
})

describe('ConflictView', () => {
  it('marks the lines that differ on each side', () => {
    render(<ConflictView path="f.txt" mine={'a\nb\nc'} theirs={'a\nB\nc\nd'} onKeepMine={() => {}} onUseTheirs={() => {}} onCancel={() => {}} />)
    expect(screen.getByText('1 line differ')).toBeInTheDocument()
    expect(screen.getByText('2 lines differ')).toBeInTheDocument()
  })
})
