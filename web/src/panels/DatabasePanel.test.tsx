import { describe, expect, it } from 'vitest'
import { docId, parseObject } from './DatabasePanel'

describe('DatabasePanel helpers', () => {
  it('takes the id of ObjectId and plain documents', () => {
    expect(docId({ _id: { $oid: '65f0a1b2c3d4e5f6a7b8c9d0' } })).toBe('65f0a1b2c3d4e5f6a7b8c9d0')
    expect(docId({ _id: 'k1' })).toBe('k1')
    expect(docId({ _id: 7 })).toBe('7')
  })
  it('parses objects and explains bad input', () => {
    expect(parseObject('', 'Filter')).toEqual({})
    expect(parseObject('{"n": {"$gt": 1}}', 'Filter')).toEqual({ n: { $gt: 1 } })
    expect(() => parseObject('{"n":', 'Filter')).toThrow(/Filter is not valid JSON/)
    expect(() => parseObject('[1]', 'Filter')).toThrow(/must be a JSON object/)
  })
})
