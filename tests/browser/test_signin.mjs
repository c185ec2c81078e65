// Sign-in in the browser: each role lands on its own page, a wrong password is told, a role
// cannot open another's page, sign-out ends the session on the server too, and the pages
// come from our own server only (no request leaves for another origin).
import assert from 'node:assert/strict'
import { call, launchBrowser, openPage, shot, signIn as signInAs, startWorld, steps } from './world.mjs'

const world = await startWorld('signin')
const browser = await launchBrowser()
const { page, foreign, errors } = await openPage(browser, world)
const signIn = (user, pass) => signInAs(world, page, user, pass)

try {
  await steps(world, () => ({ page }), [
    ['a wrong password is refused on the page', async () => {
      await signIn(world.creds.operator.username, 'not-the-password')
      await page.waitForSelector('[data-test=login-error]')
      assert.match(await page.textContent('[data-test=login-error]'), /用户名或密码错误/)
      assert.match(page.url(), /\/app\/login/)
      await shot(world, page, 'login-refused')
    }],
    ['the operator lands on the centre', async () => {
      await signIn(world.creds.operator.username, world.creds.operator.password)
      await page.waitForURL(/\/app\/centre/)
      await page.waitForSelector('[data-test=view-centre]')
    }],
    ['the operator cannot open the vendor page', async () => {
      await page.goto(`${world.base}/app/vendor`)
      await page.waitForURL(/\/app\/centre/)
    }],
    ['sign-out revokes the token on the server', async () => {
      const token = await page.evaluate(() => JSON.parse(localStorage.getItem('stallfront.session')).token)
      assert.equal((await call(world, 'GET', '/v1/admin/complaints', token)).status, 200)
      await page.click('[data-test=logout]')
      await page.waitForURL(/\/app\/login/)
      assert.equal((await call(world, 'GET', '/v1/admin/complaints', token)).status, 401)
      assert.equal(await page.evaluate(() => localStorage.getItem('stallfront.session')), null)
    }],
    ['a vendor lands on the vendor page, a courier on the courier page', async () => {
      const v = world.creds.vendors[0]
      await signIn(v.username, v.password)
      await page.waitForURL(/\/app\/vendor/)
      await page.click('[data-test=logout]')
      const c = world.creds.couriers[0]
      await signIn(c.username, c.password)
      await page.waitForURL(/\/app\/courier/)
    }],
    ['everything came from our own server, without a script error', async () => {
      assert.deepEqual(foreign, [])
      assert.deepEqual(errors, [])
    }],
  ])
} finally {
  await browser.close()
  world.stop()
}
