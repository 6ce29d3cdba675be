// The Database panel. Placeholder from issue 8; issue 10 fills it in.
import { Empty } from '../components/States'
import type { PanelProps } from './types'

export default function DatabasePanel(_props: PanelProps) {
  return (
    <div className="panel" data-testid="panel-database">
      <Empty icon="database" title="App database">
        <p>Browse your app's collections and documents, query with JSON filters and edit documents in place.</p>
        <p className="muted">Coming soon.</p>
      </Empty>
    </div>
  )
}
