import type { FastifyError, FastifyInstance } from 'fastify'
import { KassaError, type ErrorCode } from '../domain/errors.js'
import { WriterUnavailableError } from '../store/writer.js'
import { notBlankPattern } from './schemas.js'

type AjvError = {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

/** `/payment_method/shopper` → `payment_method.shopper`; the query or path part is named as such. */
function paramPath(instancePath: string, extra?: unknown): string {
  const parts = instancePath.split('/').filter((part) => part !== '')
  if (typeof extra === 'string') parts.push(extra)
  return parts.join('.')
}

/** Turns a JSON-schema failure into the catalogue's words, naming the field at fault. */
export function validationError(errors: readonly AjvError[], context: string | undefined): KassaError {
  const first = errors[0]
  if (first === undefined) return new KassaError('parameter_invalid')
  const where = context === 'querystring' ? ' (query string)' : context === 'params' ? ' (path)' : ''
  if (first.keyword === 'required') {
    const param = paramPath(first.instancePath, first.params['missingProperty'])
    return new KassaError('parameter_missing', { param, message: `Missing required parameter${where}: ${param}.` })
  }
  if (first.keyword === 'additionalProperties') {
    const param = paramPath(first.instancePath, first.params['additionalProperty'])
    return new KassaError('parameter_unknown', { param, message: `Unknown parameter${where}: ${param}.` })
  }
  const param = paramPath(first.instancePath)
  const leaf = param.split('.').at(-1) ?? ''
  const detail = first.keyword === 'pattern' && first.params['pattern'] === notBlankPattern ? 'must not be blank' : (first.message ?? 'is invalid')
  let code: ErrorCode = 'parameter_invalid'
  if (leaf.startsWith('amount') && context === 'body') code = 'amount_invalid'
  if (leaf === 'currency' && first.keyword === 'enum') code = 'currency_unknown'
  const message =
    code === 'amount_invalid'
      ? `${param} must be a positive integer count of minor units, at most 999999999999 (${detail}).`
      : code === 'currency_unknown'
        ? `${param} must be an active ISO 4217 currency code in upper case, such as CNY.`
        : `Invalid parameter${where}: ${param === '' ? 'body' : param} ${detail}.`
  return new KassaError(code, { param: param === '' ? 'body' : param, message })
}

/** Maps everything a request can fail with to `{"error":{type,code,message,param}}`; nothing escapes as an HTML or bare 500. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validation?: AjvError[]; validationContext?: string }, request, reply) => {
    let kassaError: KassaError
    if (error instanceof KassaError) kassaError = error
    else if (error.validation !== undefined) kassaError = validationError(error.validation, error.validationContext)
    else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') kassaError = new KassaError('body_unsupported_media_type', { param: 'Content-Type' })
    else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') kassaError = new KassaError('body_too_large')
    else if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
      kassaError = new KassaError('body_invalid_json', { param: 'body', message: `The request body is not valid JSON: ${error.message}` })
    } else if ((error as { code?: unknown }).code === '23505' || (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      // Two nodes created the same unique thing at once (a parcel number, a shopper reference).
      kassaError = new KassaError('resource_conflict')
    } else if (error instanceof WriterUnavailableError) {
      request.log.error({ err: error }, 'database unavailable')
      kassaError = new KassaError('service_unavailable')
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      kassaError = new KassaError('parameter_invalid', { message: error.message })
    } else {
      request.log.error({ err: error }, 'unhandled error')
      kassaError = new KassaError('internal_error')
    }
    void reply.code(kassaError.status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(kassaError.toJSON()))
  })
  app.setNotFoundHandler((request, reply) => {
    const error = new KassaError('route_not_found', { message: `No such endpoint: ${request.method} ${request.url.split('?')[0]}` })
    void reply.code(404).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(error.toJSON()))
  })
}
