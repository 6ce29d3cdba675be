#!/usr/bin/env node
// A stand-in for `mgx up` that speaks the public contract of shared/DESIGN.md well enough to
// develop and screenshot the web UI without the backend: OAuth2 (authorization code + PKCE,
// refresh rotation, SSO cookie, end_session), the control API, SSE events with Last-Event-ID,
// workspace files with ETags, terminal tickets and a read-only terminal WebSocket, and a dev
// preview at /dev/<slug>/ rendered from the workspace. It also serves web/dist.
//
//   node e2e/mock/server.mjs            # http://127.0.0.1:8090, admin@mgx.local / admin
//   MOCK_PORT=9000 MOCK_SPEED=0.3 node e2e/mock/server.mjs
//   MOCK_SEED=1 …                       # start with two finished apps
import http from 'node:http'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { WebSocketServer } from 'ws'

const here = path.dirname(fileURLToPath(import.meta.url))
const DIST = path.resolve(here, '../../dist')
const PORT = Number(process.env.MOCK_PORT ?? 8090)
const HOST = process.env.MOCK_HOST ?? '127.0.0.1'
const SPEED = Number(process.env.MOCK_SPEED ?? 1) // 0.5 = twice as fast
const ADMIN = { email: process.env.MGX_ADMIN_EMAIL ?? 'admin@mgx.local', password: process.env.MGX_ADMIN_PASSWORD ?? 'admin', name: 'Ada Admin' }
const ACCESS_TTL = Number(process.env.MOCK_ACCESS_TTL ?? 120)

const log = (...a) => process.env.MOCK_QUIET ? undefined : console.log(new Date().toISOString().slice(11, 19), ...a)
const b64url = (buf) => Buffer.from(buf).toString('base64url')
const sha256 = (s) => crypto.createHash('sha256').update(s).digest()
const rid = (n = 12) => crypto.randomBytes(n).toString('hex')
const etagOf = (s) => `"${crypto.createHash('sha1').update(s).digest('hex').slice(0, 16)}"`

// ---------------------------------------------------------------- state
const codes = new Map() // code -> {challenge, redirectUri, clientId, user}
const access = new Map() // token -> {user, exp}
const refresh = new Map() // token -> {user, used}
const sso = new Map() // cookie -> user
const tickets = new Map() // ticket -> {slug, exp}
const apps = new Map() // slug -> app
const sessions = new Map() // id -> session
const workspaces = new Map() // id -> Map(path -> content)
const events = new Map() // session id -> [event]
const subscribers = new Map() // session id -> Set(res)
const terms = new Map() // slug -> Set(ws)
const termLog = new Map() // slug -> [lines]
const runs = new Map() // session id -> {cancelled}

// ---------------------------------------------------------------- helpers
function send(res, status, body, headers = {}) {
  const isJSON = typeof body === 'object' && body !== null && !Buffer.isBuffer(body)
  res.writeHead(status, { 'Content-Type': isJSON ? 'application/json' : 'text/plain; charset=utf-8', ...headers })
  res.end(isJSON ? JSON.stringify(body) : body)
}
const apiError = (res, status, code, message) => send(res, status, { error: { code, message } })

