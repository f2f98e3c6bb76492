/**
 * Every error Kassa answers with, in one place: code → type, HTTP status, message.
 * docs/errors.md lists the same codes; test/tidy.test.ts fails when the two drift apart.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'idempotency_error'
  | 'state_error'
  | 'payment_error'
  | 'rate_limit_error'
  | 'api_error'

type CatalogueEntry = { readonly type: ErrorType; readonly status: number; readonly message: string }

export const errorCatalogue = {
  body_invalid_json: { type: 'invalid_request_error', status: 400, message: 'The request body is not valid JSON.' },
  body_unsupported_media_type: { type: 'invalid_request_error', status: 415, message: 'Send the request body as application/json.' },
  body_too_large: { type: 'invalid_request_error', status: 413, message: 'The request body is too large.' },
  parameter_missing: { type: 'invalid_request_error', status: 400, message: 'A required parameter is missing.' },
  parameter_unknown: { type: 'invalid_request_error', status: 400, message: 'The request has a parameter this endpoint does not take.' },
  parameter_invalid: { type: 'invalid_request_error', status: 400, message: 'A parameter has an invalid value.' },
  amount_invalid: { type: 'invalid_request_error', status: 400, message: 'Amounts are positive integers in minor units, at most 999999999999.' },
  wallet_limit_exceeded: { type: 'invalid_request_error', status: 400, message: 'A wallet holds at most 999999999999 minor units; this top-up would take it beyond.' },
  currency_unknown: { type: 'invalid_request_error', status: 400, message: 'The currency is not an active ISO 4217 code.' },
  currency_mismatch: { type: 'invalid_request_error', status: 400, message: 'The currencies of the objects involved differ.' },
  cursor_invalid: { type: 'invalid_request_error', status: 400, message: 'The pagination cursor is not an id of this list.' },
  authentication_required: { type: 'authentication_error', status: 401, message: 'Send your secret key as "Authorization: Bearer sk_…".' },
  api_key_invalid: { type: 'authentication_error', status: 401, message: 'The key is not valid, or it was revoked.' },
  permission_denied: { type: 'permission_error', status: 403, message: 'This key may not do that.' },
  resource_missing: { type: 'not_found_error', status: 404, message: 'No such object.' },
  route_not_found: { type: 'not_found_error', status: 404, message: 'No such endpoint.' },
  idempotency_key_invalid: { type: 'idempotency_error', status: 400, message: 'Idempotency keys are 1 to 255 printable ASCII characters.' },
  idempotency_key_reused: { type: 'idempotency_error', status: 409, message: 'This idempotency key was used with another request; use a new key for a new request.' },
  idempotency_key_in_use: { type: 'idempotency_error', status: 409, message: 'A request with this idempotency key is still being processed; retry later.' },
  payment_not_confirmable: { type: 'state_error', status: 409, message: 'Only a payment that requires a payment method can be confirmed.' },
  payment_not_capturable: { type: 'state_error', status: 409, message: 'Only a payment that requires capture can be captured.' },
  payment_not_cancelable: { type: 'state_error', status: 409, message: 'This payment can no longer be canceled.' },
  payment_not_refundable: { type: 'state_error', status: 409, message: 'Only a payment with captured funds can be refunded.' },
  capture_exceeds_authorized: { type: 'invalid_request_error', status: 400, message: 'The capture amount is more than the amount authorized.' },
  refund_exceeds_captured: { type: 'invalid_request_error', status: 400, message: 'The refund would take back more than was captured.' },
  payment_method_unsupported: { type: 'invalid_request_error', status: 400, message: 'This payment method type is not offered.' },
  channel_capability_unsupported: { type: 'invalid_request_error', status: 400, message: 'The payment channel does not support this operation.' },
  channel_unavailable: { type: 'invalid_request_error', status: 409, message: 'The payment channel takes no new payments.' },
  channel_not_allowed: { type: 'invalid_request_error', status: 400, message: 'The payment channel is not offered for this merchant, currency or amount.' },
  saved_method_missing: { type: 'invalid_request_error', status: 400, message: 'The saved payment method does not exist, belongs to another shopper, or was removed.' },
  counterpart_unavailable: { type: 'api_error', status: 502, message: 'The bank or wallet did not answer; nothing was charged twice. Retry with the same idempotency key.' },
  counterpart_declined: { type: 'payment_error', status: 402, message: 'The bank or wallet refused the request.' },
  capture_unanswered: { type: 'api_error', status: 504, message: 'The card network did not answer the capture in time. Kassa repeats it until it does and the payment follows (payment.succeeded); do not capture it again.' },
  sms_code_invalid: { type: 'invalid_request_error', status: 400, message: 'The SMS code is wrong or has expired.' },
  payment_not_awaiting_sms_code: { type: 'state_error', status: 409, message: 'This payment is not waiting for an SMS code.' },
  checkout_link_invalid: { type: 'authentication_error', status: 401, message: 'The checkout link is not valid for this payment; ask the shop for a new one.' },
  insufficient_funds: { type: 'payment_error', status: 402, message: 'The balance is too low for this payment.' },
  payment_token_invalid: { type: 'invalid_request_error', status: 400, message: "The shopper's one-time payment token is unknown, used or expired; ask the shopper's app for a new one." },
  wallet_consent_required: { type: 'permission_error', status: 403, message: "Only the shop itself may charge a wallet by shopper id; send the one-time token from the shopper's app as payment_method.token." },
  shopper_missing: { type: 'invalid_request_error', status: 400, message: 'The shopper does not exist.' },
  webhook_url_invalid: { type: 'invalid_request_error', status: 400, message: 'Webhook URLs are absolute http or https URLs.' },
  courier_credentials_invalid: { type: 'authentication_error', status: 401, message: 'The username or password is wrong.' },
  session_invalid: { type: 'authentication_error', status: 401, message: 'The session is unknown or has expired; log in again.' },
  qr_invalid: { type: 'invalid_request_error', status: 400, message: 'The code is not a valid EMVCo QR code issued by Kassa.' },
  qr_unknown: { type: 'not_found_error', status: 404, message: 'Kassa never issued this code.' },
  qr_expired: { type: 'state_error', status: 410, message: 'The code has expired; ask the courier for a new one.' },
  qr_replaced: { type: 'state_error', status: 409, message: 'The code was replaced by a newer one (the amount changed); scan the new code.' },
  refund_not_retryable: { type: 'state_error', status: 409, message: 'This refund cannot be sent again.' },
  qr_payment_in_progress: { type: 'state_error', status: 409, message: "A payment of this code is under way at the shopper's bank; wait for it to finish, or ask the courier for a new code." },
  qr_already_paid: { type: 'state_error', status: 409, message: 'This parcel is already paid.' },
  delivery_not_payable: { type: 'state_error', status: 409, message: 'This parcel is no longer waiting for payment.' },
  delivery_amount_invalid: { type: 'invalid_request_error', status: 400, message: 'A new parcel amount must be positive and lower than the current one.' },
  cash_amount_mismatch: { type: 'invalid_request_error', status: 400, message: "Cash collected must equal the parcel's amount." },
  cpm_invalid: { type: 'invalid_request_error', status: 400, message: "The shopper's code is not valid or has expired." },
  resource_conflict: { type: 'invalid_request_error', status: 409, message: 'Another request created the same object at the same moment; retrieve it, or retry.' },
  rate_limited: { type: 'rate_limit_error', status: 429, message: 'Too many requests; slow down and retry.' },
  card_attempts_exceeded: { type: 'payment_error', status: 429, message: 'Too many cards were declined on this payment; pay another way, or start a new payment later.' },
  service_unavailable: { type: 'api_error', status: 503, message: 'Kassa cannot reach its database right now; retry with the same idempotency key.' },
  internal_error: { type: 'api_error', status: 500, message: 'Something went wrong on our side; it has been logged.' },
} as const satisfies Record<string, CatalogueEntry>

export type ErrorCode = keyof typeof errorCatalogue

/** An operating error with its catalogue code, the field at fault and a message for the caller. */
export class KassaError extends Error {
  override name = 'KassaError'
  readonly code: ErrorCode
  readonly param: string | undefined
  readonly type: ErrorType
  readonly status: number

  constructor(code: ErrorCode, options: { message?: string; param?: string } = {}) {
    const entry: CatalogueEntry = errorCatalogue[code]
    super(options.message ?? entry.message)
    this.code = code
    this.param = options.param
    this.type = entry.type
    this.status = entry.status
  }

  toJSON(): { error: { type: ErrorType; code: ErrorCode; message: string; param?: string } } {
    return {
      error: {
        type: this.type,
        code: this.code,
        message: this.message,
        ...(this.param === undefined ? {} : { param: this.param }),
      },
    }
  }
}

export function isKassaError(error: unknown): error is KassaError {
  return error instanceof KassaError
}
