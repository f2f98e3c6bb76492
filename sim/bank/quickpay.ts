/**
 * Quick pay's state at the bank, free of I/O: binding requests waiting for their SMS code, bindings
 * (tokens standing for an account; the account number is never given back), the SMS code challenge
 * of each payment, and the SMS "outbox" tests read codes from. Codes come from the simulator's seeded
 * generator; tokens from node:crypto.
 */
import { randomBytes } from 'node:crypto'
import { assert } from '../../src/domain/assert.js'
import type { Clock } from '../../src/domain/clock.js'

export type SmsPurpose = 'binding' | 'payment'

export type SmsMessage = { readonly phone: string; readonly code: string; readonly purpose: SmsPurpose; readonly reference: string; readonly sent_at_ms: number }

export type BindingRequest = {
  readonly binding_request_id: string
  readonly merchant_id: string
  readonly username: string
  readonly phone: string
  readonly code: string
  readonly expires_at_ms: number
  attempts: number
  status: 'waiting' | 'confirmed' | 'failed'
  binding_id: string | undefined
}

export type Binding = {
  readonly binding_id: string
  readonly merchant_id: string
  readonly username: string
  readonly created_at_ms: number
  status: 'active' | 'unbound'
}

export type Challenge = { readonly code: string; readonly expires_at_ms: number; attempts: number }

/** Checking a code: right, wrong with tries left, or no more tries, or expired. */
export type CodeCheck = { readonly outcome: 'right' } | { readonly outcome: 'wrong'; readonly tries_left: number } | { readonly outcome: 'attempts_exceeded' | 'expired' }

export type QuickPayOptions = {
  readonly clock: Clock
  readonly random: () => number
  /** How long an SMS code is good for. */
  readonly smsCodeTtlMs: number
  /** Wrong codes allowed before the request or payment fails. */
  readonly smsAttemptsMax: number
  /** Binding requests, bindings and challenges kept, each. */
  readonly entriesMax: number
}

const messagesPerPhoneMax = 10

export class QuickPayState {
  private readonly requests = new Map<string, BindingRequest>()
  private readonly bindings = new Map<string, Binding>()
  private readonly challenges = new Map<string, Challenge>()
  private readonly outbox = new Map<string, SmsMessage[]>()
  private nextRequest = 1

  constructor(private readonly options: QuickPayOptions) {
    assert(Number.isSafeInteger(options.smsAttemptsMax) && options.smsAttemptsMax >= 1 && options.smsAttemptsMax <= 10, 'smsAttemptsMax is 1 to 10')
    assert(Number.isSafeInteger(options.smsCodeTtlMs) && options.smsCodeTtlMs > 0, 'smsCodeTtlMs is positive')
  }

  /** Starts a binding and "sends" its SMS code; undefined when full. */
  requestBinding(merchantId: string, username: string, phone: string, bankCode: string): BindingRequest | undefined {
    if (this.requests.size >= this.options.entriesMax) return undefined
    const id = `${bankCode}BR${String(this.nextRequest++).padStart(10, '0')}`
    const code = this.sendCode(phone, 'binding', id)
    const request: BindingRequest = { binding_request_id: id, merchant_id: merchantId, username, phone, code, expires_at_ms: this.options.clock.now() + this.options.smsCodeTtlMs, attempts: 0, status: 'waiting', binding_id: undefined }
    this.requests.set(id, request)
    return request
  }

  bindingRequest(merchantId: string, id: string): BindingRequest | undefined {
    const request = this.requests.get(id)
    return request?.merchant_id === merchantId ? request : undefined
  }

  /** Checks a binding's code; the right one makes (or reuses) the merchant's binding of the account. */
  confirmBinding(request: BindingRequest, code: string): CodeCheck & { readonly binding?: Binding } {
    assert(request.status === 'waiting', 'only a waiting request is confirmed')
    const check = this.check(request, code)
    if (check.outcome === 'attempts_exceeded' || check.outcome === 'expired') request.status = 'failed'
    if (check.outcome !== 'right') return check
    const existing = [...this.bindings.values()].find((binding) => binding.merchant_id === request.merchant_id && binding.username === request.username && binding.status === 'active')
    const binding = existing ?? this.newBinding(request.merchant_id, request.username)
    request.status = 'confirmed'
    request.binding_id = binding.binding_id
    return { outcome: 'right', binding }
  }

  binding(merchantId: string, bindingId: string): Binding | undefined {
    const binding = this.bindings.get(bindingId)
    return binding?.merchant_id === merchantId ? binding : undefined
  }

  bindingList(): Binding[] {
    return [...this.bindings.values()].map((binding) => ({ ...binding }))
  }

  /** Starts a payment's challenge and "sends" its code. */
  challenge(orderKey: string, phone: string, reference: string): Challenge {
    const challenge: Challenge = { code: this.sendCode(phone, 'payment', reference), expires_at_ms: this.options.clock.now() + this.options.smsCodeTtlMs, attempts: 0 }
    this.challenges.set(orderKey, challenge)
    while (this.challenges.size > this.options.entriesMax) {
      const oldest = this.challenges.keys().next().value
      if (oldest === undefined) break
      this.challenges.delete(oldest)
    }
    return challenge
  }

  checkPayment(orderKey: string, code: string): CodeCheck | undefined {
    const challenge = this.challenges.get(orderKey)
    return challenge === undefined ? undefined : this.check(challenge, code)
  }

  /** The last code sent to a phone, if any. */
  lastMessage(phone: string): SmsMessage | undefined {
    return this.outbox.get(phone)?.at(-1)
  }

  private check(target: { readonly code: string; readonly expires_at_ms: number; attempts: number }, code: string): CodeCheck {
    if (target.attempts >= this.options.smsAttemptsMax) return { outcome: 'attempts_exceeded' }
    if (this.options.clock.now() >= target.expires_at_ms) return { outcome: 'expired' }
    if (code === target.code) return { outcome: 'right' }
    target.attempts++
    const left = this.options.smsAttemptsMax - target.attempts
    return left > 0 ? { outcome: 'wrong', tries_left: left } : { outcome: 'attempts_exceeded' }
  }

  private newBinding(merchantId: string, username: string): Binding {
    const binding: Binding = { binding_id: `bnd_${randomBytes(12).toString('hex')}`, merchant_id: merchantId, username, created_at_ms: this.options.clock.now(), status: 'active' }
    this.bindings.set(binding.binding_id, binding)
    return binding
  }

  private sendCode(phone: string, purpose: SmsPurpose, reference: string): string {
    const code = String(Math.floor(this.options.random() * 1_000_000)).padStart(6, '0')
    const messages = this.outbox.get(phone) ?? []
    messages.push({ phone, code, purpose, reference, sent_at_ms: this.options.clock.now() })
    if (messages.length > messagesPerPhoneMax) messages.shift()
    this.outbox.set(phone, messages)
    if (this.outbox.size > this.options.entriesMax) {
      const oldest = this.outbox.keys().next().value
      if (oldest !== undefined) this.outbox.delete(oldest)
    }
    return code
  }
}
