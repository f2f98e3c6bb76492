import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { errorCatalogue } from '../src/domain/errors.js'

/** Checks on the code itself that would otherwise live in review (TigerBeetle's tidy.zig). */
function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(directory, file))
}

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((match) => match[1] ?? '')
}

describe('tidy', () => {
  it('documents every error code in docs/errors.md, and nothing else', () => {
    const documented = new Set([...readFileSync('docs/errors.md', 'utf8').matchAll(/^\| `([a-z_0-9]+)` \|/gm)].map((match) => match[1]))
    const codes = Object.keys(errorCatalogue)
    assert.deepEqual(codes.filter((code) => !documented.has(code)), [], 'codes missing from docs/errors.md')
    assert.deepEqual([...documented].filter((code) => code !== undefined && !codes.includes(code)), [], 'documented codes that no longer exist')
  })

  it('keeps the domain pure: src/domain imports only src/domain and node:crypto', () => {
    for (const file of sourceFiles('src/domain').filter((f) => !f.endsWith('.test.ts'))) {
      for (const path of importsOf(file)) assert.ok(path.startsWith('./') || path === 'node:crypto', `${file} imports ${path}`)
    }
  })

  it('keeps the functional cores free of I/O: no store, http, fs or net in them', () => {
    const cores = ['src/ledger/transfer.ts', 'src/ledger/accounts.ts', 'src/payments/state.ts', 'src/payments/decide.ts', 'src/channels/channel.ts', ...sourceFiles('src/qr'), ...sourceFiles('src/acquiring/iso8583')]
    for (const file of cores.filter((f) => !f.endsWith('.test.ts'))) {
      for (const path of importsOf(file)) {
        assert.doesNotMatch(path, /\/store\/|\/http\/|^node:(fs|net|http|child_process)|^pg$|^better-sqlite3$|^fastify/, `${file} imports ${path}`)
      }
    }
  })

  it('keeps the simulators out of production code: only the demo and the CLI start them', () => {
    const production = sourceFiles('src').filter((file) => !file.endsWith('.test.ts') && !file.startsWith('src/demo/') && !file.startsWith('src/cli/'))
    for (const file of production) {
      for (const path of importsOf(file)) assert.doesNotMatch(path, /(^|\/)sim\//, `${file} imports ${path}`)
    }
  })

  it('has no floats in money paths', () => {
    const moneyPaths = ['src/domain/money.ts', 'src/domain/currency.ts', 'src/domain/json.ts', ...sourceFiles('src/ledger'), ...sourceFiles('src/payments'), ...sourceFiles('src/channels'), ...sourceFiles('src/shoppers')]
    for (const file of moneyPaths.filter((f) => !f.endsWith('.test.ts'))) {
      const text = readFileSync(file, 'utf8')
      assert.doesNotMatch(text, /parseFloat|toFixed\(|Math\.round\(|Math\.floor\(|Math\.ceil\(/, `${file} uses float arithmetic`)
    }
  })

  it('leaves no unfinished marks and no focused test behind', () => {
    const files = [...sourceFiles('src'), ...sourceFiles('test'), ...sourceFiles('bench'), ...safeList('sim')]
    for (const file of files.filter((f) => !f.endsWith('tidy.test.ts'))) {
      const text = readFileSync(file, 'utf8')
      assert.doesNotMatch(text, new RegExp(['FIX', 'ME'].join('')), `${file} has an unfinished mark`)
      assert.doesNotMatch(text, /\b(it|test|describe)\.only\(/, `${file} has a focused test`)
    }
  })
})

function safeList(directory: string): string[] {
  try {
    return sourceFiles(directory)
  } catch {
    return []
  }
}
