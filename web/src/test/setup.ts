import '@testing-library/jest-dom/vitest'
import { configure } from '@testing-library/react'

// The CI machines are small and shared: give async UI a few seconds, not one.
configure({ asyncUtilTimeout: 5000 })
