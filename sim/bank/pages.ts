/**
 * The bank's payer pages: login, confirm, and the pages for orders that cannot be paid. Plain HTML
 * forms, inline styles, no scripts, so `fetch` form posts drive them as well as a browser does.
 */
import { formatMinor } from '../../src/domain/money.js'
import type { Order } from '../common/book.js'
import { escapeHtml, htmlPage } from '../common/http.js'
import type { TestBank } from './accounts.js'

export type HolderRow = { readonly username: string; readonly password: string; readonly holder_name: string; readonly account_no_masked: string; readonly balance_minor: bigint; readonly currency: string; readonly blocked: boolean; readonly note: string }

function summary(order: Order): string {
  return `<p>Merchant <strong>${escapeHtml(order.merchant_id)}</strong> asks you to pay for <strong>${escapeHtml(order.subject)}</strong></p>
<p class="amount" id="amount">${escapeHtml(formatMinor(order.amount_minor, order.currency))} ${escapeHtml(order.currency)}</p>
<p class="note">Bank order ${escapeHtml(order.provider_order_id)} · merchant order ${escapeHtml(order.order_no)}</p>`
}

export function loginPage(bank: TestBank, order: Order, holders: readonly HolderRow[], error?: string): string {
  const rows = holders
    .map(
      (holder) =>
        `<tr><td>${escapeHtml(holder.username)}</td><td>${escapeHtml(holder.password)}</td><td>${escapeHtml(holder.holder_name)}</td><td>${escapeHtml(holder.account_no_masked)}</td><td>${escapeHtml(formatMinor(holder.balance_minor, holder.currency as Order['currency']))} ${escapeHtml(holder.currency)}</td><td>${holder.blocked ? 'blocked' : 'active'}</td><td>${escapeHtml(holder.note)}</td></tr>`,
    )
    .join('\n')
  return htmlPage({
    title: `${bank.name}: online banking`,
    brand: `${bank.name} · online banking (simulator)`,
    accent: bank.accent,
    body: `${summary(order)}
${error === undefined ? '' : `<p class="error" id="error">${escapeHtml(error)}</p>`}
<form method="post" action="/pay/${encodeURIComponent(order.provider_order_id)}/login" id="login-form">
<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="login">Log in</button>
</form>
${order.return_url === undefined ? '' : `<p><a href="${escapeHtml(order.return_url)}" id="back">Return to the merchant without paying</a></p>`}
<table id="test-accounts"><caption>Test accounts of this simulated bank</caption>
<tr><th>username</th><th>password</th><th>holder</th><th>account</th><th>balance</th><th>status</th><th>for</th></tr>
${rows}
</table>`,
  })
}

export function confirmPage(bank: TestBank, order: Order, holder: HolderRow, session: string): string {
  return htmlPage({
    title: `${bank.name}: confirm the payment`,
    brand: `${bank.name} · online banking (simulator)`,
    accent: bank.accent,
    body: `${summary(order)}
<p>Paying from <strong>${escapeHtml(holder.holder_name)}</strong>, account <span id="account">${escapeHtml(holder.account_no_masked)}</span>, balance ${escapeHtml(formatMinor(holder.balance_minor, holder.currency as Order['currency']))} ${escapeHtml(holder.currency)}.</p>
<form method="post" action="/pay/${encodeURIComponent(order.provider_order_id)}/confirm" id="confirm-form">
<input type="hidden" name="session" value="${escapeHtml(session)}">
<button type="submit" id="confirm">Confirm payment</button>
</form>`,
  })
}

/** A page saying why nothing can be paid here (paid already, closed, failed, unknown order). */
export function messagePage(bank: TestBank, title: string, message: string, returnUrl?: string): string {
  return htmlPage({
    title: `${bank.name}: ${title}`,
    brand: `${bank.name} · online banking (simulator)`,
    accent: bank.accent,
    body: `<h1 id="title">${escapeHtml(title)}</h1><p id="message">${escapeHtml(message)}</p>${returnUrl === undefined ? '' : `<p><a href="${escapeHtml(returnUrl)}" id="back">Return to the merchant</a></p>`}`,
  })
}
