import { BankGateway, type BankGatewayConfig } from '../netbank/bank-client.js'
import type { QuickpayProvider } from '../provider.js'

/** Quick pay at one bank: accounts bound with an SMS code, payments on a binding confirmed by SMS code. */
export function bankQuickpayProvider(config: BankGatewayConfig): QuickpayProvider {
  const gateway = new BankGateway(config)
  return {
    id: config.id,
    kind: 'quickpay',
    display_name: config.display_name,
    currencies: config.currencies ?? ['CNY'],
    async createOrder() {
      return { outcome: 'rejected', code: 'binding_required', message: 'Quick pay pays on a bound account.' }
    },
    async startBinding(input) {
      const answer = await gateway.call('/quickpay/bindings', { card_or_account_no: input.account_no, holder_name: input.holder_name, phone: input.phone })
      if (answer.outcome !== 'ok') return answer
      const id = answer.fields['binding_request_id']
      if (id === undefined) return { outcome: 'unknown', message: 'the bank answered no binding_request_id' }
      return { outcome: 'ok', binding_request_id: id, phone_masked: answer.fields['phone_masked'] ?? '' }
    },
    async confirmBinding(input) {
      const answer = await gateway.call('/quickpay/bindings/confirm', { binding_request_id: input.binding_request_id, sms_code: input.sms_code })
      if (answer.outcome === 'rejected' && answer.code === 'sms_code_wrong') return { ...answer, message: triesLeft(answer.message) }
      if (answer.outcome !== 'ok') return answer
      const id = answer.fields['binding_id']
      if (id === undefined) return { outcome: 'unknown', message: 'the bank answered no binding_id' }
      return { outcome: 'ok', binding_id: id, account_no_masked: answer.fields['account_no_masked'] ?? '', holder_name: answer.fields['holder_name'] ?? '' }
    },
    async unbind(bindingId) {
      const answer = await gateway.call(`/quickpay/bindings/${encodeURIComponent(bindingId)}`, { binding_id: bindingId }, 'DELETE')
      if (answer.outcome === 'rejected' && answer.code === 'binding_not_found') return { outcome: 'ok', binding_id: bindingId }
      if (answer.outcome !== 'ok') return answer
      return { outcome: 'ok', binding_id: bindingId }
    },
    async startPayment(input) {
      const answer = await gateway.call('/quickpay/payments', {
        binding_id: input.binding_id,
        order_no: input.order_no,
        amount: input.amount,
        currency: input.currency,
        subject: input.subject,
        notify_url: input.notify_url,
      })
      if (answer.outcome !== 'ok') return answer
      return { outcome: 'ok', provider_order_id: answer.fields['bank_order_id'] ?? null, next_action: { type: 'enter_sms_code', phone_masked: answer.fields['phone_masked'] ?? '' } }
    },
    async confirmPayment(input) {
      const answer = await gateway.call('/quickpay/payments/confirm', { order_no: input.order_no, sms_code: input.sms_code })
      if (answer.outcome === 'rejected' && answer.code === 'sms_code_wrong') return { ...answer, message: triesLeft(answer.message) }
      return gateway.reported(answer)
    },
    ...gateway.orderOperations(),
  }
}

function triesLeft(bankMessage: string): string {
  return `The SMS code is wrong (${bankMessage}).`
}
