import { useMemo } from 'react'
import { lineDiff } from '../lib/diff'
import { Icon, Spinner } from './Icon'

interface Props {
  path: string
  mine: string
  theirs: string
  /** Who changed the file, when known (e.g. "the Engineer"). */
  by?: string
  busy?: boolean
  onKeepMine: () => void
  onUseTheirs: () => void
  onCancel: () => void
}

function Side({ title, text, marks, kind }: { title: string; text: string; marks: boolean[] | undefined; kind: 'mine' | 'theirs' }) {
  const lines = text.split('\n')
  const changed = marks?.filter(Boolean).length ?? 0
  return (
    <div className={`conflict-side conflict-${kind}`}>
      <div className="conflict-side-head">
        <span>{title}</span>
        {marks && <span className="conflict-count">{changed === 0 ? 'same lines' : `${changed} line${changed === 1 ? '' : 's'} differ`}</span>}
      </div>
      <pre className="conflict-code" aria-label={title} tabIndex={0}>
        {lines.map((l, i) => (
          <div key={i} className={marks?.[i] ? 'cl changed' : 'cl'}>
            <span className="ln" aria-hidden="true">{i + 1}</span>
            <span className="lt">{l || ' '}</span>
          </div>
        ))}
      </pre>
    </div>
  )
}

/** Shown when a save gets 412: both versions side by side, the person chooses. */
export function ConflictView({ path, mine, theirs, by, busy, onKeepMine, onUseTheirs, onCancel }: Props) {
  const diff = useMemo(() => lineDiff(mine, theirs), [mine, theirs])
  return (
    <div className="conflict" role="dialog" aria-modal="false" aria-labelledby="conflict-title" data-testid="conflict">
      <div className="conflict-head">
        <Icon name="alert" size={18} />
        <div>
          <h3 id="conflict-title">{path} changed while you were editing</h3>
          <p>
            {by ? `${by} saved a newer version.` : 'Someone saved a newer version.'} Choose which one to keep — the other is discarded.
          </p>
        </div>
      </div>
      <div className="conflict-sides">
        <Side title="Your version" text={mine} marks={diff?.left} kind="mine" />
        <Side title="Version on disk" text={theirs} marks={diff?.right} kind="theirs" />
      </div>
      <div className="conflict-actions">
        <button type="button" className="btn btn-ghost" onClick={onCancel} disabled={busy}>
          Keep editing
        </button>
        <button type="button" className="btn" onClick={onUseTheirs} disabled={busy} data-testid="use-theirs">
          Use version on disk
        </button>
        <button type="button" className="btn btn-primary" onClick={onKeepMine} disabled={busy} data-testid="keep-mine">
          {busy ? <Spinner size={13} /> : <Icon name="save" size={14} />} Keep mine and save
        </button>
      </div>
    </div>
  )
}
