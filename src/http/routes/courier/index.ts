import type { FastifyInstance, FastifyRequest } from 'fastify'
import { KassaError } from '../../../domain/errors.js'
import { sessionSubject } from '../../../delivery/sessions.js'
import { PerMinuteBudget } from '../../../security/per-minute.js'
import { sendJson, type AppDeps } from '../../app.js'
import { amountSchema, idParams } from '../../schemas.js'

declare module 'fastify' {
  interface FastifyRequest {
    courierId: string | undefined
  }
}

const heartbeatMs = 15_000

/**
 * Failed log-ins allowed per minute for one username from one address, and from one address in
 * all: past them the answer is 429 before any password is checked, so guessing a courier's
 * password is slow, and a flood of guesses cannot keep scrypt (~40 ms of CPU each) running on
 * every core. Per username *and* address, so someone guessing cannot lock the courier out of
 * their own handheld. Behind a load balancer the address is the client's only with
 * KASSA_TRUST_PROXY set.
 */
const failedLoginsPerUsernamePerMinuteMax = 10
const failedLoginsPerSourcePerMinuteMax = 30

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  return header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length).trim() : undefined
}

/** The courier's handheld: log in, today's own parcels only, the parcel's QR, cash, and a live stream of payments. */
export async function courierRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const delivery = deps.delivery
  const failedByUsername = new PerMinuteBudget(failedLoginsPerUsernamePerMinuteMax)
  const failedBySource = new PerMinuteBudget(failedLoginsPerSourcePerMinuteMax)
  app.decorateRequest('courierId', undefined)
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url === '/courier/v1/sessions') return
    // EventSource cannot send headers, so the event stream alone takes the token in the query.
    const query = request.query as { token?: string }
    const token = bearer(request) ?? (request.routeOptions.url === '/courier/v1/events' ? query.token : undefined)
    if (token === undefined) throw new KassaError('authentication_required', { message: 'Log in first: POST /courier/v1/sessions.' })
    const courierId = await sessionSubject(deps.store.db, 'courier', token, deps.clock.now())
    if (courierId === undefined) throw new KassaError('session_invalid')
    const courier = await deps.store.db.selectFrom('couriers').select('status').where('id', '=', courierId).executeTakeFirst()
    if (courier?.status !== 'active') throw new KassaError('session_invalid', { message: 'This courier account is suspended.' })
    request.courierId = courierId
  })
  const courierOf = (request: FastifyRequest): string => {
    if (request.courierId === undefined) throw new KassaError('session_invalid')
    return request.courierId
  }

  app.post<{ Body: { username: string; password: string } }>(
    '/sessions',
    {
      schema: {
        tags: ['courier'],
        summary: 'Courier log-in',
        security: [],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password'],
          properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 200 } },
        },
      },
    },
    async (request, reply) => {
      const nowMs = deps.clock.now()
      const { username, password } = request.body
      const usernameFromSource = `${username}\u0000${request.ip}`
      if (failedByUsername.spent(usernameFromSource, nowMs) || failedBySource.spent(request.ip, nowMs)) {
        reply.header('retry-after', String(failedByUsername.secondsLeft(nowMs)))
        throw new KassaError('rate_limited', { message: 'Too many failed log-ins; try again in a minute.' })
      }
      try {
        return sendJson(reply, await delivery.courierLogin(username, password))
      } catch (error) {
        if (error instanceof KassaError && error.code === 'courier_credentials_invalid') {
          failedByUsername.take(usernameFromSource, nowMs)
          failedBySource.take(request.ip, nowMs)
        }
        throw error
      }
    },
  )

  app.get('/deliveries', { schema: { tags: ['courier'], summary: "Today's parcels of this courier" } }, async (request, reply) => {
    return sendJson(reply, { object: 'list', data: await delivery.courierDeliveries(courierOf(request)) })
  })

  app.post<{ Params: { id: string } }>(
    '/deliveries/:id/code',
    { schema: { tags: ['courier'], summary: "A fresh one-time QR code for the parcel (the previous one stops working)", params: idParams('delivery') } },
    async (request, reply) => sendJson(reply, await delivery.issueCode(courierOf(request), request.params.id)),
  )

  app.post<{ Params: { id: string }; Body: { amount: number } }>(
    '/deliveries/:id/amount',
    {
      schema: {
        tags: ['courier'],
        summary: 'Lower the parcel amount (the shopper refused an item); a new code replaces the old one',
        params: idParams('delivery'),
        body: { type: 'object', additionalProperties: false, required: ['amount'], properties: { amount: amountSchema } },
      },
    },
    async (request, reply) => sendJson(reply, await delivery.changeAmount(courierOf(request), request.params.id, BigInt(request.body.amount))),
  )

  app.post<{ Params: { id: string }; Body: { amount: number } }>(
    '/deliveries/:id/cash',
    {
      schema: {
        tags: ['courier'],
        summary: 'Record cash collected for the parcel',
        params: idParams('delivery'),
        body: { type: 'object', additionalProperties: false, required: ['amount'], properties: { amount: amountSchema } },
      },
    },
    async (request, reply) => sendJson(reply, await delivery.recordCash(courierOf(request), request.params.id, BigInt(request.body.amount))),
  )

  app.post<{ Params: { id: string }; Body: { payload: string } }>(
    '/deliveries/:id/collect',
    {
      schema: {
        tags: ['courier'],
        summary: "Collect with the shopper's consumer-presented code",
        params: idParams('delivery'),
        body: { type: 'object', additionalProperties: false, required: ['payload'], properties: { payload: { type: 'string', minLength: 1, maxLength: 1024 } } },
      },
    },
    async (request, reply) => sendJson(reply, await delivery.collectWithShopperCode(courierOf(request), request.params.id, request.body.payload)),
  )

  app.get('/cash', { schema: { tags: ['courier'], summary: "Today's cash custody" } }, async (request, reply) => {
    return sendJson(reply, await delivery.cashSummary(courierOf(request)))
  })

  app.get(
    '/events',
    {
      schema: {
        tags: ['courier'],
        summary: 'Server-Sent Events: delivery.paid as it happens',
        querystring: { type: 'object', additionalProperties: false, properties: { token: { type: 'string', maxLength: 200 } } },
      },
    },
    async (request, reply) => {
      const courierId = courierOf(request)
      reply.hijack()
      const raw = reply.raw
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
      raw.write(`event: ready\ndata: {"courier":"${courierId}"}\n\n`)
      const unsubscribe = deps.live.subscribe(courierId, (event) => {
        // `delivery.code`: the parcel's code is being paid through a bank, or is payable again; `delivery.paid`: paid.
        const name = event.status.startsWith('code_') ? 'delivery.code' : 'delivery.paid'
        raw.write(`event: ${name}\ndata: ${JSON.stringify({ delivery: event.delivery, status: event.status, paid_by: event.paid_by, amount: event.amount })}\n\n`)
      })
      const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), heartbeatMs)
      heartbeat.unref()
      request.raw.on('close', () => {
        clearInterval(heartbeat)
        unsubscribe()
      })
    },
  )
}
