// The Users panel. Placeholder from issue 8; issue 10 fills it in.
import { Empty } from '../components/States'
import type { PanelProps } from './types'

export default function UsersPanel(_props: PanelProps) {
  return (
    <div className="panel" data-testid="panel-users">
      <Empty icon="users" title="App users">
        <p>People who sign in to your app appear here. Create, disable, reset passwords and sign them out everywhere.</p>
        <p className="muted">Coming soon.</p>
      </Empty>
    </div>
  )
}
