// The world of a browser test: a real stallfront (`serve` and `work` of the build under test)
// on a database and a Redis of its own, migrated and seeded with the demo market (its
// stalls, vendors, couriers, products and days of history), serving the built web app
// (web/dist) under /app/; and Debian's chromium driven by playwright-core.
//
// ctest starts each tests/browser/test_*.mjs with (CMakeLists.txt):
//   SF_BINARY     the stallfront binary of the build under test
//   SF_WEB_ROOT   the built web app (web/dist; `npm run build` in web/, scripts/dev does it)
//   SF_ARTEFACTS  where screenshots and the servers' logs are kept (under build/)
// and the suite's STALLFRONT_DB_* / STALLFRONT_REDIS_* (scripts/dev test). Like the C suites
// that run `work` (t_isolate), a world gets a scratch database sf_iso_browser_<name>_<pid> and a
// private redis-server, so no other test's worker consumes its queues.
//
// Nothing here skips: a browser that cannot start, a web app that was not built or a server
// that does not come up fails the test with the reason.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

export const CHROMIUM = process.env.SF_CHROMIUM || '/usr/bin/chromium'

function need(name) {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set (ctest sets it; see tests/browser/world.mjs)`)
  return v
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}

function adminSql(sql) {
  execFileSync(
    'mariadb',
    ['-h', process.env.STALLFRONT_DB_HOST || '127.0.0.1', '-P', process.env.STALLFRONT_DB_PORT || '3306',
      '-u', process.env.STALLFRONT_DB_USER || 'stallfront', '-e', sql],
    { env: { ...process.env, MYSQL_PWD: process.env.STALLFRONT_DB_PASSWORD || '' }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
}

function rsaPair(dir, name) {
  const priv = join(dir, `${name}_private.pem`)
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', priv], { stdio: 'ignore' })
  execFileSync('openssl', ['pkey', '-in', priv, '-pubout', '-out', join(dir, `${name}_public.pem`)], { stdio: 'ignore' })
}

/* The sandbox payment provider's files, as scripts/dev's make_sandbox_keys writes them. */
function sandboxKeys(dir) {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (const n of ['wechat_platform', 'wechat_merchant', 'alipay', 'alipay_app']) rsaPair(dir, n)
  writeFileSync(join(dir, 'wechat_apiv3.key'), execFileSync('openssl', ['rand', '-hex', '16']).toString().trim(), { mode: 0o600 })
  writeFileSync(join(dir, 'wechat_platform_serial'),
    execFileSync('openssl', ['rand', '-hex', '20']).toString().trim().toUpperCase(), { mode: 0o600 })
}

async function waitReady(base, procs, seconds) {
  const until = Date.now() + seconds * 1000
  for (;;) {
    for (const p of procs)
      if (p.exitCode !== null) throw new Error(`${p.spawnargs.slice(1).join(' ')} exited with ${p.exitCode} before it was ready`)
    try {
      const r = await fetch(`${base}/readyz`)
      if (r.status === 200) return
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) throw new Error(`${base}/readyz did not answer 200 within ${seconds} s`)
    await sleep(200)
  }
}

/*
 * Starts the world; `extraEnv` overrides settings (e.g. shorter offer timeouts). Returns
 * { base, creds, env, bin, dir, artefacts, run(args), stop() }.
 */
export async function startWorld(name, extraEnv = {}) {
  const bin = need('SF_BINARY')
  const webRoot = need('SF_WEB_ROOT')
  const artefacts = join(need('SF_ARTEFACTS'), name)
  if (!existsSync(join(webRoot, 'index.html')))
    throw new Error(`${webRoot}/index.html is missing: the web app was not built (npm ci && npm run build in web/; scripts/dev test does it)`)
  rmSync(artefacts, { recursive: true, force: true })
  mkdirSync(artefacts, { recursive: true })
  const dir = join(process.env.STALLFRONT_TEST_VAR || '/tmp', `browser-${name}-${process.pid}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true, mode: 0o700 })

  const db = `sf_iso_browser_${name.replace(/[^a-z0-9]/gi, '_')}_${process.pid}`
  adminSql(`DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db} CHARACTER SET utf8mb4`)
  const procs = []
  const redisPort = await freePort()
  const redisArgs = ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--logfile', join(dir, 'redis.log')]
  if (process.env.STALLFRONT_REDIS_PASSWORD) redisArgs.push('--requirepass', process.env.STALLFRONT_REDIS_PASSWORD)
  procs.push(spawn('redis-server', redisArgs, { stdio: 'ignore' }))
  sandboxKeys(join(dir, 'sandbox'))

  const httpPort = await freePort()
  const base = `http://127.0.0.1:${httpPort}`
  const env = {
    ...process.env,
    STALLFRONT_DB_NAME: db,
    STALLFRONT_REDIS_HOST: '127.0.0.1',
    STALLFRONT_REDIS_PORT: String(redisPort),
    STALLFRONT_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    STALLFRONT_TLS_LISTEN: '',
    STALLFRONT_HTTP_WEB_ROOT: webRoot,
    STALLFRONT_AUTH_WECHAT_MODE: 'sandbox',
    STALLFRONT_PAYMENTS_MODE: 'sandbox',
    STALLFRONT_PAYMENTS_SANDBOX_DIR: join(dir, 'sandbox'),
    STALLFRONT_LOG_ACCESS: join(artefacts, 'access.log'),
    ...extraEnv,
  }
  const run = (args, opts = {}) => execFileSync(bin, args, { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString()
  const stop = () => {
    for (const p of procs.reverse()) if (p.exitCode === null) p.kill('SIGTERM')
    try {
      adminSql(`DROP DATABASE IF EXISTS ${db}`)
    } catch {
      /* the suite's stack is going away too */
    }
  }
  process.on('exit', stop)
  try {
    await sleep(100)
    run(['migrate'])
    const credsFile = join(dir, 'demo-credentials.json')
    run(['seed', '--credentials', credsFile], { timeout: 240000 })
    const creds = JSON.parse(readFileSync(credsFile, 'utf8'))
    for (const what of ['serve', 'work']) {
      const out = openSync(join(artefacts, `${what}.log`), 'a')
      procs.push(spawn(bin, [what], { env, cwd: dir, stdio: ['ignore', out, out] }))
    }
    await waitReady(base, procs, 60)
    return { base, creds, env, bin, dir, artefacts, run, stop }
  } catch (e) {
    stop()
    throw e
  }
}

/* Debian's chromium through playwright-core; a browser that does not start fails the test. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/dev does)`)
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
}

/* A page in a context of its own (its own localStorage, so one role per page), with a
 * phone's screen unless told otherwise. It records what a test asserts at the end: requests
 * to any other origin than our server (`foreign`; the app must need nothing from elsewhere)
 * and uncaught script errors (`errors`). */
export async function openPage(browser, world, { viewport = { width: 390, height: 844 } } = {}) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
  ctx.setDefaultTimeout(15000)
  const page = await ctx.newPage()
  const foreign = []
  const errors = []
  page.on('request', (r) => {
    if (!r.url().startsWith(world.base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreign.push(r.url())
  })
  page.on('pageerror', (e) => errors.push(String(e)))
  return { page, foreign, errors }
}

/* Signs in through the login page. */
export async function signIn(world, page, user, pass) {
  await page.goto(`${world.base}/app/`)
  await page.waitForURL(/\/app\/login/)
  // Element Plus puts an el-input's attributes on its <input>
  await page.fill('input[data-test=username]', user)
  await page.fill('input[data-test=password]', pass)
  await page.click('[data-test=login]')
}

/* A JSON call to the API as a client would make it (token may be null). */
export async function call(world, method, path, token, body) {
  const headers = { Accept: 'application/json' }
  if (token) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const r = await fetch(world.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.text()
  return { status: r.status, body: text ? JSON.parse(text) : null }
}

export async function ok(world, method, path, token, body) {
  const r = await call(world, method, path, token, body)
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

/* A consumer (sandbox sign-in) who orders `lines` [{product_id, qty}] and pays through the
 * sandbox provider's signed callback (`stallfront sandbox pay`). Returns the paid order. */
export async function paidOrder(world, consumer, lines) {
  const { token } = await ok(world, 'POST', '/v1/auth/wechat', null, { code: `sandbox-${consumer}` })
  const addr = await ok(world, 'POST', '/v1/addresses', token, {
    name: '张女士', phone: '13800000000', text: '郑州市金水区花园路 88 号 3 单元 502', lat: 34.7812, lng: 113.6762,
  })
  for (const l of lines) await ok(world, 'PUT', `/v1/cart/items/${l.product_id}`, token, { qty: l.qty })
  const order = await ok(world, 'POST', '/v1/orders', token, { market_id: world.creds.market_id, address_id: addr.id })
  await ok(world, 'POST', `/v1/orders/${order.id}/payments`, token, { provider: 'wechat' })
  world.run(['sandbox', 'pay', String(order.id)])
  for (let i = 0; i < 100; i++) {
    const o = await ok(world, 'GET', `/v1/orders/${order.id}`, token)
    if (o.status !== 'pending_payment') return { order: o, token }
    await sleep(100)
  }
  throw new Error(`order ${order.id} is still unpaid after the sandbox's callback`)
}

/* Runs the named steps in order; the first failure ends the test with its message, after a
 * screenshot of every open page. */
export async function steps(world, pages, list) {
  let n = 0
  for (const [name, fn] of list) {
    n++
    const t0 = Date.now()
    try {
      await fn()
      console.log(`ok ${n} - ${name} (${Date.now() - t0} ms)`)
    } catch (e) {
      console.log(`not ok ${n} - ${name}\n  ${String(e && e.stack ? e.stack : e).replace(/\n/g, '\n  ')}`)
      for (const [label, page] of Object.entries(pages()))
        await page.screenshot({ path: join(world.artefacts, `FAILED-${label}.png`), fullPage: true }).catch(() => {})
      throw e
    }
  }
}

/* A screenshot of the whole page as an artefact, after checking that every Element Plus tag
 * on it became a component: one that main.js does not register stays in the DOM as an
 * unknown <el-…> element, drawn as bare text (the production build prints no warning). */
export async function shot(world, page, label) {
  const unresolved = await page.evaluate(() =>
    [...new Set([...document.querySelectorAll('*')].map((e) => e.localName).filter((n) => n.startsWith('el-')))])
  if (unresolved.length > 0) throw new Error(`${label}: components not registered (web/src/main.js): ${unresolved.join(', ')}`)
  await page.screenshot({ path: join(world.artefacts, `${label}.png`), fullPage: true })
}
