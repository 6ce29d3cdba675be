import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { AuthClient } from './lib/auth'
import { applyTheme, initialTheme } from './lib/theme'
import './styles.css'

applyTheme(initialTheme())
const auth = new AuthClient()

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App auth={auth} />
  </StrictMode>,
)