function readBody(req, limit = 5 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let n = 0
    req.on('data', (c) => {
      n += c.length
      if (n > limit) {
        reject(new Error('too large'))
        req.destroy()
      } else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function cookies(req) {
  return Object.fromEntries((req.headers.cookie ?? '').split(/;\s*/).filter(Boolean).map((c) => c.split('=').map(decodeURIComponent)))
}

function bearer(req) {
  const h = req.headers.authorization ?? ''
  const t = h.startsWith('Bearer ') ? h.slice(7) : null
  const a = t && access.get(t)
  if (!a || a.exp < Date.now()) return null
  return a.user
}

function slugify(s) {
  const base = s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').split('-').slice(0, 3).join('-') || 'app'
  let slug = base
  for (let i = 2; apps.has(slug); i++) slug = `${base}-${i}`
  return slug
}

// ---------------------------------------------------------------- events
function emit(sid, type, role, data = {}) {
  const list = events.get(sid)
  const ev = { session_id: sid, seq: list.length + 1, type, role, data, ts: new Date().toISOString() }
  list.push(ev)
  for (const res of subscribers.get(sid) ?? []) writeEvent(res, ev)
  const s = sessions.get(sid)
  s.updated_at = ev.ts
  apps.get(s.app.slug).updated_at = ev.ts
  return ev
}
function writeEvent(res, ev) {
  res.write(`id: ${ev.seq}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`)
}

function termWrite(slug, line) {
  const l = termLog.get(slug) ?? []
  l.push(line)
  if (l.length > 500) l.shift()
  termLog.set(slug, l)
  for (const ws of terms.get(slug) ?? []) ws.send(line + '\r\n')
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms * SPEED))

async function say(sid, role, text, name, usage) {
  const words = text.split(/(?<=\s)/)
  const mid = rid(4)
  for (let i = 0; i < words.length; i += 3) {
    if (runs.get(sid)?.cancelled) return
    emit(sid, 'MESSAGE_DELTA', role, { message_id: mid, delta: words.slice(i, i + 3).join(''), name })
    await sleep(45)
  }
  emit(sid, 'MESSAGE', role, { message_id: mid, text, name, usage })
}

async function tool(sid, role, name, input, output, ms = 350) {
  const call = rid(4)
  emit(sid, 'TOOL_START', role, { tool: name, call_id: call, input })
  await sleep(ms)
  emit(sid, 'TOOL_END', role, { tool: name, call_id: call, output, duration_ms: Math.round(ms * SPEED) })
}

async function writeFile(sid, role, ws, p, content) {
  await tool(sid, role, 'write_file', { path: p, content: content.slice(0, 200) }, `wrote ${content.length} bytes`, 220)
  workspaces.get(ws).set(p, content)
  emit(sid, 'FILE_CHANGED', role, { path: p, op: 'write' })
  termWrite(sessions.get(sid).app.slug, `\x1b[36m[watch]\x1b[0m ${p} changed`)
}

function titleFrom(prompt) {
  const t = prompt.replace(/^(a|an|the)\s+/i, '').split(/[:.,—-]/)[0].trim()
  return t.charAt(0).toUpperCase() + t.slice(1, 40)
}

function nextFiles(title, framework) {
  if (framework === 'fastapi-react') {
    return {
      'backend/requirements.txt': 'fastapi==0.115.0\nuvicorn[standard]==0.30.6\nmotor==3.6.0\n',
      'backend/app/main.py': `from fastapi import FastAPI\n\napp = FastAPI(title="${title}")\n\n\n@app.get("/api/health")\nasync def health():\n    return {"ok": True}\n\n\n@app.get("/api/items")\nasync def items():\n    return [{"id": 1, "title": "First item"}]\n`,
      'backend/tests/test_health.py': 'from fastapi.testclient import TestClient\nfrom app.main import app\n\n\ndef test_health():\n    assert TestClient(app).get("/api/health").json() == {"ok": True}\n',
      'frontend/package.json': JSON.stringify({ name: 'frontend', private: true, scripts: { dev: 'vite', build: 'vite build' } }, null, 2) + '\n',
      'frontend/src/App.tsx': `export default function App() {\n  return (\n    <main className="app">\n      <h1>${title}</h1>\n      <p>Built by the MGX team.</p>\n    </main>\n  )\n}\n`,
      'frontend/src/index.css': 'body {\n  font-family: system-ui;\n  margin: 0;\n}\n',
      'README.md': `# ${title}\n\nFastAPI + React, generated by MGX.\n`,
    }
  }
  return {
    'package.json': JSON.stringify({ name: 'app', private: true, scripts: { dev: 'next dev', build: 'next build', test: 'vitest run' }, dependencies: { next: '16.4.0', react: '19.3.1' } }, null, 2) + '\n',
    'next.config.mjs': 'export default {\n  basePath: process.env.BASE_PATH,\n}\n',
    'src/app/layout.tsx': `export const metadata = { title: '${title}' }\n\nexport default function RootLayout({ children }: { children: React.ReactNode }) {\n  return (\n    <html lang="en">\n      <body>{children}</body>\n    </html>\n  )\n}\n`,
    'src/app/page.tsx': `import { HabitList } from '../components/HabitList'\n\nexport default function Home() {\n  return (\n    <main className="page">\n      <h1>${title}</h1>\n      <p className="lead">Small steps, every day.</p>\n      <HabitList />\n    </main>\n  )\n}\n`,
    'src/components/HabitList.tsx': `'use client'\nimport { useState } from 'react'\n\nexport function HabitList() {\n  const [items, setItems] = useState<string[]>(['Read 20 pages', 'Walk 8k steps'])\n  return (\n    <ul>\n      {items.map((h) => (\n        <li key={h}>{h}</li>\n      ))}\n    </ul>\n  )\n}\n`,
    'src/app/globals.css': ':root {\n  --accent: #7c5cff;\n}\n\nbody {\n  font-family: system-ui, sans-serif;\n}\n',
    'src/app/api/health/route.ts': "export function GET() {\n  return Response.json({ ok: true })\n}\n",
    'README.md': `# ${title}\n\nNext.js app generated by MGX.\n`,
  }
}

const TEAM = {
  team_leader: 'Mike',
  product_manager: 'Emma',
  architect: 'Bob',
  engineer: 'Alex',
  qa: 'Edward',
}

async function agentRun(sid, { followUp } = {}) {
  const s = sessions.get(sid)
  const app = apps.get(s.app.slug)
  const run = { cancelled: false }
  runs.set(sid, run)
  const stop = () => run.cancelled
  s.status = 'running'
  const ws = s.workspace_id
  try {
    if (followUp) {
      emit(sid, 'AGENT_START', 'engineer', { name: TEAM.engineer })
      await say(sid, 'engineer', `On it — I'll ${followUp.toLowerCase().replace(/[.!]$/, '')} and check the preview.`, TEAM.engineer, { input_tokens: 900, output_tokens: 60 })
      const f = s.framework === 'fastapi-react' ? 'frontend/src/index.css' : 'src/app/globals.css'
      const cur = workspaces.get(ws).get(f) ?? ''
      await writeFile(sid, 'engineer', ws, f, cur + `\n/* ${followUp} */\n.page {\n  max-width: 720px;\n  margin: 0 auto;\n}\n`)
      if (stop()) return
      await tool(sid, 'engineer', 'run', { command: 'npm run lint' }, '✓ no problems', 500)
      emit(sid, 'PREVIEW_READY', 'engineer', { url: `/dev/${app.slug}/` })
      await say(sid, 'engineer', 'Done. The preview has reloaded with the change.', TEAM.engineer, { input_tokens: 400, output_tokens: 30 })
      emit(sid, 'FINISH', 'system', { status: 'succeeded', usage: { input_tokens: 1300, output_tokens: 90 } })
      s.status = 'succeeded'
      return
    }
    emit(sid, 'AGENT_START', 'team_leader', { name: TEAM.team_leader })
    await sleep(300)
    await say(sid, 'team_leader', `Hi! I'm Mike, the team lead. We'll build **${s.app.name}** with ${s.framework === 'fastapi-react' ? 'FastAPI and React' : 'Next.js'}. Here's the plan:`, TEAM.team_leader, { input_tokens: 1800, output_tokens: 90 })
    const steps = [
      { title: 'Write the product requirements', role: 'product_manager' },
      { title: 'Design the architecture and file layout', role: 'architect' },
      { title: 'Build the pages and the API', role: 'engineer' },
      { title: 'Test and start the preview', role: 'qa' },
    ]
    const plan = (done, active) => emit(sid, 'PLAN', 'team_leader', { steps: steps.map((st, i) => ({ ...st, status: i < done ? 'done' : i === active ? 'in_progress' : 'pending' })) })
    plan(0, 0)
    await sleep(500)
    if (stop()) return
    emit(sid, 'AGENT_START', 'product_manager', { name: TEAM.product_manager })
    await say(sid, 'product_manager', `Requirements for ${s.app.name}:\n- A clean home screen with the main list\n- Add, edit and complete items\n- Progress saved per user (sign-in with MGX)\n- Works on a laptop and a phone`, TEAM.product_manager, { input_tokens: 2400, output_tokens: 210 })
    await tool(sid, 'product_manager', 'write_file', { path: 'docs/PRD.md' }, 'wrote 1.2 KB', 300)
    workspaces.get(ws).set('docs/PRD.md', `# ${s.app.name} — PRD\n\n${s.prompt}\n`)
    emit(sid, 'FILE_CHANGED', 'product_manager', { path: 'docs/PRD.md' })
    plan(1, 1)
    await sleep(400)
    if (stop()) return
    emit(sid, 'AGENT_START', 'architect', { name: TEAM.architect })
    await say(sid, 'architect', s.framework === 'fastapi-react'
      ? 'FastAPI backend under `backend/` (ASGI app at `app.main:app`), Vite + React under `frontend/`, MongoDB through motor. Auth goes through the MGX provider.'
      : 'App Router with server components for pages, a client component for the list, and route handlers under `src/app/api`. `basePath` comes from `BASE_PATH`.', TEAM.architect, { input_tokens: 2100, output_tokens: 160 })
    plan(2, 2)
    if (stop()) return
    emit(sid, 'AGENT_START', 'engineer', { name: TEAM.engineer })
    await say(sid, 'engineer', "I'll write the files now.", TEAM.engineer, { input_tokens: 600, output_tokens: 12 })
    termWrite(app.slug, `\x1b[1m$ mgx dev ${app.slug}\x1b[0m`)
    for (const [p, c] of Object.entries(nextFiles(s.app.name, s.framework))) {
      if (stop()) return
      await writeFile(sid, 'engineer', ws, p, c)
      await sleep(250)
    }
    await tool(sid, 'engineer', 'run', { command: s.framework === 'fastapi-react' ? 'pip install -r backend/requirements.txt && npm --prefix frontend install' : 'npm install' }, 'added 312 packages in 9s', 1400)
    termWrite(app.slug, 'added 312 packages in 9s')
    if (stop()) return
    await tool(sid, 'engineer', 'start_dev_server', { command: s.framework === 'fastapi-react' ? 'uvicorn app.main:app --reload & vite' : 'next dev' }, `ready on /dev/${app.slug}/`, 900)
    termWrite(app.slug, `\x1b[32m✓\x1b[0m Ready on /dev/${app.slug}/`)
    s.preview = true
    app.dev = { state: 'running', url: `/dev/${app.slug}/` }
    emit(sid, 'PREVIEW_READY', 'engineer', { url: `/dev/${app.slug}/` })
    plan(3, 3)
    if (stop()) return
    emit(sid, 'AGENT_START', 'qa', { name: TEAM.qa })
    await tool(sid, 'qa', 'run', { command: s.framework === 'fastapi-react' ? 'pytest backend/tests' : 'npm test' }, '2 passed', 1100)
    termWrite(app.slug, '\x1b[32m2 passed\x1b[0m')
    if (process.env.MOCK_FAIL_STEP) emit(sid, 'ERROR', 'qa', { message: 'npm ERR! code ELIFECYCLE\nnpm ERR! errno 1' })
    await say(sid, 'qa', 'All checks pass: the home page renders, items can be added, and the health endpoint answers.', TEAM.qa, { input_tokens: 1500, output_tokens: 70 })
    plan(4, -1)
    emit(sid, 'FINISH', 'system', { status: 'succeeded', summary: `${s.app.name} is running in the preview.`, usage: { input_tokens: 13400, output_tokens: 720 } })
    s.status = 'succeeded'
  } finally {
    if (run.cancelled) {
      emit(sid, 'FINISH', 'system', { status: 'cancelled' })
      s.status = 'cancelled'
    }
    runs.delete(sid)
  }
}

function createSession(user, { prompt, framework, name }) {
  const title = name || titleFrom(prompt)
  const slug = slugify(title)
  const now = new Date().toISOString()
  const app = { id: rid(6), slug, name: title, framework, owner_id: user.email, workspace_id: null, created_at: now, updated_at: now }
  const sid = rid(8)
  const wsid = rid(8)
  const s = { id: sid, workspace_id: wsid, app: { slug, name: title }, app_slug: slug, prompt, framework, status: 'queued', created_at: now, updated_at: now }
  app.workspace_id = wsid
  apps.set(slug, app)
  sessions.set(sid, s)
  workspaces.set(wsid, new Map())
  events.set(sid, [])
  app.session_id = sid
  return s
}

function seed() {
  const u = { email: ADMIN.email }
  for (const [prompt, fw, status] of [
    ['A recipe box with photos, ingredients and a weekly shopping list', 'nextjs', 'live'],
    ['Support inbox: tickets with priority and canned replies', 'fastapi-react', 'failed'],
  ]) {
    const s = createSession(u, { prompt, framework: fw })
    const ws = workspaces.get(s.workspace_id)
    for (const [p, c] of Object.entries(nextFiles(s.app.name, fw))) ws.set(p, c)
    emit(s.id, 'AGENT_START', 'team_leader', { name: TEAM.team_leader })
    emit(s.id, 'MESSAGE', 'team_leader', { text: `We built ${s.app.name}.` })
    emit(s.id, 'FINISH', 'system', { status: status === 'failed' ? 'failed' : 'succeeded' })
    if (status === 'live') apps.get(s.app.slug).live_deployment_id = rid(6)
    else apps.get(s.app.slug).dev = { state: 'crashed', message: 'npm run dev exited with 1' }
    s.status = status === 'failed' ? 'failed' : 'succeeded'
    const t = new Date(Date.now() - (status === 'live' ? 3 : 26) * 3600e3).toISOString()
    apps.get(s.app.slug).updated_at = t
    s.created_at = t
  }
}

// ---------------------------------------------------------------- OAuth
const ISSUER = (req) => `http://${req?.headers.host ?? `${HOST}:${PORT}`}/oauth2`

function loginPage(q, error) {
  const hidden = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method']
    .map((k) => `<input type="hidden" name="${k}" value="${(q.get(k) ?? '').replace(/"/g, '&quot;')}">`)
    .join('')
  return `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Sign in · MGX</title>
<style>body{font-family:system-ui,sans-serif;background:#0a0b10;color:#ececf3;display:grid;place-items:center;min-height:100vh;margin:0}
form{background:#12131a;border:1px solid #ffffff14;border-radius:16px;padding:32px;width:340px;display:flex;flex-direction:column;gap:12px}
h1{font-size:20px;margin:0 0 8px}label{font-size:13px;color:#a0a0b4}input[type=email],input[type=password],input[type=text]{height:38px;border-radius:8px;border:1px solid #ffffff24;background:#0a0b10;color:inherit;padding:0 10px;font-size:14px}
button{height:40px;border:0;border-radius:9px;background:linear-gradient(135deg,#7c5cff,#22d3ee);color:#fff;font-weight:600;font-size:14px;cursor:pointer}.err{color:#f87171;font-size:13px}</style>
<form method="post" action="/oauth2/authorize"><h1>Sign in to MGX</h1>${error ? `<div class="err">${error}</div>` : ''}
<label for="u">Email</label><input id="u" name="username" type="text" autocomplete="username" autofocus>
<label for="p">Password</label><input id="p" name="password" type="password" autocomplete="current-password">${hidden}
<button type="submit">Sign in</button><small style="color:#6b6b80">Mock provider (web/e2e/mock)</small></form></html>`
}

function issueCode(res, q, user) {
  const redirect = q.get('redirect_uri')
  const code = rid(16)
  codes.set(code, { challenge: q.get('code_challenge'), method: q.get('code_challenge_method'), redirectUri: redirect, clientId: q.get('client_id'), user, exp: Date.now() + 60_000 })
  const u = new URL(redirect)
  u.searchParams.set('code', code)
  if (q.get('state')) u.searchParams.set('state', q.get('state'))
  res.writeHead(302, { Location: u.toString() })
  res.end()
}

function tokens(user, req) {
  const at = rid(24)
  const rt = rid(24)
  access.set(at, { user, exp: Date.now() + ACCESS_TTL * 1000 })
  refresh.set(rt, { user, used: false })
  const idt = [b64url(JSON.stringify({ alg: 'none' })), b64url(JSON.stringify({ sub: user.email, email: user.email, iss: ISSUER(req) })), ''].join('.')
  return { access_token: at, token_type: 'Bearer', expires_in: ACCESS_TTL, refresh_token: rt, id_token: idt, scope: 'openid profile email offline_access' }
}

async function oauth(req, res, url) {
  const p = url.pathname.slice('/oauth2'.length)
  if (p === '/.well-known/openid-configuration') {
    const iss = ISSUER(req)
    return send(res, 200, {
      issuer: iss,
      authorization_endpoint: `${iss}/authorize`,
      token_endpoint: `${iss}/token`,
      userinfo_endpoint: `${iss}/userinfo`,
      jwks_uri: `${iss}/jwks`,
      end_session_endpoint: `${iss}/logout`,
      revocation_endpoint: `${iss}/revoke`,
      code_challenge_methods_supported: ['S256'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
    })
  }
  if (p === '/authorize' && req.method === 'GET') {
    const q = url.searchParams
    if (q.get('client_id') !== 'mgx-web') return send(res, 400, 'unknown client')
    if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) return send(res, 400, 'PKCE S256 required')
    const user = sso.get(cookies(req).mgx_sso)
    if (user) return issueCode(res, q, user)
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
    return res.end(loginPage(q))
  }
  if (p === '/authorize' && req.method === 'POST') {
    const q = new URLSearchParams(await readBody(req))
    if (q.get('username') !== ADMIN.email || q.get('password') !== ADMIN.password) {
      res.writeHead(401, { 'Content-Type': 'text/html; charset=utf-8' })
      return res.end(loginPage(q, 'Wrong email or password.'))
    }
    const user = { email: ADMIN.email, name: ADMIN.name, admin: true }
    const c = rid(16)
    sso.set(c, user)
    res.setHeader('Set-Cookie', `mgx_sso=${c}; Path=/oauth2; HttpOnly; SameSite=Lax`)
    return issueCode(res, q, user)
  }
  if (p === '/token' && req.method === 'POST') {
    const q = new URLSearchParams(await readBody(req))
    if (q.get('grant_type') === 'authorization_code') {
      const c = codes.get(q.get('code'))
      codes.delete(q.get('code'))
      if (!c || c.exp < Date.now()) return send(res, 400, { error: 'invalid_grant', error_description: 'unknown or expired code' })
      if (c.redirectUri !== q.get('redirect_uri') || c.clientId !== q.get('client_id')) return send(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri mismatch' })
      if (b64url(sha256(q.get('code_verifier') ?? '')) !== c.challenge) return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' })
      return send(res, 200, tokens(c.user, req))
    }
    if (q.get('grant_type') === 'refresh_token') {
      const r = refresh.get(q.get('refresh_token'))
      if (!r || r.used) return send(res, 400, { error: 'invalid_grant', error_description: 'refresh token invalid or reused' })
      r.used = true
      return send(res, 200, tokens(r.user, req))
    }
    return send(res, 400, { error: 'unsupported_grant_type' })
  }
  if (p === '/revoke') {
    const q = new URLSearchParams(await readBody(req))
    refresh.delete(q.get('token'))
    return send(res, 200, {})
  }
  if (p === '/logout') {
    sso.delete(cookies(req).mgx_sso)
    res.writeHead(302, { Location: url.searchParams.get('post_logout_redirect_uri') ?? '/', 'Set-Cookie': 'mgx_sso=; Path=/oauth2; Max-Age=0' })
    return res.end()
  }
  if (p === '/userinfo') {
    const u = bearer(req)
    return u ? send(res, 200, { sub: u.email, ...u }) : send(res, 401, { error: 'invalid_token' })
  }
  send(res, 404, 'not found')
}

// ---------------------------------------------------------------- API
async function api(req, res, url) {
  const user = bearer(req)
  if (!user) return apiError(res, 401, 'unauthorized', 'Sign in first.')
  const p = url.pathname
  const m = (re) => re.exec(p)
  let r
  if (p === '/api/me') return send(res, 200, { id: 'u1', ...user, realm: 'mgx' })
  if (p === '/api/apps' && req.method === 'GET') return send(res, 200, { apps: [...apps.values()] })
  if ((r = m(/^\/api\/apps\/([^/]+)$/))) {
    const a = apps.get(decodeURIComponent(r[1]))
    return a ? send(res, 200, a) : apiError(res, 404, 'not_found', 'No such app.')
  }
  if (p === '/api/sessions' && req.method === 'GET') return send(res, 200, { sessions: [...sessions.values()] })
  if (p === '/api/sessions' && req.method === 'POST') {
    let body
    try {
      body = JSON.parse(await readBody(req))
    } catch {
      return apiError(res, 400, 'bad_request', 'Body must be JSON.')
    }
    if (!body.prompt || typeof body.prompt !== 'string') return apiError(res, 400, 'bad_request', 'prompt is required')
    if (!['nextjs', 'fastapi-react'].includes(body.framework)) return apiError(res, 400, 'bad_request', 'framework must be nextjs or fastapi-react')
    const s = createSession(user, body)
    log('session', s.id, s.app.slug)
    setTimeout(() => void agentRun(s.id), 400 * SPEED)
    return send(res, 201, { ...s, app: apps.get(s.app.slug) })
  }
  if ((r = m(/^\/api\/sessions\/([^/]+)$/))) {
    const s = sessions.get(r[1])
    return s ? send(res, 200, { ...s, app: apps.get(s.app.slug) }) : apiError(res, 404, 'not_found', 'No such session.')
  }
  if ((r = m(/^\/api\/sessions\/([^/]+)\/messages$/)) && req.method === 'POST') {
    const s = sessions.get(r[1])
    if (!s) return apiError(res, 404, 'not_found', 'No such session.')
    const { content } = JSON.parse(await readBody(req))
    emit(s.id, 'MESSAGE', 'user', { content })
    if (!runs.has(s.id)) setTimeout(() => void agentRun(s.id, { followUp: content }), 300 * SPEED)
    return send(res, 202, { ok: true })
  }
  if ((r = m(/^\/api\/sessions\/([^/]+)\/cancel$/)) && req.method === 'POST') {
    const run = runs.get(r[1])
    if (run) run.cancelled = true
    return send(res, 202, { ok: true })
  }
  if ((r = m(/^\/api\/sessions\/([^/]+)\/events$/))) {
    const sid = r[1]
    if (!sessions.has(sid)) return apiError(res, 404, 'not_found', 'No such session.')
    const last = Number(req.headers['last-event-id'] ?? url.searchParams.get('last_event_id') ?? 0) || 0
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' })
    res.write('retry: 1000\n\n')
    for (const ev of events.get(sid)) if (ev.seq > last) writeEvent(res, ev)
    const set = subscribers.get(sid) ?? new Set()
    subscribers.set(sid, set)
    set.add(res)
    const ka = setInterval(() => res.write(': keep-alive\n\n'), 15000)
    req.on('close', () => {
      clearInterval(ka)
      set.delete(res)
    })
    return
  }
  if ((r = m(/^\/api\/workspaces\/([^/]+)\/files$/))) {
    const ws = workspaces.get(r[1])
    if (!ws) return apiError(res, 404, 'not_found', 'No such workspace.')
    const dirs = new Set()
    for (const f of ws.keys()) {
      const parts = f.split('/')
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
    }
    return send(res, 200, { files: [...[...dirs].map((d) => ({ path: d, type: 'dir', size: 0 })), ...[...ws].map(([path, c]) => ({ path, type: 'file', size: Buffer.byteLength(c) }))] })
  }
  if ((r = m(/^\/api\/workspaces\/([^/]+)\/files\/(.+)$/))) {
    const ws = workspaces.get(r[1])
    if (!ws) return apiError(res, 404, 'not_found', 'No such workspace.')
    const fp = r[2].split('/').map(decodeURIComponent).join('/')
    if (fp.split('/').includes('..')) return apiError(res, 400, 'bad_path', 'Path leaves the workspace.')
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (!ws.has(fp)) return apiError(res, 404, 'not_found', 'No such file.')
      const c = ws.get(fp)
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', ETag: etagOf(c), 'Cache-Control': 'no-store' })
      return res.end(req.method === 'HEAD' ? undefined : c)
    }
    if (req.method === 'PUT') {
      const im = req.headers['if-match']
      if (im && (!ws.has(fp) || etagOf(ws.get(fp)) !== im)) return apiError(res, 412, 'precondition_failed', 'The file changed since you read it.')
      const c = await readBody(req)
      ws.set(fp, c)
      log('PUT', fp, c.length)
      termWrite(sessions.get([...sessions.values()].find((s) => s.workspace_id === r[1])?.id)?.app.slug ?? '', `\x1b[36m[watch]\x1b[0m ${fp} changed (you)`)
      res.writeHead(204, { ETag: etagOf(c) })
      return res.end()
    }
    if (req.method === 'DELETE') {
      ws.delete(fp)
      res.writeHead(204)
      return res.end()
    }
  }
  if (p === '/api/tickets' && req.method === 'POST') {
    if (process.env.MOCK_NO_TICKETS) return apiError(res, 404, 'not_found', 'no tickets')
    const body = JSON.parse((await readBody(req)) || '{}')
    const t = rid(16)
    tickets.set(t, { slug: body.app, exp: Date.now() + 30_000 })
    return send(res, 201, { ticket: t, expires_in: 30 })
  }
  // Empty answers in the shapes the panels of issues 9 and 10 read.
  if ((r = m(/^\/api\/apps\/([^/]+)\/deployments$/))) return send(res, 200, { deployments: [] })
  if ((r = m(/^\/api\/apps\/([^/]+)\/logs$/))) return send(res, 200, { entries: [] })
  if ((r = m(/^\/api\/apps\/([^/]+)\/traces$/))) return send(res, 200, { traces: [] })
  if ((r = m(/^\/api\/apps\/([^/]+)\/users$/))) return send(res, 200, { users: [], total: 0 })
  if ((r = m(/^\/api\/apps\/([^/]+)\/db\/collections$/))) return send(res, 200, { collections: [] })
  apiError(res, 404, 'not_found', `No route for ${req.method} ${p}`)
}

// ---------------------------------------------------------------- preview
function preview(res, slug) {
  const a = apps.get(slug)
  const s = a && sessions.get(a.session_id)
  const ws = s && workspaces.get(s.workspace_id)
  if (!ws || ws.size === 0 || !s.preview) {
    res.writeHead(502, { 'Content-Type': 'text/html; charset=utf-8' })
    return res.end('<!doctype html><body style="font-family:system-ui;color:#666;display:grid;place-items:center;height:90vh">Starting the dev server…</body>')
  }
  const page = ws.get('src/app/page.tsx') ?? ws.get('frontend/src/App.tsx') ?? ''
  const h1 = /<h1>([^<]*)<\/h1>/.exec(page)?.[1] ?? a.name
  const lead = /<p[^>]*>([^<]*)<\/p>/.exec(page)?.[1] ?? ''
  const items = [...(ws.get('src/components/HabitList.tsx') ?? '').matchAll(/'([^']+)'/g)].map((x) => x[1]).filter((x) => !/use client|react/.test(x))
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${h1}</title><style>
body{margin:0;font-family:system-ui,sans-serif;background:linear-gradient(180deg,#fdfbff,#f3f0ff);color:#1d1b2c;min-height:100vh}
nav{display:flex;justify-content:space-between;align-items:center;padding:18px 36px;border-bottom:1px solid #ece8fb;background:#fff}
nav b{font-size:17px}nav a{color:#7c5cff;text-decoration:none;font-weight:600}
main{max-width:720px;margin:0 auto;padding:56px 24px}h1{font-size:42px;margin:0 0 8px;letter-spacing:-.02em}.lead{color:#6b6880;font-size:18px;margin:0 0 28px}
li{list-style:none;background:#fff;border:1px solid #ece8fb;border-radius:12px;padding:14px 18px;margin:0 0 10px;display:flex;gap:12px;align-items:center;box-shadow:0 2px 10px #7c5cff12}
li::before{content:'';width:18px;height:18px;border-radius:6px;border:2px solid #7c5cff}ul{padding:0}
</style></head><body><nav><b>${h1}</b><a href="#">Sign in</a></nav><main><h1 data-testid="app-title">${h1}</h1><p class="lead">${lead}</p><ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul></main></body></html>`)
}

// ---------------------------------------------------------------- static
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json', '.woff2': 'font/woff2', '.png': 'image/png' }
function serveStatic(res, url) {
  const rel = path.normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '')
  const file = path.join(DIST, rel)
  if (file.startsWith(DIST) && fs.existsSync(file) && fs.statSync(file).isFile()) {
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache' })
    return fs.createReadStream(file).pipe(res)
  }
  if (path.extname(rel) && rel !== '/') return send(res, 404, 'not found')
  const index = path.join(DIST, 'index.html')
  if (!fs.existsSync(index)) return send(res, 503, 'web/dist is not built: run npm run build')
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-cache',
    // The same CSP as web/handler.go, so the mock catches violations.
    'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; frame-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'; object-src 'none'",
  })
  fs.createReadStream(index).pipe(res)
}

// ---------------------------------------------------------------- server
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host ?? `${HOST}:${PORT}`}`)
  try {
    if (url.pathname.startsWith('/oauth2/')) return await oauth(req, res, url)
    if (url.pathname.startsWith('/api/')) return await api(req, res, url)
    if (url.pathname === '/healthz') return send(res, 200, { ok: true })
    // Test hook: an agent writes a file (emits FILE_CHANGED), for conflict and live-update shots.
    if (url.pathname === '/__mock/agent-write' && req.method === 'POST') {
      const { session_id: sid, path: fp, content } = JSON.parse(await readBody(req))
      const s = sessions.get(sid)
      if (!s) return apiError(res, 404, 'not_found', 'No such session.')
      workspaces.get(s.workspace_id).set(fp, content)
      emit(sid, 'FILE_CHANGED', 'engineer', { path: fp, op: 'write' })
      return send(res, 200, { ok: true })
    }
    let r
    if ((r = /^\/dev\/([^/]+)\/?/.exec(url.pathname))) return preview(res, decodeURIComponent(r[1]))
    return serveStatic(res, url)
  } catch (e) {
    log('error', e)
    if (!res.headersSent) apiError(res, 500, 'internal', String(e.message ?? e))
  }
})

const wss = new WebSocketServer({ noServer: true })
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://x')
  const r = /^\/api\/apps\/([^/]+)\/terminal$/.exec(url.pathname)
  const t = tickets.get(url.searchParams.get('ticket') ?? '')
  tickets.delete(url.searchParams.get('ticket') ?? '')
  if (!r || !t || t.exp < Date.now() || t.slug !== decodeURIComponent(r[1])) {
    socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n')
    return socket.destroy()
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const slug = decodeURIComponent(r[1])
    const set = terms.get(slug) ?? new Set()
    terms.set(slug, set)
    set.add(ws)
    ws.send(`\x1b[2mConnected to mgx-dev-${slug} (read-only)\x1b[0m\r\n`)
    for (const l of termLog.get(slug) ?? []) ws.send(l + '\r\n')
    ws.on('close', () => set.delete(ws))
  })
})

if (process.env.MOCK_SEED) seed()
server.listen(PORT, HOST, () => {
  console.log(`MGX mock listening on http://${HOST}:${PORT}  (sign in: ${ADMIN.email} / ${ADMIN.password})`)
})
