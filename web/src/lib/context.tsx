import { createContext, useContext } from 'react'
import type { Api } from './api'
import type { AuthClient } from './auth'
import type { Me } from './types'

export interface Services {
  auth: AuthClient
  api: Api
  me: Me | null
}

export const ServicesContext = createContext<Services | null>(null)

export function useServices(): Services {
  const s = useContext(ServicesContext)
  if (!s) throw new Error('useServices outside ServicesContext')
  return s
}
