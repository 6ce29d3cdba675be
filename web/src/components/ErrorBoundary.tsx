import { Component, type ErrorInfo, type ReactNode } from 'react'
import { ErrorState } from './States'

interface Props {
  /** What failed, for the message: "The Users panel". */
  what: string
  children: ReactNode
  /** Reset the boundary when this changes (e.g. the session id). */
  resetKey?: unknown
}

interface State {
  error: Error | null
  key: unknown
}

/** Keeps one broken part (a panel, a page) from blanking the whole app. */
export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null, key: undefined }

  static getDerivedStateFromError(error: Error): Partial<State> {
    return { error }
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    if (props.resetKey !== state.key) return { key: props.resetKey, error: null }
    return null
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error(`${this.props.what} crashed:`, error, info.componentStack)
  }

  render() {
    if (this.state.error) {
      return (
        <div className="panel">
          <ErrorState
            title={`${this.props.what} ran into a problem`}
            message={this.state.error.message || 'An unexpected error.'}
            onRetry={() => this.setState({ error: null })}
          />
        </div>
      )
    }
    return this.props.children
  }
}
