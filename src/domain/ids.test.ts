import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { idPrefixes, idSchemaPattern, isId, newId, type IdKind, type PaymentId } from './ids.js'

const kinds = Object.keys(idPrefixes) as IdKind[]
const dayMs = 86_400_000
/** Ids remember the latest time they saw, so each test below reads a later clock than the one before. */
const future = (days: number): number => Date.now() + days * dayMs
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz'

/** The creation time an id carries in its first ten characters after the prefix. */
function timeOf(id: string): number {
  const encoded = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11)
  let ms = 0
  for (const character of encoded) ms = ms * 32 + alphabet.indexOf(character)
  return ms
}

describe('ids', () => {
  for (const kind of kinds) {
    it(`${kind} ids start with ${idPrefixes[kind]}_ and are recognised as ${kind} ids only`, () => {
      const id = newId(kind)
      assert.match(id, new RegExp(`^${idPrefixes[kind]}_[${alphabet}]{26}$`))
      assert.ok(isId(kind, id))
      assert.match(id, new RegExp(idSchemaPattern(kind)))
      for (const other of kinds) {
        if (idPrefixes[other] !== idPrefixes[kind]) assert.equal(isId(other, id), false, `${id} taken as a ${other} id`)
      }
    })
  }

  it('has one prefix per kind', () => {
    assert.equal(new Set(Object.values(idPrefixes)).size, kinds.length)
  })

  it('carries its creation time in its first ten characters', () => {
    const before = Date.now()
    const id = newId('payment')
    const after = Date.now()
    const ms = timeOf(id)
    assert.ok(before <= ms && ms <= after, `${ms} is not within ${before}..${after}`)
  })

  it('sorts by creation time', () => {
    const start = future(1)
    const ids = [0, 1, 2, 1_000, dayMs].map((offset) => newId('payment', start + offset))
    assert.deepEqual([...ids].sort(), ids)
    assert.equal(new Set(ids).size, ids.length)
  })

  it('sorts by creation even for many ids made in the same millisecond', () => {
    const sameMs = future(3)
    const ids = Array.from({ length: 10_000 }, () => newId('transfer', sameMs))
    for (let i = 1; i < ids.length; i++) {
      assert.ok((ids[i - 1] as string) < (ids[i] as string), `${ids[i - 1]} !< ${ids[i]}`)
    }
    assert.ok(ids.every((id) => timeOf(id) === sameMs))
  })

  it('keeps sorting when the clock steps back', () => {
    const late = future(5)
    const first = newId('event', late)
    const second = newId('event', late - 60_000)
    assert.ok(first < second)
  })

  it('stays in creation order over any sequence of clock readings', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 2, maxLength: 200 }), (steps) => {
        let ms = future(7)
        const ids = steps.map((step) => newId('refund', (ms += step)))
        for (let i = 1; i < ids.length; i++) assert.ok((ids[i - 1] as string) < (ids[i] as string))
      }),
    )
  })

  it('refuses strings that are not well-formed ids of the kind', () => {
    const good = newId('payment')
    const body = good.slice('pay_'.length)
    const bad = [
      '',
      'pay_',
      body,
      `pay${body}`,
      `pay-${body}`,
      `PAY_${body}`,
      `pay_${body.toUpperCase()}`,
      `pay_${body.slice(1)}`,
      `pay_${body}0`,
      `pay_${body.slice(1)}i`, // i, l, o, u are not Crockford base32 digits
      `pay_${body.slice(1)}l`,
      `pay_${body.slice(1)}o`,
      `pay_${body.slice(1)}u`,
      ` ${good}`,
      `${good}\n`,
      `rfd_${body}`,
    ]
    for (const value of bad) assert.equal(isId('payment', value), false, JSON.stringify(value))
    assert.ok(isId('payment', good))
  })

  it('brands ids by kind', () => {
    const payment: PaymentId = newId('payment')
    // @ts-expect-error a refund id is not a payment id
    const wrong: PaymentId = newId('refund')
    assert.ok(isId('payment', payment))
    assert.equal(isId('payment', wrong), false)
  })
})
