import { createRouter, createWebHistory } from 'vue-router'
import { session, homeOf } from './session.js'
import { whenUnauthorized } from './api.js'

// Each role's page is its own chunk, so a courier's phone does not load the centre's charts.
const routes = [
  { path: '/', redirect: () => (session.token ? homeOf(session.user.role) : '/login') },
  { path: '/login', component: () => import('./views/Login.vue'), meta: { title: '登录' } },
  { path: '/vendor', component: () => import('./views/Vendor.vue'), meta: { role: 'vendor', title: '商户工作台' } },
  { path: '/courier', component: () => import('./views/Courier.vue'), meta: { role: 'courier', title: '骑手工作台' } },
  { path: '/centre', component: () => import('./views/Centre.vue'), meta: { role: 'operator', title: '市场管理中心' } },
  { path: '/report', component: () => import('./views/Report.vue'), meta: { role: 'operator', title: '线上销售平台建设成效报告', bare: true } },
  { path: '/:rest(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory('/app/'), routes })

router.beforeEach((to) => {
  const role = to.meta.role
  if (!role) return true
  if (!session.token) return { path: '/login', query: { next: to.fullPath } }
  if (session.user.role !== role) return homeOf(session.user.role)
  return true
})

router.afterEach((to) => {
  document.title = `${to.meta.title || '工作台'} · 市场线上商城`
})

whenUnauthorized(() => router.push({ path: '/login', query: { expired: '1' } }))
