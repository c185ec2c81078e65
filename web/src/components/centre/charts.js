// The centre's and the report's charts: ECharts from 'echarts/core' with only what they draw
// (tree-shaken), and the options built from GET /v1/admin/stats. Money is integer fen in the
// data; it becomes yuan only in labels (format.yuan) and on the axes (fen ÷ 100 for the scale
// only: no sum is made of it).
import * as echarts from 'echarts/core'
import { BarChart, LineChart, PieChart, ScatterChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'
import { yuan } from '../../format.js'

echarts.use([BarChart, LineChart, PieChart, ScatterChart, GridComponent, LegendComponent, TooltipComponent, VisualMapComponent, CanvasRenderer])

export { echarts }

const GREEN = '#2e7d32'
const ORANGE = '#ef6c00'

/* GMV (left axis, yuan) and paid orders (right axis) by day: lines, or bars for a single day
 * (a line of one point is a dot). */
export function dayLine(days) {
  const type = days.length > 1 ? 'line' : 'bar'
  return {
    tooltip: {
      trigger: 'axis',
      formatter: (ps) => ps.map((p) => `${p.marker}${p.seriesName}：${p.seriesIndex === 0 ? yuan(days[p.dataIndex].gmv_fen) : p.value}`).join('<br>'),
    },
    legend: { data: ['销售额（元）', '支付订单数'], top: 0 },
    grid: { left: 56, right: 48, top: 52, bottom: 28 },
    xAxis: { type: 'category', data: days.map((d) => d.date.slice(5)) },
    yAxis: [
      { type: 'value', name: '元', axisLabel: { formatter: (v) => String(v) } },
      { type: 'value', name: '单', minInterval: 1, splitLine: { show: false } },
    ],
    series: [
      { name: '销售额（元）', type, yAxisIndex: 0, symbolSize: 7, data: days.map((d) => d.gmv_fen / 100), itemStyle: { color: GREEN }, areaStyle: { opacity: 0.08 } },
      { name: '支付订单数', type, yAxisIndex: 1, symbolSize: 7, data: days.map((d) => d.orders_paid), itemStyle: { color: ORANGE } },
    ],
  }
}

/* Category shares of goods sales; a slice under 3 % has no label (the tooltip, or the legend
 * on a screen, names it). On paper (`print`) there is no legend: it could not scroll. */
export function categoryPie(categories, print = false) {
  const total = categories.reduce((a, c) => a + c.sales_fen, 0)
  return {
    tooltip: { trigger: 'item', formatter: (p) => `${p.name}<br>${yuan(categories[p.dataIndex].sales_fen)}（${p.percent}%）` },
    legend: print ? { show: false } : { type: 'scroll', bottom: 0 },
    series: [{
      type: 'pie', radius: ['30%', '60%'], center: ['50%', print ? '50%' : '45%'],
      label: { formatter: '{b} {d}%' },
      data: categories.map((c) => {
        const small = total === 0 || c.sales_fen * 100 < total * 3
        return { name: c.name || c.category, value: c.sales_fen, label: { show: !small }, labelLine: { show: !small } }
      }),
    }],
  }
}

/* The stalls with the largest sales, the top `n`, largest at the top. */
export function stallRanking(stalls, n = 15) {
  const top = stalls.filter((s) => s.sales_fen > 0).slice(0, n).reverse()
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, formatter: (ps) => { const s = top[ps[0].dataIndex]; return `${s.stall_no} ${s.vendor ? s.vendor.name : ''}<br>销售额 ${yuan(s.sales_fen)}<br>订单 ${s.orders}` } },
    grid: { left: 8, right: 64, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', axisLabel: { show: false }, splitLine: { show: false } },
    yAxis: { type: 'category', data: top.map((s) => `${s.stall_no} ${s.vendor ? s.vendor.name : ''}`) },
    series: [{ type: 'bar', data: top.map((s) => s.sales_fen / 100), itemStyle: { color: GREEN }, label: { show: true, position: 'right', formatter: (p) => yuan(top[p.dataIndex].sales_fen) } }],
  }
}

/* Delivered orders by minutes from payment to delivery. */
export function deliveryHistogram(buckets) {
  const name = (b) => (b.to_min === null ? `≥${b.from_min}` : `${b.from_min}–${b.to_min}`)
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 40, right: 16, top: 24, bottom: 40 },
    xAxis: { type: 'category', name: '分钟', nameLocation: 'middle', nameGap: 26, axisLabel: { interval: 0, fontSize: 10 }, data: buckets.map(name) },
    yAxis: { type: 'value', name: '订单', minInterval: 1 },
    series: [{ type: 'bar', barCategoryGap: '4%', data: buckets.map((b) => b.orders), itemStyle: { color: ORANGE }, label: { show: true, position: 'top' } }],
  }
}

/* The market's floor: every stall at its map position, coloured by its sales. */
export function stallMap(stalls) {
  const max = Math.max(1, ...stalls.map((s) => s.sales_fen))
  return {
    tooltip: {
      formatter: (p) => { const s = stalls[p.dataIndex]; return `${s.stall_no}（${s.zone || ''}）<br>${s.vendor ? s.vendor.name : '空置'}<br>销售额 ${yuan(s.sales_fen)}<br>订单 ${s.orders}` },
    },
    grid: { left: 24, right: 24, top: 16, bottom: 56 },
    xAxis: { type: 'value', show: false, scale: true },
    yAxis: { type: 'value', show: false, scale: true, inverse: true },
    visualMap: {
      min: 0, max: max / 100, dimension: 2, orient: 'horizontal', left: 'center', bottom: 0, calculable: true,
      text: ['销售额高', '低'], inRange: { color: ['#e8f5e9', '#66bb6a', '#1b5e20'] },
      formatter: (v) => `¥${Math.round(v)}`,
    },
    series: [{
      type: 'scatter', symbol: 'roundRect', symbolSize: [40, 26],
      data: stalls.map((s) => [s.map.x, s.map.y, s.sales_fen / 100]),
      label: { show: true, formatter: (p) => stalls[p.dataIndex].stall_no, fontSize: 10, color: '#263238' },
    }],
  }
}
