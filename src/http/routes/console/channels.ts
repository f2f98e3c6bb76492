import type { FastifyInstance } from 'fastify'
import { affectedShoppers, channelConfig, channelConfigView, listChannelConfigs, updateChannelConfig, type ChannelChanges } from '../../../channels/directory.js'
import { channelStates } from '../../../channels/config.js'
import { currencyCodes } from '../../../domain/currency.js'
import { KassaError } from '../../../domain/errors.js'
import { operatorOf, sendJson, type AppDeps } from '../../app.js'
import { amountSchema, idSchema, textSchema } from '../../schemas.js'

const channelParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 80, pattern: '^[a-z_]+(\\.[a-z0-9-]+)?$' } } } as const

type ChangeBody = {
  state?: 'enabled' | 'draining' | 'disabled'
  merchants?: string[] | null
  currencies?: string[]
  min_amount?: number | null
  max_amount?: number | null
  display_order?: number
  fee_basis_points?: number | null
  display_name?: string
}

/** Channel configuration for operators: state (enabled, draining, disabled), who, what currencies, limits, order, fee. */
export async function consoleChannelRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.get('/channels', { schema: { tags: ['console'], summary: 'List the checkout channels and their configuration' } }, async (_request, reply) => {
    const configs = await listChannelConfigs(deps.store)
    return sendJson(reply, { object: 'list', data: configs.map(channelConfigView), has_more: false })
  })

  app.get<{ Params: { id: string } }>('/channels/:id', { schema: { tags: ['console'], summary: 'Retrieve a channel', params: channelParams } }, async (request, reply) =>
    sendJson(reply, channelConfigView(await channelConfig(deps.store, request.params.id))),
  )

  app.post<{ Params: { id: string }; Body: ChangeBody }>(
    '/channels/:id',
    {
      schema: {
        tags: ['console'],
        summary: 'Change a channel: switch it off (draining, disabled) or on, limit it; effective at once on every node, audited',
        params: channelParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            state: { type: 'string', enum: channelStates },
            merchants: { anyOf: [{ type: 'null' }, { type: 'array', maxItems: 1000, uniqueItems: true, items: idSchema('merchant') }], description: 'null: every merchant.' },
            currencies: { type: 'array', minItems: 1, maxItems: 200, uniqueItems: true, items: { type: 'string', enum: currencyCodes } },
            min_amount: { anyOf: [{ type: 'null' }, amountSchema] },
            max_amount: { anyOf: [{ type: 'null' }, amountSchema] },
            display_order: { type: 'integer', minimum: 0, maximum: 100_000 },
            fee_basis_points: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 0, maximum: 10_000 }], description: "MDR on this channel; null: the merchant's own." },
            display_name: textSchema(80),
          },
        },
      },
    },
    async (request, reply) => {
      const operator = operatorOf(request)
      if (operator.role !== 'admin') throw new KassaError('permission_denied', { message: 'This needs the role admin.' })
      const { min_amount: _min, max_amount: _max, ...body } = request.body
      const changes: ChannelChanges = {
        ...body,
        ...(_min === undefined ? {} : { min_amount: _min === null ? null : BigInt(_min) }),
        ...(_max === undefined ? {} : { max_amount: _max === null ? null : BigInt(_max) }),
      }
      const updated = await updateChannelConfig(deps.store, deps.clock, { type: 'operator', id: operator.id }, request.params.id, changes)
      request.log.info({ channel: updated.id, state: updated.state, operator: operator.id }, 'channel configuration changed')
      return sendJson(reply, channelConfigView(updated))
    },
  )

  app.get<{ Params: { id: string } }>(
    '/channels/:id/affected',
    { schema: { tags: ['console'], summary: 'Shoppers with saved methods on a channel (whom switching it off touches)', params: channelParams } },
    async (request, reply) => {
      const rows = await affectedShoppers(deps.store, request.params.id)
      return sendJson(reply, { object: 'list', channel: request.params.id, data: rows, has_more: false })
    },
  )
}
