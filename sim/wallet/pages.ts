/**
 * The wallet payer pages ("scan" the QR code, log in as a wallet user, confirm): plain HTML forms,
 * inline styles, no scripts.
 */
import { formatMinor } from '../../src/domain/money.js'
import type { Order } from '../common/book.js'
import { escapeHtml, htmlPage } from '../common/http.js'
import type { WalletProvider } from './users.js'

export type UserRow = { readonly username: string; readonly password: string; readonly display_name: string; readonly balance_minor: bigint; readonly currency: Order['currency']; readonly blocked: boolean; readonly note: string }

function frame(provider: WalletProvider, title: string, body: string): string {
  return htmlPage({ title: `${provider.name}: ${title}`, brand: `${provider.name} (simulator)`, accent: provider.accent, body })
}

function summary(order: Order): string {
  return `<p>Pay <strong>${escapeHtml(order.merchant_id)}</strong> for <strong>${escapeHtml(order.subject)}</strong></p>
<p class="amount" id="amount">${escapeHtml(formatMinor(order.amount_minor, order.currency))} ${escapeHtml(order.currency)}</p>
<p class="note">Trade ${escapeHtml(order.provider_order_id)} · merchant order ${escapeHtml(order.order_no)}</p>`
}

export function walletLoginPage(provider: WalletProvider, order: Order, users: readonly UserRow[], error?: string): string {
  const rows = users
    .map(
      (user) =>
        `<tr><td>${escapeHtml(user.username)}</td><td>${escapeHtml(user.password)}</td><td>${escapeHtml(user.display_name)}</td><td>${escapeHtml(formatMinor(user.balance_minor, user.currency))} ${escapeHtml(user.currency)}</td><td>${user.blocked ? 'frozen' : 'active'}</td><td>${escapeHtml(user.note)}</td></tr>`,
    )
    .join('\n')
  return frame(
    provider,
    'log in to pay',
    `${summary(order)}
${error === undefined ? '' : `<p class="error" id="error">${escapeHtml(error)}</p>`}
<form method="post" action="/pay/${encodeURIComponent(order.provider_order_id)}/login" id="login-form">
<label for="username">Wallet login</label><input type="text" id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="login">Log in</button>
</form>
<table id="test-users"><caption>Test users of this simulated wallet</caption>
<tr><th>login</th><th>password</th><th>name</th><th>balance</th><th>status</th><th>for</th></tr>
${rows}
</table>`,
  )
}

export function walletConfirmPage(provider: WalletProvider, order: Order, user: UserRow, session: string, error?: string): string {
  return frame(
    provider,
    'confirm the payment',
    `${summary(order)}
${error === undefined ? '' : `<p class="error" id="error">${escapeHtml(error)}</p>`}
<p>Paying as <strong>${escapeHtml(user.display_name)}</strong>, wallet balance ${escapeHtml(formatMinor(user.balance_minor, user.currency))} ${escapeHtml(user.currency)}.</p>
<form method="post" action="/pay/${encodeURIComponent(order.provider_order_id)}/confirm" id="confirm-form">
<input type="hidden" name="session" value="${escapeHtml(session)}">
<button type="submit" id="confirm">Pay</button>
</form>`,
  )
}

export function walletMessagePage(provider: WalletProvider, title: string, message: string): string {
  return frame(provider, title, `<h1 id="title">${escapeHtml(title)}</h1><p id="message">${escapeHtml(message)}</p>`)
}
