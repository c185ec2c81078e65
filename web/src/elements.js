// Element Plus, component by component. Importing from the package's root ('element-plus')
// bundles all of it: its default export is an installer that registers every component, and
// the bundler must keep that call. Pages import the services (ElMessage, ElMessageBox,
// ElNotification) from here; main.js registers the components a template may use, and a page
// that needs another one adds it below and there. A child component (ElRadioButton, ElTabPane,
// ElTableColumn, ElFormItem, ElOption, ElCollapseItem) is registered by its parent's install
// (ElRadio, ElTabs, ElTable, ElForm, ElSelect, ElCollapse): the parent must be in the list.
export { makeInstaller } from 'element-plus/es/make-installer.mjs'
export { ElAlert } from 'element-plus/es/components/alert/index.mjs'
export { ElBadge } from 'element-plus/es/components/badge/index.mjs'
export { ElButton } from 'element-plus/es/components/button/index.mjs'
export { ElCard } from 'element-plus/es/components/card/index.mjs'
export { ElCollapse } from 'element-plus/es/components/collapse/index.mjs'
export { ElCollapseItem } from 'element-plus/es/components/collapse/index.mjs'
export { ElDatePicker } from 'element-plus/es/components/date-picker/index.mjs'
export { ElDialog } from 'element-plus/es/components/dialog/index.mjs'
export { ElEmpty } from 'element-plus/es/components/empty/index.mjs'
export { ElForm } from 'element-plus/es/components/form/index.mjs'
export { ElFormItem } from 'element-plus/es/components/form/index.mjs'
export { ElInput } from 'element-plus/es/components/input/index.mjs'
export { ElLoading } from 'element-plus/es/components/loading/index.mjs'
export { ElMessage } from 'element-plus/es/components/message/index.mjs'
export { ElMessageBox } from 'element-plus/es/components/message-box/index.mjs'
export { ElNotification } from 'element-plus/es/components/notification/index.mjs'
export { ElOption } from 'element-plus/es/components/select/index.mjs'
export { ElRadio } from 'element-plus/es/components/radio/index.mjs'
export { ElRadioButton } from 'element-plus/es/components/radio/index.mjs'
export { ElRadioGroup } from 'element-plus/es/components/radio/index.mjs'
export { ElRate } from 'element-plus/es/components/rate/index.mjs'
export { ElSelect } from 'element-plus/es/components/select/index.mjs'
export { ElSkeleton } from 'element-plus/es/components/skeleton/index.mjs'
export { ElSwitch } from 'element-plus/es/components/switch/index.mjs'
export { ElTabPane } from 'element-plus/es/components/tabs/index.mjs'
export { ElTable } from 'element-plus/es/components/table/index.mjs'
export { ElTableColumn } from 'element-plus/es/components/table/index.mjs'
export { ElTabs } from 'element-plus/es/components/tabs/index.mjs'
export { ElTag } from 'element-plus/es/components/tag/index.mjs'
