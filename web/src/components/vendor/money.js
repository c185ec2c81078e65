// Parsing what a stall owner types, without floating point: a price in yuan ("12.5",
// "12.50", "¥12") becomes integer fen by splitting the string; a quantity must be a whole
// number. The refund a weighing will cause is computed with format.lineAmount, the
// server's own rounding, so the page shows what the API will refund.
import { lineAmount } from '../../format.js'

/* "12.34" → 1234; null when it is not a price (1 fen to 100000 yuan, at most 2 decimals). */
export function yuanToFen(text) {
  const s = String(text ?? '').trim().replace(/^¥/, '')
  const m = /^(\d{1,6})(?:\.(\d{0,2}))?$/.exec(s)
  if (!m) return null
  const fen = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'))
  return fen >= 1 && fen <= 10000000 ? fen : null
}

/* 1234 → "12.34", for an input's initial text. */
export function fenToText(fen) {
  return `${Math.trunc(fen / 100)}.${String(fen % 100).padStart(2, '0')}`
}

/* A whole number 0..10^9 from an input, or null. */
export function wholeNumber(text) {
  const s = String(text ?? '').trim()
  if (!/^\d{1,10}$/.test(s)) return null
  const n = Number(s)
  return n <= 1000000000 ? n : null
}

/*
 * What a pick will cost and refund, line by line, as the API computes it (POST
 * /v1/vendor/orders/{id}/pick): a lighter weighed line costs what was weighed and refunds
 * the rest; a heavier one costs what was agreed (refund 0); a counted line may only go
 * down. Returns {lines: [{id, actual, amount, refund, error}], refund, amount, ok}.
 */
export function pickPreview(lines, inputs) {
  let refund = 0
  let amount = 0
  let ok = true
  let any = false
  const out = lines.map((l) => {
    const actual = wholeNumber(inputs[l.id])
    let error = null
    if (actual === null) error = l.pricing.mode === 'count' ? '请输入件数（整数）' : '请输入克数（整数）'
    else if (l.pricing.mode === 'count' && actual > l.qty) error = `不能多于订购的 ${l.qty}`
    if (error) {
      ok = false
      return { id: l.id, actual, amount: null, refund: null, error }
    }
    if (actual > 0) any = true
    const a = actual < l.qty ? lineAmount(l.pricing, actual) : l.amount_fen
    const r = l.amount_fen - a
    amount += a
    refund += r
    return { id: l.id, actual, amount: a, refund: r, error: null }
  })
  if (!any && ok) ok = false
  return { lines: out, refund, amount, ok, nothing: !any }
}
