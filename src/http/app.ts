import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import secureJson from 'secure-json-parse'
import type { Clock } from '../domain/clock.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { toJson } from '../domain/json.js'
import type { LiveDeliveries } from '../delivery/live.js'
import type { DeliveryService } from '../delivery/service.js'
import type { DeliveryWorker } from '../events/delivery-worker.js'
import type { Authenticator, Principal } from '../merchants/service.js'
import type { PaymentService } from '../payments/service.js'
import type { CounterpartPayments } from '../payments/counterpart.js'
import type { MasterKey } from '../security/secrets.js'
import { checkIdempotencyKey, requestHash, type IdempotentRequest, type StoredResponse } from '../store/idempotency.js'
import type { Store } from '../store/store.js'
import { installErrorHandling } from './errors.js'
import { registerPages } from './pages.js'
import { checkoutRoutes } from './routes/checkout/index.js'
import { consoleRoutes } from './routes/console/index.js'
import { hookRoutes } from './routes/hooks.js'
import { courierRoutes } from './routes/courier/index.js'
import { shopperRoutes } from './routes/shopper/index.js'
import { v1Routes } from './routes/v1/index.js'

export type AppDeps = {
  readonly store: Store
  readonly clock: Clock
  readonly masterKey: MasterKey
  readonly authenticator: Authenticator
  readonly payments: PaymentService
  readonly logger: Logger
  readonly deliveryWorker?: DeliveryWorker | undefined
  readonly delivery: DeliveryService
  readonly live: LiveDeliveries
  readonly counterparts: CounterpartPayments
  /** Fastify's trustProxy (KASSA_TRUST_PROXY): whose X-Forwarded-For names the client. */
  readonly trustProxy?: number | string | undefined
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined
  }
}

const bodyLimitBytes = 64 * 1024

/** Two validators: bodies are taken as sent (no coercion, no stripping); query strings are text, so coerced. */
function validators() {
  const common = { allErrors: false, strict: false, useDefaults: true } as const
  const body = new Ajv({ ...common, coerceTypes: false, removeAdditional: false })
  const query = new Ajv({ ...common, coerceTypes: true, removeAdditional: false })
  // ajv-formats is CommonJS: its default export arrives wrapped under ESM.
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => void
  addFormats(body)
  addFormats(query)
  return { body, query }
}

/**
 * Builds the whole HTTP surface without listening (Fastify's testing guide): tests call
 * `app.inject()`, `server.ts` calls `listen`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // A hop count trusts that many proxies nearest to Kassa; addresses trust those proxies only.
  const hops = deps.trustProxy
  const trustProxy = typeof hops === 'number' ? (_address: string, hop: number) => hop < hops : hops
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: bodyLimitBytes,
    // One line per request, written by our onResponse hook, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => newId('request'),
    return503OnClosing: true,
    // The client's address (request.ip) through these proxies only; by default the socket's.
    ...(trustProxy === undefined ? {} : { trustProxy }),
  })
  const ajv = validators()
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv.body : ajv.query).compile(schema))
  app.decorateRequest('principal', undefined)

  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: bodyLimitBytes }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') return done(null, undefined)
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }))
    } catch (error) {
      done(new KassaError('body_invalid_json', { param: 'body', message: `The request body is not valid JSON: ${(error as Error).message}` }), undefined)
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('request-id', request.id)
  })
  // A POST without a body means "no parameters" (capture everything, cancel with no reason).
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && request.body === undefined) request.body = {}
  })
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.routeOptions.url ?? request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
  })
  installErrorHandling(app)

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Kassa API',
        version: '1',
        description:
          'Payments, refunds and webhooks for merchants (`/v1`, secret key `sk_…`) and the operator console (`/console/v1`, operator key `ok_…`). Amounts are integers in minor units.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }))

  await app.register(async (scope) => {
    scope.addHook('onRequest', authenticate(deps, 'merchant'))
    await v1Routes(scope, deps)
  }, { prefix: '/v1' })
  await app.register(async (scope) => {
    scope.addHook('onRequest', authenticate(deps, 'operator'))
    await consoleRoutes(scope, deps)
  }, { prefix: '/console/v1' })
  await app.register(async (scope) => courierRoutes(scope, deps), { prefix: '/courier/v1' })
  await app.register(async (scope) => shopperRoutes(scope, deps), { prefix: '/shopper/v1' })
  await app.register(async (scope) => hookRoutes(scope, deps), { prefix: '/hooks' })
  await app.register(async (scope) => checkoutRoutes(scope, deps), { prefix: '/pay' })
  await registerPages(app)
  return app
}

function authenticate(deps: AppDeps, kind: Principal['kind']) {
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined || !header.startsWith('Bearer ')) throw new KassaError('authentication_required')
    const principal = await deps.authenticator.authenticate(header.slice('Bearer '.length).trim())
    if (principal === undefined) throw new KassaError('api_key_invalid')
    if (principal.kind !== kind) {
      throw new KassaError('permission_denied', {
        message: kind === 'merchant' ? 'The merchant API takes a secret key (sk_…).' : 'The console API takes an operator key (ok_…).',
      })
    }
    if (principal.kind === 'merchant' && principal.status !== 'active') {
      throw new KassaError('permission_denied', { message: 'This merchant is suspended.' })
    }
    request.principal = principal
  }
}

export function merchantOf(request: FastifyRequest): Extract<Principal, { kind: 'merchant' }> {
  const principal = request.principal
  if (principal?.kind !== 'merchant') throw new KassaError('authentication_required')
  return principal
}

export function operatorOf(request: FastifyRequest): Extract<Principal, { kind: 'operator' }> {
  const principal = request.principal
  if (principal?.kind !== 'operator') throw new KassaError('authentication_required')
  return principal
}

/** The idempotency facts of a POST: whose key, which key, and what request it stands for. */
export function idempotentRequest(request: FastifyRequest): IdempotentRequest {
  const header = request.headers['idempotency-key']
  const key = Array.isArray(header) ? header[0] : header
  checkIdempotencyKey(key)
  return {
    principal_id: request.principal?.id ?? 'anonymous',
    key,
    request_hash: requestHash(request.method, request.url.split('?')[0] ?? '', request.body),
  }
}

export function sendStored(reply: FastifyReply, stored: StoredResponse): FastifyReply {
  if (stored.replayed) void reply.header('idempotent-replayed', 'true')
  return reply.code(stored.status).header('content-type', 'application/json; charset=utf-8').send(stored.body)
}

export function sendJson(reply: FastifyReply, body: unknown, status = 200): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(toJson(body))
}
