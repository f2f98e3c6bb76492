import type { FastifyInstance } from 'fastify'
import type { AppDeps } from '../../app.js'
import { merchantOf, sendJson } from '../../app.js'
import { cardRoutes } from './cards.js'
import { deliveryRoutes } from './deliveries.js'
import { paymentRoutes } from './payments.js'
import { refundRoutes } from './refunds.js'
import { webhookRoutes } from './webhooks.js'

/** The merchant API: every route here runs after a secret key was checked. */
export async function v1Routes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await paymentRoutes(app, deps)
  await refundRoutes(app, deps)
  await cardRoutes(app, deps)
  await webhookRoutes(app, deps)
  await deliveryRoutes(app, deps)
  app.get('/balance', { schema: { tags: ['balance'], summary: 'What Kassa owes you, per currency (captured, less fees and refunds)' } }, async (request, reply) => {
    const rows = await deps.store.db
      .selectFrom('ledger_accounts')
      .select(['currency', 'debits_posted', 'credits_posted', 'credits_pending'])
      .where('code', '=', 'merchant_payable')
      .where('owner_id', '=', merchantOf(request).id)
      .orderBy('currency')
      .execute()
    return sendJson(reply, {
      object: 'balance',
      available: rows.map((row) => ({ currency: row.currency, amount: row.credits_posted - row.debits_posted })),
      pending: rows.map((row) => ({ currency: row.currency, amount: row.credits_pending })),
    })
  })
}
