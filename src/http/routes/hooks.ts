import type { FastifyInstance } from 'fastify'
import { PerMinuteBudget } from '../../security/per-minute.js'
import type { AppDeps } from '../app.js'

/**
 * Notifications that fail to prove their sender (a bad signature, no such channel) one source may
 * send per minute. A real counterpart sends none; past this, a flood of forgeries is answered 429
 * without the signature checks it would cost, while every other source is served as before.
 */
const refusedPerSourcePerMinuteMax = 60

/**
 * Where banks and wallets send their asynchronous notifications: `POST /hooks/channels/{channel}`.
 * No API key (a counterpart has none): each notification is verified by the counterpart's own
 * signature over the body exactly as received, so every content type is taken as raw text here.
 */
export async function hookRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const refusedBySource = new PerMinuteBudget(refusedPerSourcePerMinuteMax)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body))
  app.post<{ Params: { channel: string }; Body: string | undefined }>(
    '/channels/:channel',
    {
      schema: {
        tags: ['channels'],
        summary: "A bank's or wallet's signed notification (verified by the counterpart's signature)",
        security: [],
        params: { type: 'object', required: ['channel'], properties: { channel: { type: 'string', maxLength: 80, pattern: '^[a-z_]+(\\.[a-z0-9-]+)?$' } } },
      },
    },
    async (request, reply) => {
      const nowMs = deps.clock.now()
      if (refusedBySource.spent(request.ip, nowMs)) {
        request.log.warn({ source: request.ip, channel: request.params.channel }, 'counterpart notifications refused: too many refused from this source')
        return reply.code(429).header('retry-after', String(refusedBySource.secondsLeft(nowMs))).header('content-type', 'text/plain').send('too many refused notifications from this source')
      }
      const headers: Record<string, string | undefined> = {}
      for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
      const body = typeof request.body === 'string' ? request.body : ''
      const answer = await deps.counterparts.notification(request.params.channel, { headers, body, content_type: request.headers['content-type'] })
      // Only what fails to prove its sender counts: a genuine counterpart's refused report does not.
      if (answer.unverified === true) refusedBySource.take(request.ip, nowMs)
      return reply.code(answer.status).header('content-type', answer.content_type).send(answer.body)
    },
  )
}
