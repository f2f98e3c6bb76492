import type { FastifyInstance } from 'fastify'
import type { AppDeps } from '../app.js'

/**
 * Where banks and wallets send their asynchronous notifications: `POST /hooks/channels/{channel}`.
 * No API key (a counterpart has none): each notification is verified by the counterpart's own
 * signature over the body exactly as received, so every content type is taken as raw text here.
 */
export async function hookRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
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
      const headers: Record<string, string | undefined> = {}
      for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
      const body = typeof request.body === 'string' ? request.body : ''
      const answer = await deps.counterparts.notification(request.params.channel, { headers, body, content_type: request.headers['content-type'] })
      return reply.code(answer.status).header('content-type', answer.content_type).send(answer.body)
    },
  )
}
