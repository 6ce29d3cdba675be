import { describe, expect, it } from 'vitest'
import { applyEvent, buildTimeline, plainError } from './timeline'
import type { AgentEvent } from './types'

let seq = 0
const ev = (type: string, role: string, data: Record<string, unknown> = {}): AgentEvent => ({ seq: ++seq, type, role, data })

describe('timeline', () => {
  it('streams deltas into one message and MESSAGE finalises it', () => {
    const t = buildTimeline([
      ev('AGENT_START', 'engineer', { name: 'Alex' }),
      ev('MESSAGE_DELTA', 'engineer', { delta: 'Hel' }),
      ev('MESSAGE_DELTA', 'engineer', { delta: 'lo' }),
    ])
    const msgs = t.items.filter((i) => i.kind === 'message')
    expect(msgs).toHaveLength(1)
    expect(msgs[0]).toMatchObject({ text: 'Hello', streaming: true })
    expect(t.running).toBe(true)
    const done = buildTimeline([ev('MESSAGE_DELTA', 'engineer', { delta: 'Hi' }), ev('MESSAGE', 'engineer', { text: 'Hi there' })])
    expect(done.items).toHaveLength(1)
    expect(done.items[0]).toMatchObject({ kind: 'message', text: 'Hi there', streaming: false })
  })

  it('keeps speakers apart', () => {
    const t = buildTimeline([
      ev('MESSAGE_DELTA', 'product_manager', { delta: 'A' }),
      ev('MESSAGE', 'product_manager', { text: 'A.' }),
      ev('MESSAGE_DELTA', 'architect', { delta: 'B' }),
      ev('MESSAGE', 'architect', { text: 'B.' }),
      ev('MESSAGE', 'architect', { text: 'C.' }),
    ])
    expect(t.items.map((i) => (i.kind === 'message' ? `${i.role}:${i.text}` : i.kind))).toEqual(['product_manager:A.', 'architect:B.', 'architect:C.'])
    expect(new Set(t.items.map((i) => i.key)).size).toBe(3)
  })

  it('pairs tool start and end by call id, with summary and duration', () => {
    const t = buildTimeline([
      ev('TOOL_START', 'engineer', { tool: 'write_file', call_id: 'c1', input: { path: 'src/app/page.tsx' } }),
      ev('TOOL_START', 'engineer', { tool: 'run', call_id: 'c2', input: { command: 'npm test' } }),
      ev('TOOL_END', 'engineer', { tool: 'run', call_id: 'c2', error: 'exit 1' }),
      ev('TOOL_END', 'engineer', { tool: 'write_file', call_id: 'c1', output: 'ok', duration_ms: 12 }),
    ])
    const tools = t.items.filter((i) => i.kind === 'tool')
    expect(tools).toHaveLength(2)
    expect(tools[0]).toMatchObject({ tool: 'write_file', summary: 'src/app/page.tsx', status: 'ok', durationMs: 12 })
    expect(tools[1]).toMatchObject({ tool: 'run', status: 'error', error: 'exit 1' })
  })

  it('updates the plan in place within a run', () => {
    const t = buildTimeline([
      ev('PLAN', 'team_leader', { steps: [{ title: 'PRD', status: 'in_progress' }, 'Design', 'Build'] }),
      ev('PLAN', 'team_leader', { steps: [{ title: 'PRD', status: 'done' }, { title: 'Design', status: 'in_progress' }, 'Build'] }),
    ])
    const plans = t.items.filter((i) => i.kind === 'plan')
    expect(plans).toHaveLength(1)
    expect(plans[0].kind === 'plan' && plans[0].steps.map((s) => s.status)).toEqual(['done', 'active', 'pending'])
  })

  it('collects changed files and preview readiness', () => {
    const t = buildTimeline([
      ev('FILE_CHANGED', 'engineer', { path: 'a.ts' }),
      ev('FILE_CHANGED', 'engineer', { path: '/b.ts' }),
      ev('PREVIEW_READY', 'engineer', { url: '/dev/x/' }),
    ])
    expect([...t.changedFiles]).toEqual(['a.ts', 'b.ts'])
    expect(t.items.filter((i) => i.kind === 'files')).toHaveLength(1)
    expect(t.previewReady).toBe(true)
  })

  it('adds token usage per run; a FINISH total replaces the run sum', () => {
    const t = buildTimeline([
      ev('MESSAGE', 'pm', { text: 'x', usage: { input_tokens: 100, output_tokens: 20 } }),
      ev('MESSAGE', 'engineer', { text: 'y', usage: { prompt_tokens: 50, completion_tokens: 5 } }),
      ev('FINISH', 'system', { status: 'succeeded', usage: { input_tokens: 160, output_tokens: 30 } }),
      ev('MESSAGE', 'engineer', { text: 'z', usage: { total_tokens: 10 } }),
    ])
    expect(t.usage.total).toBe(200)
  })

  it('FINISH ends the run and closes what is open', () => {
    const t = buildTimeline([ev('TOOL_START', 'engineer', { tool: 'run' }), ev('MESSAGE_DELTA', 'engineer', { delta: 'x' }), ev('FINISH', 'system', { status: 'cancelled' })])
    expect(t.running).toBe(false)
    expect(t.lastStatus).toBe('cancelled')
    expect(t.items.find((i) => i.kind === 'tool')).toMatchObject({ status: 'error' })
    expect(t.items.find((i) => i.kind === 'message')).toMatchObject({ streaming: false })
  })

  it('user messages from the stream become user bubbles', () => {
    const t = buildTimeline([ev('MESSAGE', 'user', { content: 'Make it blue' })])
    expect(t.items).toEqual([expect.objectContaining({ kind: 'user', text: 'Make it blue' })])
  })

  it('words errors plainly', () => {
    expect(plainError('run: context deadline exceeded\n goroutine 1')).toBe('The step took too long and was stopped.')
    expect(plainError('npm ERR! missing script: build\nat x')).toBe('npm ERR! missing script: build')
  })
})

