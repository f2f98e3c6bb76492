import { existsSync, readdirSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'

/**
 * The browser pages: for pay-on-delivery the courier's handheld (`/courier`) and the shop app's
 * stand-in (`/shop`), and the shop's hosted checkout (`/pay/{payment_id}`, files under
 * `/checkout`); plain HTML + CSS + JavaScript from the project's `web/` folder, no build step.
 *
 * Only the files that exist under `web/<page>/` when the app is built get a route, one route per
 * file: a request path is never joined onto the file system, so `..` or an encoded slash can only
 * reach the not-found handler, and the page routes cannot shadow the JSON API under the same
 * prefix (`/courier/v1/…`). Files are read on every request (no cache, `Cache-Control: no-store`),
 * so an edited page shows on reload; a new file needs a restart.
 *
 * ### Example
 * ```ts
 * const app = Fastify()
 * await registerPages(app)   // GET /courier, /courier/courier.js, /shop, /pay/pay_…, /checkout/checkout.js, /assets/jsQR.js …
 * ```
 */
export async function registerPages(app: FastifyInstance): Promise<void> {
  const webRoot = findWebRoot()
  const sites: readonly { urlPrefix: string; folder: string }[] = [
    { urlPrefix: '/courier', folder: 'courier' },
    { urlPrefix: '/shop', folder: 'shopper' },
    { urlPrefix: '/assets', folder: 'shared' },
    { urlPrefix: '/checkout', folder: 'checkout' },
  ]
  for (const site of sites) {
    const folder = join(webRoot, site.folder)
    const files = listFiles(folder)
    for (const file of files) {
      const urlPath = `${site.urlPrefix}/${relative(folder, file).split(sep).join('/')}`
      app.get(urlPath, { schema: { hide: true } }, async (_request, reply) => sendFile(reply, file))
    }
    const index = join(folder, 'index.html')
    if (files.includes(index)) {
      app.get(site.urlPrefix, { schema: { hide: true } }, async (_request, reply) => sendFile(reply, index))
    }
  }

  // The hosted checkout: the signed link `/pay/{payment_id}?t=…` opens the page itself (its JSON API
  // is under `/pay/{id}/api/…`, its files under `/checkout/…`). The id is the page's to read: any
  // value answers the same file, and the API judges the id and the token.
  const checkoutIndex = join(webRoot, 'checkout', 'index.html')
  if (existsSync(checkoutIndex)) {
    app.get('/pay/:id', { schema: { hide: true } }, async (_request, reply) => sendFile(reply, checkoutIndex))
  }

  // The QR decoder both pages use for the camera and for uploaded pictures: the installed jsqr package, served from here (the machines that run Kassa have no internet).
  const jsQrFile = createRequire(import.meta.url).resolve('jsqr')
  app.get('/assets/jsQR.js', { schema: { hide: true } }, async (_request, reply) => sendFile(reply, jsQrFile))
}

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
}

/**
 * Everything the pages load comes from this origin; QR pictures arrive as data: URLs and the
 * camera as a media stream. No inline script or style, no framing (the QR must not be overlaid).
 */
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob: mediastream:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const filesPerFolderMax = 200
const folderDepthMax = 4

async function sendFile(reply: FastifyReply, file: string): Promise<FastifyReply> {
  const body = await readFile(file)
  const type = contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream'
  return reply
    .code(200)
    .header('content-type', type)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('permissions-policy', 'camera=(self), microphone=(), geolocation=()')
    .header('content-security-policy', contentSecurityPolicy)
    .send(body)
}

/** The files under `folder` that have a known content type; dotfiles and unknown kinds are not served. */
function listFiles(folder: string, depth = 0): string[] {
  if (!existsSync(folder) || depth > folderDepthMax) return []
  const found: string[] = []
  for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue
    const path = join(folder, entry.name)
    if (entry.isDirectory()) found.push(...listFiles(path, depth + 1))
    else if (entry.isFile() && contentTypes[extname(entry.name).toLowerCase()] !== undefined) found.push(path)
    if (found.length > filesPerFolderMax) throw new Error(`More than ${filesPerFolderMax} files under ${folder}: is web/ the right folder?`)
  }
  return found
}

/**
 * `web/` sits at the project root: three levels up from the compiled `dist/src/http/pages.js`,
 * two from the source `src/http/pages.ts` (when run through a TypeScript loader).
 */
function findWebRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, '..', '..', '..', 'web'), join(here, '..', '..', 'web')]
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate
  }
  throw new Error(`The web/ folder of the pages is missing; looked in ${candidates.join(' and ')}.`)
}
