// The online-sales KPIs (API.md "Online-sales KPIs", OnlineSalesKpis in docs/openapi.yaml):
// their Chinese labels, how each is shown, its definition, and a `jq` recipe that recomputes
// it from the JSON lines `stallfront platform pull --out FILE` writes. The recipes share one
// prologue (JQ_PROLOGUE): the newest version of every event_id, paid in the period, bound
// to $L; each recipe is the expression that follows it. The browser test runs every recipe
// with jq over a real pull and compares it with `--verify`'s table.
import { yuan, pct } from '../../format.js'

/* Minutes with 2 decimals, as the server gives them. */
export function minutes(m) {
  return m === null || m === undefined ? '—' : `${Number(m).toFixed(2)} 分钟`
}

function int(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('zh-CN')
}

function grams(g) {
  if (g === null || g === undefined) return '—'
  return `${int(g)} g（${(g / 500).toFixed(1)} 斤）`
}

const SHOW = { fen: yuan, int, ratio: pct, min: minutes, g: grams }

/* Everything the recipes share: read every line, keep the newest version of each event_id,
 * keep the lines paid from $from to $to (their paid_at is written in +08:00, so its first 10
 * characters are the +08:00 day), and bind them to $L. ms turns an RFC 3339 time into epoch
 * milliseconds up to the offset, which cancels out in a difference (every time of the feed is
 * +08:00); secs is a duration truncated to whole seconds; rank($n; $d) is the nearest rank of
 * the fraction n/d (the ⌈n·N/d⌉-th smallest); mins
 * rounds seconds to minutes with 2 decimals, r4 a ratio to 4, both half up; delivered is
 * one {paid, ready, delivered} per delivered order. */
export const JQ_PROLOGUE = `jq -n --arg from FROM --arg to TO --argjson stalls STALLS '
def ms: capture("^(?<s>.{19})([.](?<f>[0-9]+))?") | ((.s + "Z") | fromdateiso8601) * 1000 + (((.f // "") + "000")[0:3] | tonumber);
def secs($a; $b): (($b | ms) - ($a | ms)) / 1000 | floor;
def rank($n; $d): sort | if length == 0 then null else .[(($n * length + $d - 1) / $d | floor) - 1] end;
def mins: if . == null then null else (. * 100 / 60 + 0.5 | floor) / 100 end;
def r4($d): if $d == 0 then null else (. * 10000 / $d + 0.5 | floor) / 10000 end;
[inputs] | group_by(.event_id) | map(max_by(.version))
| map(select(.paid_at[0:10] >= $from and .paid_at[0:10] <= $to)) as $L
| def delivered: [$L | group_by(.order_no)[] | select(any(.[]; .delivered_at != null))
    | {paid: .[0].paid_at, delivered: (map(.delivered_at | select(. != null)) | max),
       ready: (map(select(.op != "void") | .ready_at | select(. != null)) | max)}];
RECIPE' FILE.jsonl`

const ORDERS = '($L | map(.order_no) | unique | length)'
const DELIVERED = '($L | map(select(.delivered_at != null) | .order_no) | unique | length)'
const ACTIVE = '($L | map(select(.op != "void") | .stall_no) | unique | length)'
const REJECTED = '([$L | group_by(.order_no)[] | select(any(.[]; .op != "void")) | .[] | select(.op == "void")] | length)'
const qty = (mode) => `$L | map(select(.op != "void" and .pricing.mode == "${mode}") | (.qty_actual // .qty)) | add // 0`

