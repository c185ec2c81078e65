// Money is integer fen and weights integer grams everywhere in the API; these only print them.

/* 123456 → "¥1,234.56" (no floating point: the fen are split, not divided). */
export function yuan(fen) {
  if (fen === null || fen === undefined) return '—'
  const neg = fen < 0
  const a = Math.abs(Math.trunc(fen))
  const y = Math.trunc(a / 100).toLocaleString('zh-CN')
  const f = String(a % 100).padStart(2, '0')
  return `${neg ? '-' : ''}¥${y}.${f}`
}

/* A quantity in a product's unit: grams as 斤 (500 g) and g, pieces with their unit. */
export function qty(q, pricing) {
  if (q === null || q === undefined) return '—'
  if (pricing && pricing.mode === 'count') return `${q}${pricing.unit || '件'}`
  return q >= 500 ? `${q} g（${(q / 500).toFixed(2)} 斤）` : `${q} g`
}

/* The price as a stall shows it: "¥6.00/斤" or "¥3.50/个". */
export function price(pricing) {
  if (!pricing) return '—'
  if (pricing.mode === 'count') return `${yuan(pricing.price_fen)}/${pricing.unit || '件'}`
  if (pricing.per_g === 500) return `${yuan(pricing.price_fen)}/斤`
  if (pricing.per_g === 1000) return `${yuan(pricing.price_fen)}/公斤`
  return `${yuan(pricing.price_fen)}/${pricing.per_g} g`
}

/* A weighed line's amount as the server computes it: price_fen * qty / per_g, half up. */
export function lineAmount(pricing, q) {
  if (pricing.mode === 'count') return pricing.price_fen * q
  return Math.floor((pricing.price_fen * q * 2 + pricing.per_g) / (pricing.per_g * 2))
}

export function time(s) {
  if (!s) return '—'
  const d = new Date(s)
  return d.toLocaleString('zh-CN', { hour12: false, timeZone: 'Asia/Shanghai' })
}

export function pct(r) {
  return r === null || r === undefined ? '—' : `${(Number(r) * 100).toFixed(2)}%`
}

/* Today in +08:00 as YYYY-MM-DD, and the day n days before. */
export function day(offsetDays = 0) {
  const t = new Date(Date.now() + 8 * 3600 * 1000 - offsetDays * 86400 * 1000)
  return t.toISOString().slice(0, 10)
}
