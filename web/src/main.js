import { createApp } from 'vue'
import {
  ElAlert, ElBadge, ElButton, ElCard, ElCollapse, ElCollapseItem, ElDatePicker, ElDialog, ElEmpty, ElForm,
  ElFormItem, ElInput, ElLoading, ElOption, ElRadio, ElRadioButton, ElRadioGroup, ElRate, ElSelect, ElSkeleton,
  ElSwitch, ElTabPane, ElTable, ElTableColumn, ElTabs, ElTag, makeInstaller,
} from './elements.js'
import zhCn from 'element-plus/es/locale/lang/zh-cn'
import 'element-plus/dist/index.css'
import './style.css'
import App from './App.vue'
import { router } from './router.js'

// Only the Element Plus components the pages use (elements.js says why): the whole library
// was most of the first download of a stall owner's phone.
const elements = makeInstaller([
  ElAlert, ElBadge, ElButton, ElCard, ElCollapse, ElCollapseItem, ElDatePicker, ElDialog, ElEmpty, ElForm,
  ElFormItem, ElInput, ElLoading, ElOption, ElRadio, ElRadioButton, ElRadioGroup, ElRate, ElSelect, ElSkeleton,
  ElSwitch, ElTabPane, ElTable, ElTableColumn, ElTabs, ElTag,
])

createApp(App).use(router).use(elements, { locale: zhCn }).mount('#app')
