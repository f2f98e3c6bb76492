/** Shared by the simulator suites: a merchant endpoint that records notifications, and form helpers. */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Received = { readonly path: string; readonly headers: IncomingHttpHeaders; readonly body: string; readonly at_ms: number }

export type Receiver = {
  readonly url: string
  readonly received: Received[]
  /** Changes what the next requests are answered. */
  answerWith(answer: (received: Received, index: number) => { status: number; body: string }): void
  /** Resolves once `count` requests have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>
  close(): Promise<void>
}

/** A stand-in for Kassa's notification endpoint; answers `success` unless told otherwise. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  let answer = (_received: Received, _index: number): { status: number; body: string } => ({ status: 200, body: 'success' })
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const entry: Received = { path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at_ms: Date.now() }
      received.push(entry)
      const { status, body } = answer(entry, received.length - 1)
      response.writeHead(status, { 'content-type': 'text/plain' }).end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answerWith: (next) => {
      answer = next
    },
    waitFor: async (count, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} requests, got ${received.length}`)
        await sleep(10)
      }
      return received.slice(0, count)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export async function postForm(url: string, params: Readonly<Record<string, string>>): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString(), redirect: 'manual' })
}

export async function postJson(url: string, body: unknown, headers: Readonly<Record<string, string>> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), redirect: 'manual' })
}

/** The value of a hidden input in a page (the session of a confirm form). */
export function hiddenInput(html: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html)
  if (match?.[1] === undefined) throw new Error(`no hidden input ${name} in the page`)
  return match[1]
}

/** The action of the page's form with this id. */
export function formAction(html: string, id: string): string {
  const match = new RegExp(`<form method="post" action="([^"]*)" id="${id}">`).exec(html)
  if (match?.[1] === undefined) throw new Error(`no form ${id} in the page`)
  return match[1].replace(/&amp;/g, '&')
}

/** Waits until `check` returns something other than undefined. */
export async function eventually<T>(check: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('the condition did not come true in time')
    await sleep(10)
  }
}