describe('run state', () => {
  it('a file change after FINISH does not restart the run', () => {
    const t = buildTimeline([
      { seq: 1, type: 'AGENT_START', role: 'engineer', data: {} },
      { seq: 2, type: 'FINISH', role: 'system', data: { status: 'succeeded' } },
      { seq: 3, type: 'FILE_CHANGED', role: 'user', data: { path: 'a.ts' } },
    ])
    expect(t.running).toBe(false)
  })
})

describe('the real agent team (agent/run.go)', () => {
  it('shows hand-offs and moves the plan along delegate calls', () => {
    const t = buildTimeline([
      { seq: 1, type: 'AGENT_START', role: 'team_leader', data: { framework: 'nextjs' } },
      { seq: 2, type: 'TOOL_START', role: 'team_leader', data: { call_id: 'p', tool: 'plan', args: { steps: '(300 bytes)' } } },
      { seq: 3, type: 'PLAN', role: 'team_leader', data: { steps: [{ role: 'engineer', task: 'Build it' }, { role: 'qa_engineer', task: 'Test it' }] } },
      { seq: 4, type: 'TOOL_END', role: 'team_leader', data: { call_id: 'p', tool: 'plan', ok: true, summary: '2 steps' } },
      { seq: 5, type: 'TOOL_START', role: 'team_leader', data: { call_id: 'd1', tool: 'delegate', args: { role: 'engineer', task: 'Build it' } } },
      { seq: 6, type: 'TOOL_START', role: 'engineer', data: { call_id: 'w', tool: 'write_file', args: { path: 'a.ts', content: '(900 bytes)' } } },
      { seq: 7, type: 'TOOL_END', role: 'engineer', data: { call_id: 'w', tool: 'write_file', ok: true, summary: 'wrote a.ts' } },
    ])
    expect(t.items.map((i) => i.kind)).toEqual(['agent_start', 'plan', 'handoff', 'tool'])
    expect(t.plan?.map((s) => s.status)).toEqual(['active', 'pending'])
    expect(t.activeRole).toBe('engineer')
    expect(t.items[3]).toMatchObject({ result: 'wrote a.ts', status: 'ok' })
    const t2 = [
      { seq: 8, type: 'TOOL_END', role: 'team_leader', data: { call_id: 'd1', tool: 'delegate', ok: true } },
      { seq: 9, type: 'TOOL_START', role: 'team_leader', data: { call_id: 'd2', tool: 'delegate', args: { role: 'qa_engineer', task: 'Test it' } } },
      { seq: 10, type: 'TOOL_END', role: 'team_leader', data: { call_id: 'd2', tool: 'delegate', ok: false, summary: 'tests failed' } },
    ].reduce((acc, e) => applyEvent(acc, e), t)
    expect(t2.plan?.map((s) => s.status)).toEqual(['done', 'failed'])
    const planItem = t2.items.find((i) => i.kind === 'plan')
    expect(planItem?.kind === 'plan' && planItem.steps.map((s) => s.title)).toEqual(['Build it', 'Test it'])
  })

  it('failed tool ends carry the summary as the error', () => {
    const t = buildTimeline([
      { seq: 1, type: 'TOOL_START', role: 'engineer', data: { call_id: 'r', tool: 'run_command', args: { command: 'npm test' } } },
      { seq: 2, type: 'TOOL_END', role: 'engineer', data: { call_id: 'r', tool: 'run_command', ok: false, summary: 'exit 1', exit_code: 1, output: 'FAIL' } },
    ])
    expect(t.items[0]).toMatchObject({ status: 'error', error: 'exit 1', output: 'FAIL' })
  })
})

describe('call ids reused by different members', () => {
  it('matches a TOOL_END to the start of the same speaker', () => {
    const t = buildTimeline([
      { seq: 1, type: 'TOOL_START', role: 'team_leader', data: { call_id: 'call_9_0', tool: 'delegate', args: { role: 'qa_engineer', task: 'Check' } } },
      { seq: 2, type: 'TOOL_START', role: 'qa_engineer', data: { call_id: 'call_9_0', tool: 'fetch_preview', args: { path: '/' } } },
      { seq: 3, type: 'TOOL_END', role: 'qa_engineer', data: { call_id: 'call_9_0', tool: 'fetch_preview', ok: false, summary: 'preview not reachable' } },
      { seq: 4, type: 'TOOL_END', role: 'team_leader', data: { call_id: 'call_9_0', tool: 'delegate', ok: true, summary: 'report from qa_engineer' } },
    ])
    expect(t.items.map((i) => (i.kind === 'tool' || i.kind === 'handoff' ? `${i.kind}:${i.status}` : i.kind))).toEqual(['handoff:ok', 'tool:error'])
    expect(t.items[1]).toMatchObject({ error: 'preview not reachable' })
  })
})