export const KPIS = [
  { key: 'orders_paid', label: '支付订单数', kind: 'int', def: '统计期内支付的线上订单数（不同 order_no 的个数）。', jq: ORDERS },
  { key: 'gmv_fen', label: '线上销售额（GMV）', kind: 'fen', def: '各销售明细 amount_fen 之和（仅商品金额，不含配送费），单位：分。', jq: '$L | map(.amount_fen) | add // 0' },
  { key: 'refunds_fen', label: '退款金额', kind: 'fen', def: '各销售明细 refunded_fen 之和（少称退差、拒单、取消）。', jq: '$L | map(.refunded_fen) | add // 0' },
  { key: 'net_sales_fen', label: '净销售额', kind: 'fen', def: '线上销售额 − 退款金额。', jq: '($L | map(.amount_fen) | add // 0) - ($L | map(.refunded_fen) | add // 0)' },
  { key: 'orders_delivered', label: '已送达订单数', kind: 'int', def: '有送达时间（delivered_at）的订单数。', jq: DELIVERED },
  { key: 'delivered_ratio', label: '送达率', kind: 'ratio', def: '已送达订单数 ÷ 支付订单数（4 位小数，四舍五入）。', jq: `${DELIVERED} | r4(${ORDERS})` },
  { key: 'orders_cancelled', label: '取消订单数', kind: 'int', def: '所有明细均为作废（op = "void"）的订单数。', jq: '[$L | group_by(.order_no)[] | select(all(.[]; .op == "void"))] | length' },
  { key: 'items_qty_g', label: '称重商品销量', kind: 'g', def: '未作废的称重明细的实称重量（无实称时取下单重量）之和，单位：克。', jq: qty('weight') },
  { key: 'items_qty_pieces', label: '计件商品销量（件）', kind: 'int', def: '未作废的计件明细的实发件数（无则取下单件数）之和。', jq: qty('count') },
  { key: 'active_stalls', label: '有线上销售的摊位数', kind: 'int', def: '有未作废销售明细的不同摊位号（stall_no）个数。', jq: ACTIVE },
  { key: 'stalls_total', label: '市场摊位总数', kind: 'int', def: '市场的摊位数：平台接口市场档案（GET /v1/platform/markets/{id}）的 stall_count。', jq: '$stalls' },
  { key: 'active_stall_ratio', label: '摊位线上覆盖率', kind: 'ratio', def: '有线上销售的摊位数 ÷ 市场摊位总数。', jq: `${ACTIVE} | r4($stalls)` },
  { key: 'consumers', label: '下单消费者数', kind: 'int', def: '不同消费者假名（consumer_ref）的个数。', jq: '$L | map(.consumer_ref) | unique | length' },
  { key: 'repeat_consumers', label: '复购消费者数', kind: 'int', def: '在统计期内有 2 个及以上不同订单的消费者数。', jq: '[$L | group_by(.consumer_ref)[] | select((map(.order_no) | unique | length) >= 2)] | length' },
  { key: 'lines', label: '销售明细数', kind: 'int', def: '销售明细（含作废）的条数。', jq: '$L | length' },
  { key: 'rejected_lines', label: '拒单明细数', kind: 'int', def: '未整单取消的订单中作废的明细数（商户拒单、缺货）。', jq: REJECTED },
  { key: 'reject_ratio', label: '拒单率', kind: 'ratio', def: '拒单明细数 ÷ 销售明细数。', jq: `${REJECTED} | r4($L | length)` },
  { key: 'median_minutes_paid_to_ready', label: '备货时长中位数', kind: 'min', def: '已送达订单：其未作废明细的最晚备好时间（ready_at）− 支付时间，取中位数（最近秩法，整秒）。', jq: '[delivered[] | select(.ready != null) | secs(.paid; .ready)] | rank(1; 2) | mins' },
  { key: 'median_minutes_ready_to_delivered', label: '配送时长中位数', kind: 'min', def: '已送达订单：送达时间 − 最晚备好时间，取中位数（最近秩法，整秒）。', jq: '[delivered[] | select(.ready != null) | secs(.ready; .delivered)] | rank(1; 2) | mins' },
  { key: 'p90_minutes_paid_to_delivered', label: '支付到送达 P90', kind: 'min', def: '已送达订单：送达时间 − 支付时间，取第 90 百分位（最近秩法，整秒）。', jq: '[delivered[] | secs(.paid; .delivered)] | rank(9; 10) | mins' },
  { key: 'complaint_count', label: '投诉数', kind: 'int', def: '统计期内消费者对本市场的投诉数；不在销售数据中，取服务器（GET …/online-sales）的数值。', jq: null },
]

export function show(kpi, value) {
  return SHOW[kpi.kind](value)
}
