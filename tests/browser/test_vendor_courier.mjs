// A stall's day and a courier's, in the browser: a vendor waits on the orders tab (a phone),
// a consumer pays an order of one weighed and one counted line from that vendor's stall
// (through the API), and the order appears without a reload, with the beep; the vendor
// accepts, weighs the weighed line lighter (the page shows the refund before confirming, and
// the API refunds exactly that), marks it ready; products, sales and the desktop layout are
// shot. A courier goes on shift, pins its position at the market, receives the offer live,
// accepts, picks up, is told a wrong code is wrong, and delivers with the consumer's code.
//
// Dispatch waits for the order to be ready (dispatch.trigger=ready) and retries every 2 s
// while no courier is in range, so the offer follows the courier's first position quickly.
import assert from 'node:assert/strict'
import { call, launchBrowser, ok, openPage, paidOrder, shot, signIn, startWorld, steps } from './world.mjs'

const world = await startWorld('vendor_courier', {
  STALLFRONT_DISPATCH_TRIGGER: 'ready',
  STALLFRONT_DISPATCH_RETRY_MAX_S: '2',
  STALLFRONT_DISPATCH_OFFER_TTL_S: '120',
})
const browser = await launchBrowser()
const vendorTab = await openPage(browser, world)
const courierTab = await openPage(browser, world)
const opened = [vendorTab, courierTab]
const v = vendorTab.page
const c = courierTab.page

