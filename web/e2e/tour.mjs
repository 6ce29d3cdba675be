#!/usr/bin/env node
// Screenshots of the UI's less common states against the mock backend (web/e2e/mock), for
// design review: empty home, a live agent edit while the person types, the 412 conflict view,
// an expanded tool step and an error, a narrow laptop, light theme.
//   node e2e/mock/server.mjs & MGX_URL=http://127.0.0.1:8090 node e2e/tour.mjs
import { chromium } from 'playwright-core'
import fs from 'node:fs'
import path from 'node:path'

const BASE = process.env.MGX_URL ?? 'http://127.0.0.1:8090'
const OUT = process.env.E2E_SHOTS ?? '/tmp/mgx-tour'
fs.mkdirSync(OUT, { recursive: true })
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
const ctx = await b.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: process.env.TOUR_SCHEME ?? 'dark' })
const p = await ctx.newPage()
p.setDefaultTimeout(30_000)
let n = 0
const shot = async (name) => {
  const f = path.join(OUT, `${String(++n).padStart(2, '0')}-${name}.png`)
  await p.screenshot({ path: f })
  console.log(f)
}
p.on('pageerror', (e) => console.log('pageerror', e.message))

await p.goto(BASE)
await p.fill('input[name=username]', process.env.MGX_ADMIN_EMAIL ?? 'admin@mgx.local')
await p.fill('input[name=password]', process.env.MGX_ADMIN_PASSWORD ?? 'admin')
await p.press('input[name=password]', 'Enter')
await p.waitForSelector('[data-testid=prompt]')
await p.waitForTimeout(600)
await shot('home')
await p.click('text=Team wiki')
await Promise.all([p.waitForURL(/sessions/), p.click('[data-testid=create]')])
const sid = p.url().split('/').pop()
await p.waitForSelector('[data-testid=tool-step]', { timeout: 60_000 })
await p.waitForTimeout(2500)
await shot('session-running')
await p.locator('[data-testid=tool-step] button').first().click()
await p.waitForTimeout(300)
await shot('tool-expanded')
await p.waitForSelector('[data-testid=finish]', { timeout: 120_000 })
await p.click('[data-testid=tab-code]')
await p.click('[data-testid=tree-file][data-path="frontend/src/App.tsx"]')
await p.waitForSelector('.cm-content')
await p.evaluate(() => {
  const v = document.querySelector('[data-testid=code-editor]').mgxView
  v.dispatch({ selection: { anchor: v.state.doc.line(5).to } })
  v.focus()
})
await p.keyboard.type('\n      <p>My own paragraph</p>')
// An agent rewrites the same file while the person has unsaved edits.
const original = await p.evaluate(() => document.querySelector('[data-testid=code-editor]').mgxView.state.doc.toString())
await fetch(`${BASE}/__mock/agent-write`, {
  method: 'POST',
  body: JSON.stringify({ session_id: sid, path: 'frontend/src/App.tsx', content: original.replace('\n      <p>My own paragraph</p>', '').replace('Built by the MGX team.', 'Built by the MGX team — now with search.') }),
})
await p.waitForSelector('[data-testid=external-change]')
await shot('agent-changed-while-editing')
await p.keyboard.press('Control+s')
await p.waitForSelector('[data-testid=conflict]')
await p.waitForTimeout(300)
await shot('conflict')
await p.click('[data-testid=keep-mine]')
await p.waitForSelector('[data-testid=save-status]')
await shot('conflict-resolved')
await p.setViewportSize({ width: 1024, height: 700 })
await p.click('[data-testid=tab-preview]')
await p.waitForTimeout(800)
await shot('narrow-preview')
await p.emulateMedia({ colorScheme: 'light' })
await p.waitForTimeout(300)
await shot('narrow-light')
await p.setViewportSize({ width: 1440, height: 900 })
await p.click('a[aria-label="All apps"]')
await p.waitForSelector('[data-testid=app-card]')
await p.waitForTimeout(400)
await shot('home-light-with-apps')
await p.goto(`${BASE}/sessions/doesnotexist`)
await p.waitForSelector('.error-state')
await shot('session-not-found')
await b.close()
