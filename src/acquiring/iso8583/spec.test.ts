import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AssertionError } from '../../domain/assert.js'
import { defineMessageSpec, fieldNotation, iso8583Spec1987, lllvar, llvar, type FieldSpec } from './spec.js'

function notationOf(fieldNumber: number): string {
  const field: FieldSpec | undefined = iso8583Spec1987.fields[fieldNumber]
  assert.ok(field !== undefined, `field ${fieldNumber} is defined`)
  return fieldNotation(field)
}

describe('the ISO 8583:1987 specification', () => {
  it('defines every data element 2–128', () => {
    for (let fieldNumber = 2; fieldNumber <= 128; fieldNumber++) {
      assert.ok(iso8583Spec1987.fields[fieldNumber] !== undefined, `field ${fieldNumber}`)
    }
    assert.equal(iso8583Spec1987.fields[1], undefined)
    assert.equal(iso8583Spec1987.fields[129], undefined)
  })

  it('has the formats of the fields Kassa uses, in the standard notation (b in bytes)', () => {
    const expected: Record<number, string> = {
      2: 'n..19',
      3: 'n 6',
      4: 'n 12',
      7: 'n 10',
      11: 'n 6',
      12: 'n 6',
      13: 'n 4',
      14: 'n 4',
      18: 'n 4',
      22: 'n 3',
      23: 'n 3',
      25: 'n 2',
      28: 'x+n 8',
      32: 'n..11',
      35: 'z..37',
      37: 'an 12',
      38: 'an 6',
      39: 'an 2',
      41: 'ans 8',
      42: 'ans 15',
      43: 'ans 40',
      49: 'n 3',
      52: 'b 8',
      54: 'an...120',
      55: 'b...255',
      60: 'ans...999',
      61: 'ans...999',
      62: 'ans...999',
      63: 'ans...999',
      64: 'b 8',
      70: 'n 3',
      90: 'n 42',
      95: 'an 42',
      128: 'b 8',
    }
    for (const [fieldNumber, notation] of Object.entries(expected)) {
      assert.equal(notationOf(Number(fieldNumber)), notation, `field ${fieldNumber}`)
    }
  })

  it('uses LL prefixes only up to 99 and LLL up to 999', () => {
    for (const field of Object.values(iso8583Spec1987.fields)) {
      if (field === undefined) continue
      if (field.lengthKind === 'llvar') assert.ok(field.length <= 99)
      if (field.lengthKind === 'lllvar') assert.ok(field.length <= 999)
    }
  })

  it('is frozen, so a variant cannot change it by accident', () => {
    assert.ok(Object.isFrozen(iso8583Spec1987))
    assert.ok(Object.isFrozen(iso8583Spec1987.fields))
  })
})

describe('defineMessageSpec', () => {
  it('refuses malformed tables as programmer errors', () => {
    assert.throws(() => defineMessageSpec({ name: 'x', fields: { 1: llvar('n', 19, 'bitmap') } }), AssertionError)
    assert.throws(() => defineMessageSpec({ name: 'x', fields: { 129: llvar('n', 19, 'beyond') } }), AssertionError)
    assert.throws(() => defineMessageSpec({ name: 'x', fields: { 2: llvar('n', 100, 'too long for LL') } }), AssertionError)
    assert.throws(() => defineMessageSpec({ name: 'x', fields: { 2: lllvar('n', 1000, 'too long for LLL') } }), AssertionError)
    assert.throws(() => defineMessageSpec({ name: 'x', fields: { 2: lllvar('n', 0, 'empty') } }), AssertionError)
  })

  it('keeps a variant separate from the spec it spreads', () => {
    const variant = defineMessageSpec({ name: 'variant', fields: { ...iso8583Spec1987.fields, 60: lllvar('n', 17, 'numeric 60') } })
    assert.equal(variant.fields[60]?.type, 'n')
    assert.equal(iso8583Spec1987.fields[60]?.type, 'ans')
  })
})
