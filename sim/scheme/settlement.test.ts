import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AssertionError } from '../../src/domain/assert.js'
import { parseSettlementFile, renderSettlementFile, settlementFileName, type Posting } from './settlement.js'

const posting = (overrides: Partial<Posting>): Posting => ({
  date: '2026-01-01', stan: '000002', rrn: '600100000001', pan_masked: '622001******0018', amount_minor: 10_000n,
  currency: '156', response_code: '00', type: 'capture', direction: 'debit', ...overrides,
})

describe('settlement file', () => {
  const postings = [
    posting({}),
    posting({ stan: '000004', rrn: '600100000003', amount_minor: 2_500n, type: 'refund', direction: 'credit' }),
    posting({ date: '2026-01-02', stan: '000009' }),
    posting({ stan: '000005', amount_minor: 700n, currency: '840', type: 'sale' }),
  ]

  it('lists the day\'s postings in order with totals per currency', () => {
    assert.equal(
      renderSettlementFile('2026-01-01', postings),
      [
        'H|settlement|2026-01-01|kassa_scheme_simulator|1',
        'D|2026-01-01|000002|600100000001|622001******0018|10000|156|00|capture|debit',
        'D|2026-01-01|000004|600100000003|622001******0018|2500|156|00|refund|credit',
        'D|2026-01-01|000005|600100000001|622001******0018|700|840|00|sale|debit',
        'T|156|1|10000|1|2500|7500',
        'T|840|1|700|0|0|700',
        'E|3',
        '',
      ].join('\n'),
    )
  })

  it('writes an empty day as header and end', () => {
    assert.equal(renderSettlementFile('2026-03-04', postings), 'H|settlement|2026-03-04|kassa_scheme_simulator|1\nE|0\n')
  })

  it('reads back what it writes', () => {
    const parsed = parseSettlementFile(renderSettlementFile('2026-01-01', postings))
    assert.ok(parsed.ok)
    assert.deepEqual(parsed.value.postings, [postings[0], postings[1], postings[3]])
    assert.deepEqual(parsed.value.totals.map((total) => [total.currency, total.net_minor]), [['156', 7_500n], ['840', 700n]])
  })

  it('names the line of a malformed file', () => {
    assert.deepEqual(parseSettlementFile('nonsense'), { ok: false, error: 'line 1: not a settlement header' })
    assert.deepEqual(parseSettlementFile('H|settlement|2026-01-01|x|1\nE|2\n'), { ok: false, error: 'line 2: the end record counts 2 details, the file has 0' })
    assert.deepEqual(parseSettlementFile('H|settlement|2026-01-01|x|1\nX\n'), { ok: false, error: 'line 2: unknown record' })
    assert.deepEqual(parseSettlementFile('H|settlement|2026-01-01|x|1\n'), { ok: false, error: 'the file has no end record' })
  })

  it('refuses to write a clear PAN', () => {
    assert.throws(() => renderSettlementFile('2026-01-01', [posting({ pan_masked: '6220010000000018' })]), AssertionError)
  })

  it('names the file by its day', () => {
    assert.equal(settlementFileName('2026-01-01'), 'scheme-settlement-2026-01-01.txt')
    assert.throws(() => settlementFileName('20260101'), AssertionError)
  })
})
