import { describe, expect, it, vi } from 'vitest'
import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Api } from '../lib/api'
import { ServicesContext } from '../lib/context'
import type { AuthClient } from '../lib/auth'
import { Home } from './Home'

function withApi(routes: Record<string, () => Response>) {
  const calls: { url: string; init?: RequestInit }[] = []
  const f = vi.fn(async (url: string, init?: RequestInit) => {
    calls.push({ url, init })
    const key = `${init?.method ?? 'GET'} ${url}`
    return routes[key]?.() ?? Response.json({ error: { code: 'not_found', message: `no route ${key}` } }, { status: 404 })
  })
  const api = new Api({ getAccessToken: async () => 't' }, f as unknown as typeof fetch)
  const ui = render(
    <ServicesContext.Provider value={{ api, auth: {} as AuthClient, me: { name: 'Ada Lovelace' } }}>
      <Home />
    </ServicesContext.Provider>,
  )
  return { calls, ui }
}

describe('Home', () => {
  it('lists apps with their state from the run, the dev environment and deployments', async () => {
    withApi({
      'GET /api/apps': () =>
        Response.json({
          apps: [
            { slug: 'todo', name: 'Todo', framework: 'nextjs', session_id: 's1', dev: { state: 'running' } },
            { slug: 'shop', name: 'Shop', framework: 'fastapi-react', session_id: 's2', live_deployment_id: 'd1' },
            { slug: 'wiki', name: 'Wiki', framework: 'nextjs', session_id: 's3', dev: { state: 'crashed' } },
            { slug: 'new', name: 'New', framework: 'nextjs', session_id: 's4' },
          ],
        }),
      'GET /api/sessions': () => Response.json({ sessions: [{ id: 's4', workspace_id: 'w', app: { slug: 'new' }, status: 'running', prompt: 'A new thing' }] }),
    })
    expect(await screen.findByText('What shall we build, Ada?')).toBeInTheDocument()
    const cards = await screen.findAllByTestId('app-card')
    const states = Object.fromEntries(cards.map((c) => [c.querySelector('.app-name')!.textContent, c.querySelector('[data-testid=app-state]')!.textContent]))
    expect(states).toEqual({ Todo: 'Preview running', Shop: 'Live', Wiki: 'Failed', New: 'Building' })
    expect(cards.find((c) => c.textContent?.includes('New'))).toHaveAttribute('href', '/sessions/s4')
  })

  it('shows an empty state when there are no apps', async () => {
    withApi({ 'GET /api/apps': () => Response.json({ apps: [] }) })
    expect(await screen.findByText('No apps yet')).toBeInTheDocument()
  })

  it('reports a failing apps list in plain words', async () => {
    withApi({ 'GET /api/apps': () => Response.json({ error: { code: 'internal', message: 'database unavailable' } }, { status: 500 }) })
    expect(await screen.findByText('Your apps could not be loaded')).toBeInTheDocument()
    expect(screen.getByText('database unavailable')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: /try again/i })).toBeInTheDocument()
  })

  it('fills the prompt from an example and creates the session with the chosen framework', async () => {
    const { calls } = withApi({
      'GET /api/apps': () => Response.json({ apps: [] }),
      'POST /api/sessions': () => Response.json({ id: 'new-session', workspace_id: 'w', app: { slug: 'team-wiki' } }, { status: 201 }),
    })
    await userEvent.click(screen.getByRole('button', { name: /Team wiki/ }))
    expect(screen.getByTestId('framework-fastapi-react')).toBeChecked()
    await userEvent.click(screen.getByTestId('create'))
    const post = calls.find((c) => c.init?.method === 'POST')!
    expect(JSON.parse(String(post.init!.body))).toMatchObject({ framework: 'fastapi-react', prompt: expect.stringContaining('wiki') })
    expect(new Headers(post.init!.headers).get('Authorization')).toBe('Bearer t')
    expect(window.location.pathname).toBe('/sessions/new-session')
  })
})
