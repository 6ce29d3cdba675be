import { describe, expect, it, vi } from 'vitest'
import { render, screen } from '@testing-library/react'
import { ErrorBoundary } from './ErrorBoundary'

function Broken(): never {
  throw new Error('users is undefined')
}

describe('ErrorBoundary', () => {
  it('shows the failure in place instead of blanking the app', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
    render(
      <div>
        <p>the rest of the page</p>
        <ErrorBoundary what="The Users panel">
          <Broken />
        </ErrorBoundary>
      </div>,
    )
    expect(screen.getByText('the rest of the page')).toBeInTheDocument()
    expect(screen.getByRole('alert')).toHaveTextContent('The Users panel ran into a problem')
    expect(screen.getByRole('alert')).toHaveTextContent('users is undefined')
    spy.mockRestore()
  })
})
