// How the door's pages are served (no browser needed): content types, no caching, the security
// headers, every file the pages load, nothing outside web/, and nothing from the network.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { openTestKassa, type TestKassa } from '../helpers/dialects.js'

const webRoot = fileURLToPath(new URL('../../../web/', import.meta.url))

function webFiles(folder = webRoot): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? webFiles(join(folder, entry.name)) : [join(folder, entry.name)],
  )
}

describe('pages: the courier and shopper pages as served', () => {
  let kassa: TestKassa

  before(async () => {
    kassa = await openTestKassa('sqlite')
    await kassa.app.ready()
  })
  after(async () => {
    await kassa.dispose()
  })

  async function get(url: string) {
    return kassa.app.inject({ method: 'GET', url })
  }

  it('serves both pages and their files with their content types, never cached, with a strict content policy', async () => {
    const expected: [string, RegExp][] = [
      ['/courier', /^text\/html; charset=utf-8$/],
      ['/courier/courier.js', /^text\/javascript; charset=utf-8$/],
      ['/courier/courier.css', /^text\/css; charset=utf-8$/],
      ['/shop', /^text\/html; charset=utf-8$/],
      ['/shop/shopper.js', /^text\/javascript; charset=utf-8$/],
      ['/assets/kassa.js', /^text\/javascript; charset=utf-8$/],
      ['/assets/kassa.css', /^text\/css; charset=utf-8$/],
      ['/assets/jsQR.js', /^text\/javascript; charset=utf-8$/],
    ]
    for (const [url, type] of expected) {
      const response = await get(url)
      assert.equal(response.statusCode, 200, url)
      assert.match(String(response.headers['content-type']), type, url)
      assert.equal(response.headers['cache-control'], 'no-store', url)
      assert.equal(response.headers['x-content-type-options'], 'nosniff', url)
      assert.match(String(response.headers['content-security-policy']), /default-src 'self'/, url)
      assert.match(String(response.headers['content-security-policy']), /frame-ancestors 'none'/, url)
    }
    assert.match((await get('/assets/jsQR.js')).body, /jsQR/)
    assert.match((await get('/courier')).body, /<title>Kassa · Courier<\/title>/)
    assert.match((await get('/shop')).body, /<title>Kassa · Shop app<\/title>/)
  })

  it('serves every file the pages refer to', async () => {
    const referenced = new Set<string>()
    for (const page of ['/courier', '/shop']) {
      const html = (await get(page)).body
      for (const match of html.matchAll(/(?:src|href)="(\/[^"]*)"/g)) referenced.add(match[1]!)
    }
    for (const script of ['/courier/courier.js', '/shop/shopper.js', '/assets/kassa.js']) {
      const source = (await get(script)).body
      for (const match of source.matchAll(/from '(\/[^']+)'/g)) referenced.add(match[1]!)
      for (const match of source.matchAll(/script\.src = '(\/[^']+)'/g)) referenced.add(match[1]!)
    }
    assert.ok(referenced.has('/assets/jsQR.js'), 'the QR reader is loaded from Kassa')
    for (const url of referenced) assert.equal((await get(url)).statusCode, 200, url)
  })

  it('reaches nothing outside web/, however the path is spelled', async () => {
    for (const url of [
      '/courier/../package.json',
      '/courier/%2e%2e/package.json',
      '/courier/..%2fpackage.json',
      '/courier/%2e%2e%2f%2e%2e%2fpackage.json',
      '/assets/..%2f..%2fpackage.json',
      '/shop/..%5c..%5cpackage.json',
      '/assets/%2e%2e/%2e%2e/src/config.ts',
      '/courier/.hidden',
      '/courier/index.html%00.js',
    ]) {
      const response = await get(url)
      assert.notEqual(response.statusCode, 200, url)
      assert.doesNotMatch(response.body, /"name": "kassa"|loadConfig/, url)
    }
  })

  it('loads nothing from another origin: the machines have no internet', () => {
    for (const file of webFiles()) {
      const text = readFileSync(file, 'utf8')
      const remote = text.match(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i)
      assert.equal(remote, null, `${file} refers to ${remote?.[0]}`)
    }
  })
})
