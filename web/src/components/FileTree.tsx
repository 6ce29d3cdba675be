import { useMemo, useState } from 'react'
import type { FileEntry } from '../lib/types'
import { formatBytes } from '../lib/format'
import { Icon } from './Icon'

interface Node {
  name: string
  path: string
  dir: boolean
  size?: number
  children: Node[]
}

export function buildTree(files: FileEntry[]): Node[] {
  const root: Node = { name: '', path: '', dir: true, children: [] }
  const dirs = new Map<string, Node>([['', root]])
  const ensureDir = (path: string): Node => {
    const got = dirs.get(path)
    if (got) return got
    const i = path.lastIndexOf('/')
    const parent = ensureDir(i < 0 ? '' : path.slice(0, i))
    const n: Node = { name: path.slice(i + 1), path, dir: true, children: [] }
    parent.children.push(n)
    dirs.set(path, n)
    return n
  }
  for (const f of files) {
    const path = f.path.replace(/^\/+|\/+$/g, '')
    if (!path) continue
    if (f.type === 'dir' || f.type === 'directory') {
      ensureDir(path)
      continue
    }
    const i = path.lastIndexOf('/')
    const parent = ensureDir(i < 0 ? '' : path.slice(0, i))
    parent.children.push({ name: path.slice(i + 1), path, dir: false, size: f.size, children: [] })
  }
  const sort = (n: Node) => {
    n.children.sort((a, b) => (a.dir === b.dir ? a.name.localeCompare(b.name) : a.dir ? -1 : 1))
    n.children.forEach(sort)
  }
  sort(root)
  return root.children
}

interface Props {
  files: FileEntry[]
  selected?: string
  /** Paths the agents changed that the person has not opened since. */
  changed: Set<string>
  onOpen: (path: string) => void
}

export function FileTree({ files, selected, changed, onOpen }: Props) {
  const tree = useMemo(() => buildTree(files), [files])
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set())
  const changedDirs = useMemo(() => {
    const s = new Set<string>()
    for (const p of changed) {
      const parts = p.split('/')
      for (let i = 1; i < parts.length; i++) s.add(parts.slice(0, i).join('/'))
    }
    return s
  }, [changed])
  const toggle = (p: string) =>
    setCollapsed((c) => {
      const n = new Set(c)
      if (n.has(p)) n.delete(p)
      else n.add(p)
      return n
    })

  const render = (nodes: Node[], depth: number) => (
    <ul role="group" className="tree-group">
      {nodes.map((n) => {
        const open = !collapsed.has(n.path)
        const mark = n.dir ? changedDirs.has(n.path) : changed.has(n.path)
        return (
          <li key={n.path} role="none">
            <button
              type="button"
              role="treeitem"
              aria-expanded={n.dir ? open : undefined}
              aria-selected={!n.dir && selected === n.path}
              className={`tree-item${!n.dir && selected === n.path ? ' selected' : ''}${mark ? ' changed' : ''}`}
              style={{ paddingLeft: 8 + depth * 14 }}
              onClick={() => (n.dir ? toggle(n.path) : onOpen(n.path))}
              title={n.dir ? n.path : `${n.path}${n.size !== undefined ? ` · ${formatBytes(n.size)}` : ''}`}
              data-path={n.path}
              data-testid={n.dir ? 'tree-dir' : 'tree-file'}
            >
              {n.dir ? <Icon name={open ? 'chevronDown' : 'chevronRight'} size={12} className="tree-chev" /> : <span className="tree-chev" />}
              <Icon name={n.dir ? 'folder' : 'file'} size={14} className={n.dir ? 'ic-folder' : `ic-file ic-${n.name.split('.').pop()}`} />
              <span className="tree-name">{n.name}</span>
              {mark && <span className="tree-mark" title="Changed by the agents" aria-label="changed by the agents" />}
            </button>
            {n.dir && open && n.children.length > 0 && render(n.children, depth + 1)}
          </li>
        )
      })}
    </ul>
  )

  return (
    <nav className="tree" aria-label="Files">
      <div role="tree" aria-label="Workspace files">
        {render(tree, 0)}
      </div>
    </nav>
  )
}
