export const VO_STATUS = {
  pending_payment: ['待支付', 'info'],
  new: ['新订单', 'danger'],
  accepted: ['待称重', 'warning'],
  picked: ['待备货', 'warning'],
  ready: ['待取货', 'success'],
  handed_over: ['已交骑手', 'info'],
  rejected: ['已拒单', 'info'],
  cancelled: ['已取消', 'info'],
}
export const DELIVERY_STATUS = {
  waiting: '等待派单',
  offered: '派单中',
  assigned: '骑手已接单',
  picked_up: '配送中',
  delivered: '已送达',
  failed: '配送失败',
}

/* An API error as one line for the stall owner. */
export function errorText(e) {
  if (!e) return ''
  if (e.status === 409) return `状态已变化（可能已被他人处理）：${e.message || e.code}，列表已刷新`
  if (e.status === 422) {
    const f = e.details && e.details.field ? `（${e.details.field}${e.details.reason ? '：' + e.details.reason : ''}）` : ''
    return `输入有误${f}：${e.message || e.code}`
  }
  if (e.status === 0) return e.message
  return `${e.message || e.code || '请求失败'}（HTTP ${e.status}）`
}