// The server's rounding (format.js lineAmount), to know what the refund must be.
const lineAmount = (p, q) => (p.mode === 'count' ? p.price_fen * q : Math.floor((p.price_fen * q * 2 + p.per_g) / (p.per_g * 2)))
const yuan = (fen) => `¥${Math.trunc(fen / 100).toLocaleString('zh-CN')}.${String(fen % 100).padStart(2, '0')}`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function until(what, fn, seconds = 20) {
  const end = Date.now() + seconds * 1000
  for (;;) {
    const r = await fn()
    if (r) return r
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

let vendor, vendorToken, weighed, counted, order, consumerToken, vo, wLine, cLine, expectedRefund, deliveryId

try {
  await steps(world, () => ({ vendor: v, courier: c }), [
    ['a vendor with a weighed and a counted product on sale', async () => {
      for (const cand of world.creds.vendors) {
        const { token } = await ok(world, 'POST', '/v1/auth/login', null, { username: cand.username, password: cand.password })
        const { items } = await ok(world, 'GET', '/v1/vendor/products?limit=100', token)
        const onSale = items.filter((p) => p.status === 'on_sale')
        const w = onSale.find((p) => p.pricing.mode === 'weight' && p.stock >= 1000)
        const n = onSale.find((p) => p.pricing.mode === 'count' && p.stock >= 2 && p.stall_id === (w && w.stall_id))
        if (w && n) {
          ;[vendor, vendorToken, weighed, counted] = [cand, token, w, n]
          break
        }
      }
      assert.ok(vendor, 'no demo vendor sells both a weighed and a counted product')
    }],
    ['the vendor signs in on a phone and waits on the orders tab, connected', async () => {
      await signIn(world, v, vendor.username, vendor.password)
      await v.waitForURL(/\/app\/vendor/)
      await v.waitForSelector('[data-test=vendor-orders]')
      await v.click('[data-test=tab-orders]') // a user gesture: the page may make sound now
      await v.waitForSelector('[data-test=conn][data-state=open]')
      assert.equal(await v.evaluate(() => document.body.dataset.sounds || '0'), '0')
    }],
    ['a consumer pays an order of 1000 g and 2 pieces from that stall', async () => {
      ;({ order, token: consumerToken } = await paidOrder(world, 'vc-consumer', [
        { product_id: weighed.id, qty: 1000 },
        { product_id: counted.id, qty: 2 },
      ]))
      assert.equal(order.status, 'paid')
      assert.equal(order.vendor_orders.length, 1)
      vo = order.vendor_orders[0]
      wLine = vo.lines.find((l) => l.product_id === weighed.id)
      cLine = vo.lines.find((l) => l.product_id === counted.id)
    }],
    ['the order appears on the vendor page without a reload, with the beep and the badge', async () => {
      const navigations = []
      v.on('framenavigated', (f) => f === v.mainFrame() && navigations.push(f.url()))
      // the notice names the order: the event carries its order_no (the notice lasts 8 s)
      await v.waitForSelector('[data-test=new-order-notice]')
      assert.match(await v.textContent('[data-test=new-order-notice]'), new RegExp(`订单 ${order.order_no} 已支付`))
      await v.waitForSelector(`[data-test=vorder-${vo.id}][data-status=new]`)
      await until('the beep', async () => Number(await v.evaluate(() => document.body.dataset.sounds || '0')) >= 1, 5)
      assert.match(await v.textContent('[data-test=new-badge]'), /1/)
      assert.match(await v.textContent(`[data-test=vorder-${vo.id}]`), new RegExp(order.order_no))
      assert.deepEqual(navigations, [])
      await shot(world, v, 'vendor-orders')
    }],
    ['the vendor accepts', async () => {
      await v.click(`[data-test=vorder-${vo.id}] [data-test=accept]`)
      await v.waitForSelector(`[data-test=vorder-${vo.id}][data-status=accepted]`)
    }],
    ['weighing 800 g of 1000 g shows the refund before confirming', async () => {
      await v.click(`[data-test=vorder-${vo.id}] [data-test=weigh]`)
      await v.waitForSelector(`[data-test=actual-${wLine.id}]`)
      // a counted line may not go up: refused on the page
      await v.fill(`[data-test=actual-${cLine.id}]`, '3')
      assert.equal(await v.isDisabled('[data-test=pick-confirm]'), true)
      await v.fill(`[data-test=actual-${cLine.id}]`, '2')
      await v.fill(`[data-test=actual-${wLine.id}]`, '800')
      expectedRefund = wLine.amount_fen - lineAmount(wLine.pricing, 800)
      assert.ok(expectedRefund > 0)
      await until('the refund on the page', async () => (await v.textContent('[data-test=pick-refund]')).trim() === yuan(expectedRefund), 5)
      assert.equal((await v.textContent(`[data-test=line-refund-${cLine.id}]`)).trim(), yuan(0))
      assert.equal((await v.textContent(`[data-test=line-amount-${wLine.id}]`)).trim(), yuan(lineAmount(wLine.pricing, 800)))
      await shot(world, v, 'vendor-weighing')
      await v.click('[data-test=pick-confirm]')
      await v.waitForSelector(`[data-test=vorder-${vo.id}][data-status=picked]`)
      assert.equal((await v.textContent(`[data-test=vorder-${vo.id}] [data-test=vorder-refund]`)).trim(), yuan(expectedRefund))
    }],
    ['the vendor marks it ready', async () => {
      await v.click(`[data-test=vorder-${vo.id}] [data-test=ready]`)
      await v.waitForSelector(`[data-test=vorder-${vo.id}][data-status=ready]`)
    }],
    ['the API refunds what the page showed, and the order is ready', async () => {
      const o = await until('the weight refund', async () => {
        const r = await ok(world, 'GET', `/v1/orders/${order.id}`, consumerToken)
        return r.refunds.some((x) => x.reason === 'weight_difference') && r.status === 'ready' ? r : null
      })
      const refunds = o.refunds.filter((x) => x.reason === 'weight_difference')
      assert.equal(refunds.length, 1)
      assert.equal(refunds[0].amount_fen, expectedRefund)
      const line = o.vendor_orders[0].lines.find((l) => l.id === wLine.id)
      assert.equal(line.qty_actual, 800)
      assert.equal(line.amount_actual_fen, lineAmount(wLine.pricing, 800))
      assert.equal(o.vendor_orders[0].status, 'ready')
    }],
    ['another order is rejected, and only with a reason', async () => {
      const { order: second, token } = await paidOrder(world, 'vc-consumer-2', [{ product_id: counted.id, qty: 1 }])
      const id = second.vendor_orders[0].id
      await v.waitForSelector(`[data-test=vorder-${id}][data-status=new]`)
      await until('the second beep', async () => Number(await v.evaluate(() => document.body.dataset.sounds)) >= 2, 5)
      await v.click(`[data-test=vorder-${id}] [data-test=reject]`)
      await v.click('[data-test=reject-confirm]')
      assert.match(await v.textContent('[data-test=reject-dialog]'), /请填写拒单原因/)
      assert.equal((await ok(world, 'GET', `/v1/orders/${second.id}`, token)).vendor_orders[0].status, 'new')
      await v.fill('[data-test=reject-reason]', '今日缺货')
      await v.click('[data-test=reject-confirm]')
      await v.waitForSelector(`[data-test=vorder-${id}]`, { state: 'detached' })
      const o = await ok(world, 'GET', `/v1/orders/${second.id}`, token)
      assert.equal(o.vendor_orders[0].status, 'rejected')
      assert.equal(o.status, 'cancelled')
    }],
    ['products: the price typed in yuan is stored in fen', async () => {
      await v.click('[data-test=tab-products]')
      await v.waitForSelector(`[data-test=product-${weighed.id}]`)
      await v.click(`[data-test=product-edit-${weighed.id}]`)
      await v.fill('[data-test=product-price-input]', 'abc')
      await v.click('[data-test=product-save]')
      await v.waitForSelector('[data-test=product-error]')
      await v.fill('[data-test=product-price-input]', '12.3')
      await v.click('[data-test=product-save]')
      await v.waitForSelector('[data-test=product-dialog]', { state: 'hidden' })
      const { items } = await ok(world, 'GET', '/v1/vendor/products?limit=100', vendorToken)
      assert.equal(items.find((p) => p.id === weighed.id).pricing.price_fen, 1230)
      await shot(world, v, 'vendor-products')
    }],
    ['sales: today and the week, with the chart', async () => {
      await v.click('[data-test=tab-sales]')
      await v.waitForSelector('[data-test=sales-chart] canvas')
      await until('today\'s figures', async () => Number(await v.textContent('[data-test=sales-today-orders]')) >= 1, 10)
      const stats = await ok(world, 'GET', '/v1/vendor/stats', vendorToken)
      // the page takes today from the week's last day: it must say what the day's own figures say
      assert.equal((await v.textContent('[data-test=sales-today-sales]')).trim(), yuan(stats.sales_fen))
      assert.equal(Number(await v.textContent('[data-test=sales-today-orders]')), stats.orders)
      assert.equal((await v.textContent('[data-test=sales-today-net]')).trim(), yuan(stats.net_sales_fen))
      await shot(world, v, 'vendor-sales')
      await v.click('[data-test=tab-feedback]')
      await v.waitForSelector('[data-test=vendor-feedback]')
      await sleep(500)
      await shot(world, v, 'vendor-feedback')
    }],
    ['the vendor page on a desk', async () => {
      const desk = await openPage(browser, world, { viewport: { width: 1366, height: 800 } })
      opened.push(desk)
      await signIn(world, desk.page, vendor.username, vendor.password)
      await desk.page.waitForSelector(`[data-test=vorder-${vo.id}]`)
      await shot(world, desk.page, 'vendor-desktop')
    }],
    ['a courier goes on shift and pins the position at the market', async () => {
      const courier = world.creds.couriers[0]
      await signIn(world, c, courier.username, courier.password)
      await c.waitForURL(/\/app\/courier/)
      await c.waitForSelector('[data-test=conn][data-state=open]')
      assert.match(await c.textContent('[data-test=shift-state]'), /未上班/)
      await c.click('[data-test=shift-toggle]')
      await until('on shift', async () => /上班中/.test(await c.textContent('[data-test=shift-state]')))
      const market = await ok(world, 'GET', `/v1/markets/${world.creds.market_id}`)
      await until('the pin prefilled', async () => (await c.inputValue('[data-test=pin-lat]')) === String(market.lat))
      assert.equal(await c.inputValue('[data-test=pin-lng]'), String(market.lng))
      await c.click('[data-test=pin-use]')
      await c.waitForSelector('[data-test=position-sent]')
    }],
    ['the offer arrives live, with a countdown', async () => {
      const o = await until('the delivery', async () => {
        const r = await ok(world, 'GET', `/v1/orders/${order.id}`, consumerToken)
        return r.delivery ? r : null
      })
      deliveryId = o.delivery.id
      await c.waitForSelector(`[data-test=offer-${deliveryId}]`, { timeout: 30000 })
      const a = await c.textContent(`[data-test=offer-countdown-${deliveryId}]`)
      await sleep(1100)
      const b = await c.textContent(`[data-test=offer-countdown-${deliveryId}]`)
      assert.ok(parseInt(b) < parseInt(a), `the countdown does not move: ${a} then ${b}`)
      await shot(world, c, 'courier-offer')
    }],
    ['the courier accepts and picks up', async () => {
      await c.click(`[data-test=offer-accept-${deliveryId}]`)
      await c.waitForSelector(`[data-test=delivery-${deliveryId}][data-status=assigned]`)
      assert.equal(await c.isDisabled(`[data-test=delivery-${deliveryId}] [data-test=pickup]`), false)
      await c.click(`[data-test=delivery-${deliveryId}] [data-test=pickup]`)
      await c.waitForSelector(`[data-test=delivery-${deliveryId}][data-status=picked_up]`)
    }],
    ['a wrong code is refused on the page, the right one delivers', async () => {
      const o = await ok(world, 'GET', `/v1/orders/${order.id}`, consumerToken)
      const code = o.delivery.code
      const wrong = String((Number(code) + 1) % 10000).padStart(4, '0')
      await c.fill(`[data-test=delivery-${deliveryId}] [data-test=deliver-code]`, wrong)
      await c.click(`[data-test=delivery-${deliveryId}] [data-test=deliver]`)
      await c.waitForSelector('[data-test=delivery-error]')
      // delivery.code_attempts is 5 by default: the courier is told the 4 tries left
      assert.match(await c.textContent('[data-test=delivery-error]'), /收货码不正确，还可再试 4 次/)
      await c.waitForSelector('[data-test=code-failures]')
      await shot(world, c, 'courier-delivery')
      await c.fill(`[data-test=delivery-${deliveryId}] [data-test=deliver-code]`, code)
      await c.click(`[data-test=delivery-${deliveryId}] [data-test=deliver]`)
      await c.waitForSelector(`[data-test=delivery-${deliveryId}]`, { state: 'detached' })
      const done = await ok(world, 'GET', `/v1/orders/${order.id}`, consumerToken)
      assert.equal(done.status, 'delivered')
      assert.equal(done.delivery.status, 'delivered')
      await shot(world, c, 'courier-done')
    }],
    ['the vendor\'s list let go of the handed-over order, live', async () => {
      await v.click('[data-test=tab-orders]')
      await v.waitForSelector(`[data-test=vorder-${vo.id}]`, { state: 'detached' })
      assert.equal((await call(world, 'GET', '/v1/vendor/orders?status=handed_over', vendorToken)).body.items.some((x) => x.id === vo.id), true)
    }],
    ['everything came from our own server, without a script error', async () => {
      for (const t of opened) {
        assert.deepEqual(t.foreign, [])
        assert.deepEqual(t.errors, [])
      }
    }],
  ])
} finally {
  await browser.close()
  world.stop()
}
