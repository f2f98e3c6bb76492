/**
 * The HTTP shell shared by the simulators: a Fastify instance that hands every body to the route as
 * raw text (each provider parses and refuses in its own error format), the 5xx page a "proxy"
 * answers under the `server_error` fault, and listening on a port.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { assert } from '../../src/domain/assert.js'

/** Request bodies are small key/value sets; anything bigger is refused (413). */
export const bodyBytesMax = 64 * 1024

export type RawBody = {
  readonly text: string
  readonly media: 'json' | 'form' | 'other'
}

/** A Fastify instance with no logger, raw text bodies and connections dropped on close. */
export function buildSimApp(): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: bodyBytesMax, forceCloseConnections: true, connectionTimeout: 60_000, requestTimeout: 120_000 })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: bodyBytesMax }, (request, body, done) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
    const media = type === 'application/json' ? 'json' : type === 'application/x-www-form-urlencoded' ? 'form' : 'other'
    done(null, { text: typeof body === 'string' ? body : body.toString('utf8'), media } satisfies RawBody)
  })
  return app
}

/** The raw body of a request ('' with media `other` when it had none). */
export function rawBodyOf(request: FastifyRequest): RawBody {
  const body = request.body as RawBody | undefined
  return body ?? { text: '', media: 'other' }
}

/** Listens on 127.0.0.1 (or `host`) and answers the base URL. */
export async function listen(app: FastifyInstance, port: number, host: string): Promise<string> {
  assert(Number.isSafeInteger(port) && port >= 0 && port <= 65_535, 'port is 0 to 65535')
  await app.listen({ port, host })
  const address = app.server.address()
  assert(address !== null && typeof address === 'object', 'an HTTP server has an address')
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
}

const statusTexts: Readonly<Record<number, string>> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }

/** What a front proxy answers when the gateway behind it fails: HTML, unsigned, no provider format. */
export function sendProxyError(reply: FastifyReply, httpStatus: number): FastifyReply {
  const text = statusTexts[httpStatus] ?? 'Error'
  return reply
    .code(httpStatus)
    .type('text/html; charset=utf-8')
    .send(`<html><head><title>${httpStatus} ${text}</title></head><body><center><h1>${httpStatus} ${text}</h1></center><hr><center>nginx</center></body></html>\n`)
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[character] ?? character)
}

/** A whole HTML page with inline styles only (the pages work offline, with no third-party assets). */
export function htmlPage(options: { readonly title: string; readonly brand: string; readonly accent: string; readonly body: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #222; }
header { background: ${options.accent}; color: #fff; padding: 12px 20px; font-weight: 600; }
main { max-width: 560px; margin: 24px auto; background: #fff; padding: 20px 24px; border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.1); }
label { display: block; margin: 10px 0 4px; }
input[type=text], input[type=password] { width: 100%; padding: 8px; box-sizing: border-box; font-size: 16px; }
button { margin-top: 14px; padding: 10px 18px; font-size: 16px; background: ${options.accent}; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
button.secondary { background: #888; }
.error { color: #b00020; font-weight: 600; }
.amount { font-size: 28px; font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin-top: 18px; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 4px 6px; text-align: left; }
.note { color: #666; font-size: 13px; }
</style>
</head>
<body>
<header>${escapeHtml(options.brand)}</header>
<main>
${options.body}
</main>
</body>
</html>
`
}
