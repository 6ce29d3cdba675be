// Line diff (LCS) for the conflict view: which lines of each side the other lacks.
export interface LineDiff {
  left: boolean[] // true: line only in left
  right: boolean[]
}

export function lineDiff(a: string, b: string, limit = 4_000_000): LineDiff | null {
  const A = a.split('\n')
  const B = b.split('\n')
  const n = A.length
  const m = B.length
  if (n * m > limit) return null
  const dp: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = A[i] === B[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1])
  const left = new Array<boolean>(n).fill(true)
  const right = new Array<boolean>(m).fill(true)
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (A[i] === B[j]) {
      left[i] = false
      right[j] = false
      i++
      j++
    } else if (dp[i + 1][j] >= dp[i][j + 1]) i++
    else j++
  }
  return { left, right }
}
