import type { Api } from '../lib/api'
import type { App, Session } from '../lib/types'

/** What every workspace panel gets. Panels for issues 9 and 10 fill these files. */
export interface PanelProps {
  api: Api
  slug: string
  app?: App
  session?: Session
  /** The panel's tab is visible (panels stay mounted once opened). */
  active: boolean
}
