import { initials, roleHue, roleTitle } from '../lib/format'

export function Avatar({ role, name, size = 28 }: { role: string; name?: string; size?: number }) {
  const hue = roleHue(role)
  const label = name ?? roleTitle(role)
  return (
    <span
      className="avatar"
      style={{ width: size, height: size, fontSize: size * 0.4, ['--hue' as string]: String(hue) }}
      aria-hidden="true"
      title={label}
    >
      {role === 'system' ? '✦' : initials(label)}
    </span>
  )
}
