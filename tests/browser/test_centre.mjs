// The market centre in the browser, against the platform feed: the operator makes a platform
// client on the page (its secret shown once), `stallfront platform pull --verify DAY` with it
// recomputes a seeded day's KPIs from the feed, and then
//   - every KPI the centre shows for DAY equals the feed's figure in the verify table;
//   - the charts are drawn (a canvas with pixels that are not background), the alerts,
//     complaints (one resolved with a note), expiring-certificates and clients sections render;
//   - the report page's jq recipes, run with jq over the pulled file, give the same figures;
//   - `stallfront report` prints a PDF whose text holds the same figures (pdftotext), kept with
//     a PNG of its first page (pdftoppm) as artefacts;
// with screenshots on a desktop (1366×900) and a phone (390×844).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pct, yuan } from '../../web/src/format.js'
import { launchBrowser, ok, openPage, shot, startWorld, steps } from './world.mjs'

const world = await startWorld('centre')
const browser = await launchBrowser()
const desk = await openPage(browser, world, { viewport: { width: 1366, height: 900 } })
const phone = await openPage(browser, world)
const page = desk.page
const op = world.creds.operator
const market = world.creds.market_id

/* The text field of an el-input marked data-test=name (Element Plus puts the attribute on the
 * <input> or <textarea> itself). */
const field = (name) => `input[data-test=${name}], textarea[data-test=${name}], [data-test=${name}] input, [data-test=${name}] textarea`

/* Signs in through the login page. */
async function signIn(p, user, pass) {
  await p.goto(`${world.base}/app/`)
  await p.waitForURL(/\/app\/login/)
  await p.fill(field('username'), user)
  await p.fill(field('password'), pass)
  await p.click('[data-test=login]')
}

/* YYYY-MM-DD in +08:00, n days ago. */
const dayAgo = (n) => new Date(Date.now() + 8 * 3600e3 - n * 86400e3).toISOString().slice(0, 10)

/* The table of `platform pull --verify`: field → {pulled, server, ok} (values as JSON). */
function verifyTable(text) {
  const rows = {}
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(ok|DIFF)\b/.exec(line)
    if (m && m[1] !== 'field') rows[m[1]] = { pulled: JSON.parse(m[2]), server: JSON.parse(m[3]), ok: m[4] === 'ok' }
  }
  return rows
}

/* Numbers compared as numbers (a ratio printed 0.9855 by one side and 0.98550000000000004 by
 * none), everything else exactly. */
function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) < 1e-9
  return a === b
}

let day = null
let key = null
let secret = null
let clientId = null
let table = null
const feed = join(world.dir, 'feed.jsonl')
const secretFile = join(world.dir, 'feed.secret')

/* A canvas under [data-test=name] that is drawn: sized, and with pixels unlike its corner. */
async function drawn(p, name) {
  return p.$eval(`[data-test=${name}]`, (el) => {
    const c = el.querySelector('canvas')
    if (!c || c.width === 0 || c.height === 0) return 0
    const g = c.getContext('2d')
    const d = g.getImageData(0, 0, c.width, c.height).data
    let n = 0
    for (let i = 0; i < d.length; i += 4 * 7) if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) n++
    return n
  })
}

const CHARTS = ['chart-days', 'chart-categories', 'chart-stalls', 'chart-delivery', 'chart-map']

