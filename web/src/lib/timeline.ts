// Folds the agent event stream into what the chat shows. Pure: the same events always give
// the same timeline, whatever chunks they arrived in.
import type { AgentEvent } from './types'
import { num, str } from './format'

export interface PlanStep {
  title: string
  status: 'pending' | 'active' | 'done' | 'failed'
  role?: string
}

export type TimelineItem =
  | { kind: 'user'; key: string; text: string; seq: number }
  | { kind: 'agent_start'; key: string; role: string; name?: string; seq: number }
  | { kind: 'message'; key: string; mid?: string; role: string; name?: string; text: string; streaming: boolean; seq: number }
  | { kind: 'plan'; key: string; role: string; steps: PlanStep[]; text?: string; seq: number }
  | {
      kind: 'tool'
      key: string
      callId?: string
      role: string
      tool: string
      summary?: string
      input?: unknown
      output?: unknown
      error?: string
      status: 'running' | 'ok' | 'error'
      durationMs?: number
      /** What the tool reported when it ended ("wrote 1.2 KB", "exit 1"). */
      result?: string
      seq: number
    }
  | { kind: 'files'; key: string; role: string; paths: string[]; seq: number }
  | { kind: 'handoff'; key: string; callId?: string; from: string; to: string; task: string; status: 'running' | 'ok' | 'error'; seq: number }
  | { kind: 'preview'; key: string; url?: string; seq: number }
  | { kind: 'error'; key: string; role: string; message: string; detail?: string; seq: number }
  | { kind: 'finish'; key: string; role: string; status: string; summary?: string; seq: number }

export interface Usage {
  input: number
  output: number
  total: number
}

export interface Timeline {
  items: TimelineItem[]
  /** True between an AGENT_START (or any event) and the FINISH that ends the run. */
  running: boolean
  /** What the team is doing right now, in a few words. */
  activity?: string
  activeRole?: string
  usage: Usage
  baseUsage: Usage
  runUsage: Usage
  changedFiles: Set<string>
  previewReady: boolean
  lastStatus?: string
  /** The latest plan, for the progress bar. */
  plan?: PlanStep[]
}

export const emptyTimeline = (): Timeline => ({
  items: [],
  running: false,
  usage: { input: 0, output: 0, total: 0 },
  baseUsage: { input: 0, output: 0, total: 0 },
  runUsage: { input: 0, output: 0, total: 0 },
  changedFiles: new Set(),
  previewReady: false,
})

const textOf = (d: Record<string, unknown>): string =>
  str(d.text) ?? str(d.content) ?? str(d.message) ?? str(d.delta) ?? ''

const nameOf = (d: Record<string, unknown>): string | undefined =>
  str(d.name) ?? str(d.agent) ?? str(d.agent_name)

function planSteps(d: Record<string, unknown>): PlanStep[] {
  const raw = Array.isArray(d.steps) ? d.steps : Array.isArray(d.tasks) ? d.tasks : Array.isArray(d.plan) ? d.plan : null
  if (raw) {
    return raw.map((s): PlanStep => {
      if (typeof s === 'string') return { title: s, status: 'pending' }
      const o = (s ?? {}) as Record<string, unknown>
      const st = (str(o.status) ?? '').toLowerCase()
      return {
        title: str(o.title) ?? str(o.name) ?? str(o.description) ?? str(o.task) ?? 'Step',
        role: str(o.role) ?? str(o.assignee),
        status: /done|complete|succe|finish/.test(st)
          ? 'done'
          : /fail|error/.test(st)
            ? 'failed'
            : /progress|active|running|doing|current/.test(st)
              ? 'active'
              : 'pending',
      }
    })
  }
  const text = str(d.plan) ?? str(d.text) ?? str(d.content)
  if (!text) return []
  return text
    .split('\n')
    .map((l) => l.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, '').trim())
    .filter(Boolean)
    .map((title) => ({ title, status: 'pending' as const }))
}

/** A one-line description of a tool call: "write_file src/app/page.tsx". */
export function toolSummary(tool: string, input: unknown): string | undefined {
  if (!input || typeof input !== 'object') return typeof input === 'string' ? input.slice(0, 120) : undefined
  const o = input as Record<string, unknown>
  const s = str(o.path) ?? str(o.file) ?? str(o.filename) ?? str(o.command) ?? str(o.cmd) ?? str(o.query) ?? str(o.url)
  if (s) return s.length > 120 ? `${s.slice(0, 117)}…` : s
  void tool
  return undefined
}

