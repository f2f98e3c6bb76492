import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { luhnValid } from '../../src/acquiring/iso8583/index.js'
import { testCardLuhnInvalid, testCardNotOnFile, testCards, testIssuers, testTokenNotOnFile, testTokens, tokenBin } from './test-cards.js'

const allNumbers = [...Object.values(testCards).map((card) => card.pan), ...Object.values(testTokens).map((token) => token.token), testCardNotOnFile, testTokenNotOnFile]

describe('test cards', () => {
  it('are 62-prefixed, 16 digits, Luhn-valid and distinct', () => {
    for (const pan of allNumbers) {
      assert.match(pan, /^62[0-9]{14}$/)
      assert.ok(luhnValid(pan), pan)
    }
    assert.equal(new Set(allNumbers).size, allNumbers.length)
    assert.equal(luhnValid(testCardLuhnInvalid), false)
  })

  it('are routed by BIN to their own issuer, tokens sit in the token BIN', () => {
    for (const card of Object.values(testCards)) {
      const issuer = testIssuers.find((candidate) => (candidate.bins as readonly string[]).includes(card.pan.slice(0, 6)))
      assert.equal(issuer?.id, card.issuer, card.pan)
    }
    for (const token of Object.values(testTokens)) assert.ok(token.token.startsWith(tokenBin))
    assert.ok(testTokenNotOnFile.startsWith(tokenBin))
  })

  it('are the table in docs/scheme.md, row for row', () => {
    const doc = readFileSync('docs/scheme.md', 'utf8')
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| `(62[0-9]+)` \| [^|]+ \| ([0-9]{4}) \| [^|]+ \| [^|]+ \| (\d\d|no answer) \|/gm)]
    const documented = rows.map((match) => [match[1], match[2], match[3], match[4]])
    const expected = Object.entries(testCards).map(([name, card]) => [name, card.pan, card.expiry, card.responseCode ?? 'no answer'])
    assert.deepEqual(documented, expected)
    for (const token of Object.values(testTokens)) {
      assert.ok(doc.includes(`| \`${token.token}\` |`), `token ${token.token} is documented`)
      assert.ok(doc.includes(token.keyHex), `the key of ${token.token} is documented`)
    }
    for (const number of [testCardNotOnFile, testCardLuhnInvalid, testTokenNotOnFile]) assert.ok(doc.includes(number), `${number} is documented`)
  })
})