try {
  await steps(world, () => ({ desktop: page, phone: phone.page }), [
    ['a seeded day with sales', async () => {
      const { token } = await ok(world, 'POST', '/v1/auth/login', null, { username: op.username, password: op.password })
      for (let n = 1; n <= 7 && !day; n++) {
        const s = await ok(world, 'GET', `/v1/admin/stats?from=${dayAgo(n)}&to=${dayAgo(n)}`, token)
        if (s.kpis.orders_paid > 0 && s.kpis.orders_delivered > 0) day = dayAgo(n)
      }
      assert.ok(day, 'the demo seed has no delivered orders in the last 7 days')
      console.log(`# day ${day}`)
    }],
    ['the operator makes a platform client on the page; its secret is shown once', async () => {
      await signIn(page, op.username, op.password)
      await page.waitForURL(/\/app\/centre/)
      await page.goto(`${world.base}/app/centre?tab=clients`)
      await page.fill(field('client-name'), '金水区智慧监管平台（测试）')
      await page.click('[data-test=client-create]')
      await page.waitForSelector('[data-test=secret-value]', { state: 'visible' })
      key = (await page.textContent('[data-test=secret-app-key]')).trim()
      secret = (await page.textContent('[data-test=secret-value]')).trim()
      assert.match(key, /^pk_[A-Za-z0-9_-]{21}$/)
      assert.match(secret, /^[A-Za-z0-9_-]{43}$/)
      await shot(world, page, 'desktop-secret-once')
      await page.click('[data-test=secret-close]')
      await page.waitForSelector('[data-test=secret-value]', { state: 'hidden' })
      // the list shows the key, and the secret is nowhere on the page any more
      await page.waitForSelector(`[data-test^=client-key-]:has-text("${key}")`)
      assert.ok(!(await page.content()).includes(secret), 'the secret is still in the page')
      const listed = (await ok(world, 'GET', '/v1/admin/platform-clients', JSON.parse(await page.evaluate(() => localStorage.getItem('stallfront.session'))).token)).items
      const c = listed.find((x) => x.app_key === key)
      assert.ok(c && c.status === 'active' && c.scope === 'district' && c.market_ids.includes(market))
      clientId = c.id
    }],
    ['stallfront platform pull --verify DAY with it agrees with the server', async () => {
      writeFileSync(secretFile, secret + '\n', { mode: 0o600 })
      const out = world.run(['platform', 'pull', '--app-key', key, '--secret-file', secretFile, '--market', String(market),
        '--out', feed, '--verify', day])
      writeFileSync(join(world.artefacts, 'verify.txt'), out)
      table = verifyTable(out)
      assert.ok(table.orders_paid && table.orders_paid.pulled > 0, out)
      for (const [f, r] of Object.entries(table)) assert.ok(r.ok, `${f} differs: ${JSON.stringify(r)}`)
    }],
    ['every KPI on the centre page for DAY equals the feed\'s', async () => {
      await page.goto(`${world.base}/app/centre?from=${day}&to=${day}`)
      await page.waitForSelector('[data-test=kpi-orders_paid]')
      const shown = await page.$$eval('[data-test^=kpi-]', (els) => els.map((e) => [e.dataset.test.slice(4), e.dataset.value, e.textContent]))
      assert.ok(shown.length >= 21, `only ${shown.length} KPIs shown`)
      for (const [k, v, text] of shown) {
        assert.ok(table[k], `the verify table has no ${k}`)
        assert.ok(same(JSON.parse(v), table[k].pulled), `${k}: page ${v}, feed ${JSON.stringify(table[k].pulled)}`)
        assert.ok(text.trim().length > 0)
      }
      // what people read: money in yuan, ratios in percent
      assert.ok((await page.textContent('[data-test=kpi-gmv_fen]')).includes(yuan(table.gmv_fen.pulled)))
      assert.ok((await page.textContent('[data-test=kpi-delivered_ratio]')).includes(pct(table.delivered_ratio.pulled)))
    }],
    ['the charts are drawn', async () => {
      for (const c of CHARTS) {
        await page.waitForSelector(`[data-test=${c}] canvas`)
        let n = 0
        for (let i = 0; i < 30 && n < 50; i++) {
          n = await drawn(page, c)
          if (n < 50) await page.waitForTimeout(100)
        }
        assert.ok(n >= 50, `${c} looks empty (${n} pixels drawn)`)
      }
      await shot(world, page, 'desktop-overview')
    }],
    ['alerts, complaints and expiring certificates render; a complaint is resolved with a note', async () => {
      await page.goto(`${world.base}/app/centre?from=${day}&to=${day}&tab=alerts`)
      await page.waitForSelector('[data-test=alerts-table], [data-test=alerts-empty]')
      const token = JSON.parse(await page.evaluate(() => localStorage.getItem('stallfront.session'))).token
      const alerts = (await ok(world, 'GET', `/v1/admin/alerts?date=${dayAgo(0)}`, token)).items
      assert.equal(await page.$$eval('[data-test=alerts-table] tbody tr', (rows) => rows.length), alerts.length)
      await shot(world, page, 'desktop-alerts')
      await page.goto(`${world.base}/app/centre?from=${day}&to=${day}&tab=expiring`)
      await page.waitForSelector('[data-test=expiring]', { state: 'visible' })
      await page.waitForSelector('[data-test=expiring-table], [data-test=expiring-empty]')
      const expiring = (await ok(world, 'GET', '/v1/admin/expiring?within_days=30&limit=100', token)).items
      assert.equal(await page.$$eval('[data-test=expiring-table] tbody tr', (rows) => rows.length), expiring.length)
      assert.equal(await page.$$eval('[data-test=expired]', (els) => els.length), expiring.filter((x) => x.days_left < 0).length)
      await shot(world, page, 'desktop-expiring')
      await page.goto(`${world.base}/app/centre?from=${day}&to=${day}&tab=complaints`)
      await page.waitForSelector('[data-test=complaints]', { state: 'visible' })
      await page.waitForSelector('[data-test=complaints][data-state=ready]')
      await shot(world, page, 'desktop-complaints')
      const first = await page.$('[data-test^=resolve-]:not([data-test=resolve-note]):not([data-test=resolve-submit])')
      if (first) {
        const id = (await first.getAttribute('data-test')).slice('resolve-'.length)
        await first.click()
        await page.fill(field('resolve-note'), '已联系商户退还差价并致歉（浏览器测试）')
        await page.click('[data-test=resolve-submit]')
        await page.waitForSelector(`[data-test=complaint-${id}]`, { state: 'detached' })
        const resolved = (await ok(world, 'GET', '/v1/admin/complaints?status=resolved&limit=100', token)).items
        assert.ok(resolved.some((c) => String(c.id) === id && /浏览器测试/.test(c.resolution)), `complaint ${id} is not resolved`)
      } else console.log('# the seed has no open complaint')
    }],
    ['the client is disabled and enabled on the page', async () => {
      await page.goto(`${world.base}/app/centre?tab=clients`)
      await page.click(`[data-test=client-disable-${clientId}]`)
      await page.waitForSelector(`[data-test=client-status-${clientId}]:has-text("已停用")`)
      let status = 0
      try {
        world.run(['platform', 'pull', '--app-key', key, '--secret-file', secretFile, '--market', String(market), '--out', join(world.dir, 'refused.jsonl')])
      } catch (e) {
        status = e.status
      }
      assert.equal(status, 1, 'a disabled client still pulls')
      await page.click(`[data-test=client-enable-${clientId}]`)
      await page.waitForSelector(`[data-test=client-status-${clientId}]:has-text("启用")`)
      await page.waitForSelector('[data-test=clients][data-state=ready]')
      await shot(world, page, 'desktop-clients')
    }],
    ['on a phone', async () => {
      const p = phone.page
      await signIn(p, op.username, op.password)
      await p.waitForURL(/\/app\/centre/)
      await p.goto(`${world.base}/app/centre?from=${day}&to=${day}`)
      await p.waitForSelector('[data-test=kpi-orders_paid]')
      for (const c of CHARTS) await p.waitForSelector(`[data-test=${c}] canvas`)
      await p.waitForTimeout(300)
      const width = await p.evaluate(() => document.documentElement.scrollWidth)
      assert.ok(width <= 400, `the page is ${width} px wide on a 390 px phone`)
      await shot(world, p, 'phone-overview')
      await p.goto(`${world.base}/app/centre?tab=clients`)
      await p.waitForSelector(`[data-test=client-key-${clientId}]`)
      await p.waitForSelector('[data-test=clients][data-state=ready]')
      await shot(world, p, 'phone-clients')
    }],
    ['the report page\'s jq recipes recompute the feed\'s figures', async () => {
      await page.goto(`${world.base}/app/report?from=${day}&to=${day}`)
      await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 })
      const prologue = await page.textContent('[data-test=jq-prologue]')
      const m = /^jq -n --arg from (\S+) --arg to (\S+) --argjson stalls (\d+) '([\s\S]*)' (\S+)$/.exec(prologue.trim())
      assert.ok(m, `the prologue is not "jq -n --arg from F --arg to T --argjson stalls N '…' FILE": ${prologue}`)
      assert.equal(m[1], day)
      assert.equal(Number(m[3]), table.stalls_total.pulled)
      const rows = await page.$$eval('[data-test^=report-kpi-]', (els) => els.map((e) => [e.dataset.test.slice(11), e.dataset.value, e.dataset.jq]))
      assert.ok(rows.length >= 21)
      let recomputed = 0
      for (const [k, v, recipe] of rows) {
        assert.ok(same(JSON.parse(v), table[k].pulled), `report ${k}: ${v}, feed ${JSON.stringify(table[k].pulled)}`)
        if (!recipe) continue
        const got = execFileSync('jq', ['-n', '--arg', 'from', day, '--arg', 'to', day, '--argjson', 'stalls', m[3],
          m[4].replace('RECIPE', recipe), feed]).toString().trim()
        assert.ok(same(JSON.parse(got), table[k].pulled), `jq recipe of ${k} gives ${got}, the feed's figure is ${JSON.stringify(table[k].pulled)}`)
        recomputed++
      }
      assert.ok(recomputed >= 20, `only ${recomputed} recipes`)
      await shot(world, page, 'desktop-report')
    }],
    ['stallfront report prints a PDF holding the same figures', async () => {
      const pdf = join(world.artefacts, 'report.pdf')
      const out = world.run(['report', '--from', day, '--to', day, '--out', pdf, '--market', String(market)], { timeout: 150000 })
      assert.match(out, /wrote/)
      const text = execFileSync('pdftotext', ['-enc', 'UTF-8', pdf, '-']).toString()
      writeFileSync(join(world.artefacts, 'report.txt'), text)
      assert.match(text, /线上销售平台建设成效报告/)
      assert.ok(text.includes(day), 'the period is not in the PDF')
      const raw = {}
      for (const line of text.split('\n')) {
        const r = /^([a-z_0-9]+) = (\S+)$/.exec(line.trim())
        if (r) raw[r[1]] = JSON.parse(r[2])
      }
      let n = 0
      for (const [k, r] of Object.entries(table)) {
        if (k.startsWith('reconcile.')) continue
        assert.ok(k in raw, `${k} is not in the PDF`)
        assert.ok(same(raw[k], r.pulled), `PDF ${k} = ${raw[k]}, feed ${JSON.stringify(r.pulled)}`)
        n++
      }
      assert.ok(n >= 21)
      execFileSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '1', pdf, join(world.artefacts, 'report-page')])
    }],
    ['everything came from our own server, without a script error', async () => {
      assert.deepEqual(desk.foreign, [])
      assert.deepEqual(phone.foreign, [])
      assert.deepEqual(desk.errors, [])
      assert.deepEqual(phone.errors, [])
    }],
  ])
} finally {
  await browser.close()
  world.stop()
}
