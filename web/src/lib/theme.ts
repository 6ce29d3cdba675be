import { useEffect, useState } from 'react'

export type ThemePref = 'light' | 'dark' | 'system'
const KEY = 'mgx.theme' // a display preference, not a secret

const media = () => window.matchMedia?.('(prefers-color-scheme: dark)')

export function resolvedTheme(pref: ThemePref): 'light' | 'dark' {
  if (pref !== 'system') return pref
  return media()?.matches ? 'dark' : 'light'
}

export function applyTheme(pref: ThemePref) {
  document.documentElement.dataset.theme = resolvedTheme(pref)
}

export function initialTheme(): ThemePref {
  const v = localStorage.getItem(KEY)
  return v === 'light' || v === 'dark' ? v : 'system'
}

export function useTheme(): [ThemePref, (p: ThemePref) => void, 'light' | 'dark'] {
  const [pref, setPref] = useState<ThemePref>(initialTheme)
  const [resolved, setResolved] = useState(() => resolvedTheme(pref))
  useEffect(() => {
    applyTheme(pref)
    setResolved(resolvedTheme(pref))
    if (pref === 'system') localStorage.removeItem(KEY)
    else localStorage.setItem(KEY, pref)
    const m = media()
    if (pref !== 'system' || !m) return
    const on = () => {
      applyTheme('system')
      setResolved(resolvedTheme('system'))
    }
    m.addEventListener('change', on)
    return () => m.removeEventListener('change', on)
  }, [pref])
  return [pref, setPref, resolved]
}
