// The Deploy panel. Placeholder from issue 8; issue 9 fills it in.
import { Empty } from '../components/States'
import type { PanelProps } from './types'

export default function DeployPanel({ slug }: PanelProps) {
  return (
    <div className="panel" data-testid="panel-deploy">
      <Empty icon="rocket" title="Deploy to production">
        <p>One click builds production containers and serves them at <code>/apps/{slug}/</code>. The build log, status, history and rollback appear here.</p>
        <p className="muted">Coming soon.</p>
      </Empty>
    </div>
  )
}
