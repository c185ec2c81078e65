// The new-order beep: a Web Audio oscillator, so no audio file is needed. Browsers let a
// page make sound only after a user gesture, so the AudioContext is made (or resumed) on the
// first click or key press, and by the "开启提醒音" switch. Each beep counts itself in
// document.body.dataset.sounds, which the browser tests read.
let ctx = null
export let enabled = true

export function unlock() {
  try {
    const AC = window.AudioContext || window.webkitAudioContext
    if (!AC) return false
    if (!ctx) ctx = new AC()
    if (ctx.state === 'suspended') ctx.resume().catch(() => {})
    return true
  } catch {
    return false
  }
}

export function setEnabled(on) {
  enabled = on
  if (on) unlock()
}

export function armOnGesture() {
  const once = () => {
    unlock()
    window.removeEventListener('pointerdown', once, true)
    window.removeEventListener('keydown', once, true)
  }
  window.addEventListener('pointerdown', once, true)
  window.addEventListener('keydown', once, true)
}

/* Two short tones. Counted even when the browser keeps the page silent. */
export function beep() {
  document.body.dataset.sounds = String(Number(document.body.dataset.sounds || 0) + 1)
  if (!enabled || !ctx) return
  try {
    const t = ctx.currentTime
    for (const [at, f] of [[0, 880], [0.18, 1175]]) {
      const osc = ctx.createOscillator()
      const gain = ctx.createGain()
      osc.type = 'sine'
      osc.frequency.value = f
      gain.gain.setValueAtTime(0.0001, t + at)
      gain.gain.exponentialRampToValueAtTime(0.3, t + at + 0.02)
      gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.15)
      osc.connect(gain).connect(ctx.destination)
      osc.start(t + at)
      osc.stop(t + at + 0.16)
    }
  } catch {
    /* no sound this time; the badge still tells */
  }
}
