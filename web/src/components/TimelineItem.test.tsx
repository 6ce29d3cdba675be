import { describe, expect, it, vi } from 'vitest'
import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { buildTimeline } from '../lib/timeline'
import type { AgentEvent } from '../lib/types'
import { Chat } from './Chat'

const events: AgentEvent[] = [
  { seq: 1, type: 'AGENT_START', role: 'product_manager', data: { name: 'Emma' } },
  { seq: 2, type: 'PLAN', role: 'team_leader', data: { steps: [{ title: 'Write the PRD', status: 'done' }, { title: 'Build pages', status: 'in_progress' }] } },
  { seq: 3, type: 'MESSAGE_DELTA', role: 'product_manager', data: { delta: 'Here is **the** plan' } },
  { seq: 4, type: 'TOOL_START', role: 'engineer', data: { tool: 'write_file', call_id: 'c1', input: { path: 'src/app/page.tsx', content: 'export default 1' } } },
  { seq: 5, type: 'TOOL_END', role: 'engineer', data: { call_id: 'c1', output: 'wrote 16 bytes', duration_ms: 40 } },
  { seq: 6, type: 'FILE_CHANGED', role: 'engineer', data: { path: 'src/app/page.tsx' } },
  { seq: 7, type: 'ERROR', role: 'engineer', data: { message: 'dial tcp: connection refused\nstack...' } },
  { seq: 8, type: 'PREVIEW_READY', role: 'engineer', data: {} },
  { seq: 9, type: 'FINISH', role: 'system', data: { status: 'succeeded', usage: { input_tokens: 1200, output_tokens: 300 } } },
]

const stream = { kind: 'open' } as const

describe('event rendering', () => {
  it('shows each member, the plan, collapsed tools, plain errors and tokens', async () => {
    const onOpenFile = vi.fn()
    render(<Chat timeline={buildTimeline(events)} stream={stream} prompt="A todo app" pending={[]} onSend={async () => {}} onCancel={() => {}} actions={{ onOpenFile }} />)
    expect(screen.getByText('A todo app')).toBeInTheDocument()
    expect(screen.getByTestId('agent-start')).toHaveTextContent('Emma joined as Product Manager')
    expect(screen.getByTestId('plan')).toHaveTextContent('2/2') // a successful FINISH completes the plan
    expect(screen.getByText('the').tagName).toBe('STRONG')
    // The tool step is one line; its details open on demand.
    const tool = screen.getByTestId('tool-step')
    expect(tool).toHaveTextContent('write_file')
    expect(tool).toHaveTextContent('src/app/page.tsx')
    expect(screen.queryByText('wrote 16 bytes')).toBeNull()
    await userEvent.click(screen.getByRole('button', { name: /write_file/ }))
    expect(screen.getByText('wrote 16 bytes')).toBeInTheDocument()
    // Errors in plain words, details on demand.
    expect(screen.getByTestId('event-error')).toHaveTextContent('A service the agents need did not answer.')
    expect(screen.getByTestId('event-error')).toHaveTextContent('Engineer hit a problem')
    await userEvent.click(within(screen.getByTestId('files-changed')).getByRole('button', { name: 'page.tsx' }))
    expect(onOpenFile).toHaveBeenCalledWith('src/app/page.tsx')
    expect(screen.getByTestId('finish')).toHaveTextContent('Finished')
    expect(screen.getByTestId('tokens')).toHaveTextContent('1.5k tokens used')
    expect(screen.queryByTestId('activity')).toBeNull()
  })

  it('shows live activity while the team works and sends with Enter', async () => {
    const onSend = vi.fn(async () => {})
    render(<Chat timeline={buildTimeline(events.slice(0, 4))} stream={stream} pending={[]} onSend={onSend} onCancel={() => {}} />)
    expect(screen.getByTestId('activity')).toHaveTextContent('Engineer is writing src/app/page.tsx')
    expect(screen.getByTestId('cancel')).toBeInTheDocument()
    await userEvent.type(screen.getByTestId('chat-input'), 'Make it blue{Enter}')
    expect(onSend).toHaveBeenCalledWith('Make it blue')
  })

  it('says when the stream is reconnecting', () => {
    render(<Chat timeline={buildTimeline([])} stream={{ kind: 'waiting', attempt: 2, delayMs: 2000, reason: 'x' }} pending={[]} onSend={async () => {}} onCancel={() => {}} />)
    expect(screen.getByTestId('stream-state')).toHaveTextContent('retrying in 2 s')
  })

  it('does not show a pending message twice once the stream echoes it', () => {
    const t = buildTimeline([{ seq: 1, type: 'MESSAGE', role: 'user', data: { content: 'Add dark mode' } }])
    render(<Chat timeline={t} stream={stream} pending={[{ id: 'p1', text: 'Add dark mode' }]} onSend={async () => {}} onCancel={() => {}} />)
    expect(screen.getAllByText('Add dark mode')).toHaveLength(1)
  })
})
