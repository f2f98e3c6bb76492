import type { Provider } from '../provider.js'
import { BankGateway, type BankGatewayConfig } from './bank-client.js'

/** Online banking at one bank: an order at the bank's gateway, the shopper sent to its pay page. */
export function bankNetbankProvider(config: BankGatewayConfig): Provider {
  const gateway = new BankGateway(config)
  return {
    id: config.id,
    kind: 'netbank',
    display_name: config.display_name,
    currencies: config.currencies ?? ['CNY'],
    async createOrder(order) {
      const answer = await gateway.call('/gateway/orders', {
        order_no: order.order_no,
        amount: order.amount,
        currency: order.currency,
        subject: order.subject,
        return_url: order.return_url,
        notify_url: order.notify_url,
      })
      if (answer.outcome !== 'ok') return answer
      const payUrl = answer.fields['pay_url']
      if (payUrl === undefined || !/^https?:\/\//.test(payUrl)) return { outcome: 'unknown', message: 'the bank answered no pay_url' }
      return { outcome: 'ok', provider_order_id: answer.fields['bank_order_id'] ?? null, next_action: { type: 'redirect_to_url', url: payUrl } }
    },
    ...gateway.orderOperations(),
  }
}