/** Collects token counts from any event that reports them. */
export function usageOf(d: Record<string, unknown>): Usage | null {
  const u = (d.usage && typeof d.usage === 'object' ? d.usage : d) as Record<string, unknown>
  const input = num(u.input_tokens) ?? num(u.prompt_tokens) ?? 0
  const output = num(u.output_tokens) ?? num(u.completion_tokens) ?? 0
  const total = num(u.total_tokens) ?? num(d.tokens) ?? num(d.tokens_used) ?? input + output
  if (!input && !output && !total) return null
  return { input, output, total: total || input + output }
}

const ACTIVITY: Record<string, string> = {
  write_file: 'writing', edit_file: 'editing', create_file: 'creating', read_file: 'reading',
  run: 'running', run_command: 'running', exec: 'running', shell: 'running', list_files: 'looking through the files',
  search: 'searching', install: 'installing',
}

/** Applies one event. Events must be de-duplicated before (see SeqDeduper). */
export function applyEvent(t: Timeline, ev: AgentEvent): Timeline {
  const d = (ev.data ?? {}) as Record<string, unknown>
  const role = ev.role || 'system'
  const items = t.items.slice()
  const next: Timeline = { ...t, items }
  const key = `${ev.seq}`
  // Token usage: events of a run may report their own usage; a FINISH that reports usage
  // reports the run's total, which replaces the sum of the run's events when larger.
  const u = d.usage !== undefined || ev.type === 'FINISH' || ev.type === 'MESSAGE' || ev.type === 'TOOL_END' ? usageOf(d) : null
  let run = t.runUsage
  if (u) {
    run = ev.type === 'FINISH'
      ? (u.total >= run.total ? u : run)
      : { input: run.input + u.input, output: run.output + u.output, total: run.total + u.total }
  }
  const base = t.baseUsage
  next.usage = { input: base.input + run.input, output: base.output + run.output, total: base.total + run.total }
  if (ev.type === 'FINISH') {
    next.baseUsage = next.usage
    next.runUsage = { input: 0, output: 0, total: 0 }
  } else {
    next.runUsage = run
  }
  // A run is under way from the first agent activity until its FINISH. File changes, preview
  // notices and errors alone (e.g. from a person's save after the run) do not start one.
  if (['AGENT_START', 'PLAN', 'MESSAGE_DELTA', 'TOOL_START'].includes(ev.type) || (ev.type === 'MESSAGE' && role !== 'user')) next.running = true

  switch (ev.type) {
    case 'AGENT_START': {
      items.push({ kind: 'agent_start', key, role, name: nameOf(d), seq: ev.seq })
      next.activeRole = role
      next.activity = 'thinking'
      break
    }
    case 'PLAN': {
      const steps = planSteps(d)
      next.plan = steps
      // A new plan in the same run updates the card in place.
      let lastRun = -1
      for (let i = items.length - 1; i >= 0; i--) {
        if (items[i].kind === 'finish') break
        if (items[i].kind === 'plan') { lastRun = i; break }
      }
      const item: TimelineItem = { kind: 'plan', key, role, steps, text: steps.length ? undefined : textOf(d), seq: ev.seq }
      if (lastRun >= 0) items[lastRun] = { ...item, key: items[lastRun].key }
      else items.push(item)
      next.activeRole = role
      next.activity = 'planning'
      break
    }
    case 'MESSAGE_DELTA':
    case 'MESSAGE': {
      const mid = str(d.message_id)
      const text = textOf(d)
      if (role === 'user') {
        if (ev.type === 'MESSAGE') items.push({ kind: 'user', key, text, seq: ev.seq })
        break
      }
      // Continue the open streaming message of the same message id, or of the same speaker.
      let idx = -1
      for (let i = items.length - 1; i >= 0; i--) {
        const it = items[i]
        if (it.kind === 'message' && it.streaming && (mid ? it.mid === mid : it.role === role)) { idx = i; break }
      }
      if (idx >= 0) {
        const prev = items[idx] as Extract<TimelineItem, { kind: 'message' }>
        items[idx] = {
          ...prev,
          text: ev.type === 'MESSAGE' ? text || prev.text : prev.text + text,
          streaming: ev.type === 'MESSAGE_DELTA',
          name: prev.name ?? nameOf(d),
        }
      } else {
        items.push({ kind: 'message', key, mid, role, name: nameOf(d), text, streaming: ev.type === 'MESSAGE_DELTA', seq: ev.seq })
      }
      next.activeRole = role
      if (ev.type === 'MESSAGE_DELTA') next.activity = 'writing a reply'
      break
    }
    case 'TOOL_START': {
      const tool = str(d.tool) ?? str(d.name) ?? 'tool'
      const input = d.input ?? d.args ?? d.arguments ?? d.params
      const callId = str(d.call_id) ?? str(d.id) ?? str(d.tool_call_id)
      const args = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>
      if (tool === 'delegate' && str(args.role)) {
        // The lead hands a step to a member: a hand-off line, and the plan moves on.
        const to = str(args.role)!
        const task = str(args.task) ?? ''
        items.push({ kind: 'handoff', key, callId, from: role, to, task, status: 'running', seq: ev.seq })
        if (t.plan) next.plan = advancePlan(t.plan, to)
        syncPlanItem(items, next.plan)
        next.activeRole = to
        next.activity = task ? `working on: ${task.length > 80 ? `${task.slice(0, 77)}…` : task}` : 'working'
        break
      }
      if (tool === 'plan' && role === (t.items.find((i) => i.kind === 'plan')?.role ?? role)) {
        // The PLAN event that follows shows the plan itself.
        next.activeRole = role
        next.activity = 'planning'
        break
      }
      items.push({ kind: 'tool', key, callId, role, tool, input, summary: toolSummary(tool, input), status: 'running', seq: ev.seq })
      next.activeRole = role
      next.activity = `${ACTIVITY[tool] ?? `using ${tool}`}${toolSummary(tool, input) ? ` ${toolSummary(tool, input)}` : ''}`
      break
    }
    case 'TOOL_END': {
      const id = str(d.call_id) ?? str(d.id) ?? str(d.tool_call_id)
      const tool = str(d.tool) ?? str(d.name)
      const failed = d.ok === false || d.success === false || str(d.error) !== undefined
      // The end of a hand-off: that member's step is done.
      // Call ids are only unique within one member's conversation: match the speaker too.
      let h = -1
      for (let i = items.length - 1; i >= 0; i--) {
        const it = items[i]
        if (it.kind === 'handoff' && it.status === 'running' && it.from === role && (id ? it.callId === id : tool === 'delegate')) { h = i; break }
      }
      if (h >= 0) {
        const ho = items[h] as Extract<TimelineItem, { kind: 'handoff' }>
        items[h] = { ...ho, status: failed ? 'error' : 'ok' }
        if (t.plan) next.plan = completePlan(t.plan, ho.to, failed)
        syncPlanItem(items, next.plan)
        break
      }
      if (tool === 'plan' && !items.some((it) => it.kind === 'tool' && it.callId === id)) break
      let idx = -1
      for (let i = items.length - 1; i >= 0; i--) {
        const it = items[i]
        if (it.kind !== 'tool' || it.status !== 'running' || it.role !== role) continue
        if (id ? it.callId === id : !tool || it.tool === tool) { idx = i; break }
      }
      const summary = str(d.summary)
      const error = str(d.error) ?? (failed ? summary ?? str(d.message) ?? 'failed' : undefined)
      const patch = {
        output: d.output ?? d.result ?? d.stdout,
        error,
        result: failed ? undefined : summary,
        status: (failed ? 'error' : 'ok') as 'ok' | 'error',
        durationMs: num(d.duration_ms) ?? num(d.elapsed_ms),
      }
      if (idx >= 0) items[idx] = { ...(items[idx] as Extract<TimelineItem, { kind: 'tool' }>), ...patch }
      else items.push({ kind: 'tool', key, callId: id, role, tool: tool ?? 'tool', seq: ev.seq, ...patch })
      break
    }
    case 'FILE_CHANGED': {
      const paths = (Array.isArray(d.paths) ? d.paths.filter((p): p is string => typeof p === 'string') : [])
      const p = str(d.path) ?? str(d.file)
      if (p) paths.push(p)
      next.changedFiles = new Set(t.changedFiles)
      for (const x of paths) next.changedFiles.add(x.replace(/^\/+/, '').replace(/^workspace\//, ''))
      const last = items[items.length - 1]
      if (last && last.kind === 'files' && last.role === role) {
        items[items.length - 1] = { ...last, paths: Array.from(new Set([...last.paths, ...paths])) }
      } else {
        items.push({ kind: 'files', key, role, paths, seq: ev.seq })
      }
      break
    }
    case 'PREVIEW_READY': {
      next.previewReady = true
      items.push({ kind: 'preview', key, url: str(d.url) ?? str(d.preview_url), seq: ev.seq })
      break
    }
    case 'ERROR': {
      const raw = str(d.message) ?? str(d.error) ?? textOf(d) ?? 'Something went wrong.'
      items.push({ kind: 'error', key, role, message: plainError(raw), detail: raw !== plainError(raw) ? raw : str(d.detail), seq: ev.seq })
      break
    }
    case 'FINISH': {
      const status = str(d.status) ?? 'succeeded'
      items.push({ kind: 'finish', key, role, status, summary: str(d.summary) ?? str(d.reason) ?? str(d.message), seq: ev.seq })
      if (status === 'succeeded' && t.plan) {
        next.plan = t.plan.map((st) => ({ ...st, status: st.status === 'failed' ? 'failed' : 'done' }))
        syncPlanItem(items, next.plan)
      }
      next.running = false
      next.activity = undefined
      next.activeRole = undefined
      next.lastStatus = status
      // Close any streaming text or running tools the run left open.
      for (let i = 0; i < items.length; i++) {
        const it = items[i]
        if (it.kind === 'message' && it.streaming) items[i] = { ...it, streaming: false }
        if ((it.kind === 'tool' || it.kind === 'handoff') && it.status === 'running') items[i] = { ...it, status: status === 'succeeded' ? 'ok' : 'error' }
      }
      break
    }
    default:
      break
  }
  return next
}

/** A member starts a step: the first open step of theirs becomes active. */
export function advancePlan(plan: PlanStep[], role: string): PlanStep[] {
  if (plan.some((s) => s.status === 'active' && s.role === role)) return plan
  const i = plan.findIndex((s) => s.status === 'pending' && s.role === role)
  const j = i >= 0 ? i : plan.findIndex((s) => s.status === 'pending' && !s.role)
  if (j < 0) return plan
  return plan.map((s, k) => (k === j ? { ...s, status: 'active' } : s))
}

/** A member's step ended. */
export function completePlan(plan: PlanStep[], role: string, failed: boolean): PlanStep[] {
  let i = plan.findIndex((s) => s.status === 'active' && s.role === role)
  if (i < 0) i = plan.findIndex((s) => s.status === 'active')
  if (i < 0) return plan
  return plan.map((s, k) => (k === i ? { ...s, status: failed ? 'failed' : 'done' } : s))
}

function syncPlanItem(items: TimelineItem[], plan: PlanStep[] | undefined) {
  if (!plan) return
  for (let i = items.length - 1; i >= 0; i--) {
    const it = items[i]
    if (it.kind === 'plan') {
      items[i] = { ...it, steps: plan }
      return
    }
  }
}

export function buildTimeline(events: AgentEvent[]): Timeline {
  return events.reduce(applyEvent, emptyTimeline())
}

/** Error text for people: keep it short, drop stack traces and Go error chains. */
export function plainError(raw: string): string {
  const first = raw.split('\n')[0].trim()
  if (/context deadline exceeded|timed? ?out/i.test(first)) return 'The step took too long and was stopped.'
  if (/rate limit|429/i.test(first)) return 'The AI provider is rate-limiting us. The team will retry shortly.'
  if (/ECONNREFUSED|connection refused/i.test(first)) return 'A service the agents need did not answer.'
  return first.length > 240 ? `${first.slice(0, 237)}…` : first
}

export const FINISH_LABEL: Record<string, string> = {
  succeeded: 'Finished',
  failed: 'Failed',
  cancelled: 'Cancelled',
  timed_out: 'Timed out',
}
