// The Logs panel. Placeholder from issue 8; issue 9 fills it in.
import { Empty } from '../components/States'
import type { PanelProps } from './types'

export default function LogsPanel(_props: PanelProps) {
  return (
    <div className="panel" data-testid="panel-logs">
      <Empty icon="logs" title="Production logs and traces">
        <p>Once the app is live, its container output, OpenTelemetry logs and traces show up here, searchable and followable.</p>
        <p className="muted">Coming soon.</p>
      </Empty>
    </div>
  )
}
