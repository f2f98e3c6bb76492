import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { formatMinor } from '../../src/domain/money.js'
import { bankIds, bankReturnCodes, bankTestAccounts, testBanks } from '../../sim/bank/index.js'
import { alipayLikeDemoMerchant, walletProviders, walletTestUsers } from '../../sim/wallet/index.js'

const doc = readFileSync('docs/simulators.md', 'utf8')

describe('docs/simulators.md agrees with the simulators', () => {
  it('lists every bank, its demo merchant and key, and every holder with its account numbers', () => {
    for (const bankId of bankIds) {
      const bank = testBanks[bankId]
      for (const text of [bank.id, bank.account_prefix, bank.demo_merchant.merchant_id, bank.demo_merchant.key]) assert.ok(doc.includes(text), `${bankId}: ${text}`)
      for (const holder of bankTestAccounts(bank)) {
        for (const text of [`\`${holder.username}\``, `\`${holder.password}\``, holder.holder_name, holder.phone, holder.account_no, formatMinor(holder.balance_minor, holder.currency).replace(/\B(?=(\d{3})+(?!\d))/g, ',')]) {
          assert.ok(doc.includes(text), `${bankId} ${holder.username}: ${text}`)
        }
      }
    }
  })

  it('documents every ret_code', () => {
    for (const [name, code] of Object.entries(bankReturnCodes)) assert.match(doc, new RegExp(`^\\| \`${code}\` \\|`, 'm'), name)
  })

  it('lists every wallet user and the demo merchants', () => {
    for (const provider of Object.values(walletProviders)) {
      for (const user of walletTestUsers(provider)) for (const text of [`\`${user.username}\``, `\`${user.password}\``, user.display_name, user.payer_id]) assert.ok(doc.includes(text), `${provider.id} ${user.username}: ${text}`)
    }
    assert.ok(doc.includes(alipayLikeDemoMerchant.merchant_id) && doc.includes(alipayLikeDemoMerchant.key ?? '-'))
  })

  it('documents every fault action', () => {
    for (const action of ['notify_drop', 'notify_duplicate', 'notify_delay', 'notify_out_of_order', 'notify_forge', 'query_hang', 'server_error', 'request_delay', 'pay_after_close']) assert.match(doc, new RegExp(`^\\| \`${action}\` \\|`, 'm'), action)
  })
})
