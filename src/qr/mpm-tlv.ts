import { issue, type QrIssue } from './issues.js'
import { charactersOf, characterLength, digitsPattern } from './text.js'

/** One ID-length-value data object as read, with where it starts (in characters) in its text. */
export type DataObject = { readonly id: string; readonly value: string; readonly start: number }

export type ReadResult = {
  readonly objects: DataObject[]
  /** False when reading stopped at a structural fault; the objects before it are still there. */
  readonly complete: boolean
}

/**
 * Reads a run of MPM data objects ("ID" two digits, "length" two digits, value of that many
 * characters). `path` prefixes the IDs in issues: "" at the root, "26." inside template 26.
 * Stops at the first structural fault, since nothing after it can be located.
 */
export function readDataObjects(text: string, path: string, issues: QrIssue[]): ReadResult {
  const characters = charactersOf(text)
  const objects: DataObject[] = []
  let position = 0
  // Each pass consumes at least four characters, so the loop ends within length / 4 passes.
  while (position < characters.length) {
    const remaining = characters.length - position
    if (remaining < 4) {
      const partialId = remaining >= 2 ? characters.slice(position, position + 2) : ''
      const where = isTwoDigits(partialId) ? path + partialId : path === '' ? 'payload' : trimDot(path)
      issues.push(issue(where, 'object_truncated', `The text ends ${remaining} character(s) after the last data object, inside an ID or length.`))
      return { objects, complete: false }
    }
    const id = characters.slice(position, position + 2)
    if (!isTwoDigits(id)) {
      issues.push(issue(path + id, 'id_not_numeric', `The data object ID "${id}" at character ${position} is not two digits.`))
      return { objects, complete: false }
    }
    const lengthText = characters.slice(position + 2, position + 4)
    if (!isTwoDigits(lengthText)) {
      issues.push(issue(path + id, 'length_not_numeric', `The length "${lengthText}" of data object ${path + id} is not two digits.`))
      return { objects, complete: false }
    }
    const length = Number(lengthText)
    const valueStart = position + 4
    if (valueStart + length > characters.length) {
      issues.push(
        issue(
          path + id,
          'length_past_end',
          `Data object ${path + id} announces ${length} character(s) but only ${characters.length - valueStart} remain.`,
        ),
      )
      return { objects, complete: false }
    }
    objects.push({ id, value: characters.slice(valueStart, valueStart + length), start: position })
    position = valueStart + length
  }
  return { objects, complete: true }
}

function isTwoDigits(text: string): boolean {
  return text.length === 2 && digitsPattern.test(text)
}

function trimDot(id: string): string {
  return id.endsWith('.') ? id.slice(0, -1) : id
}

/** One data object as text. The caller has checked that the value has at most 99 characters. */
export function writeDataObject(id: string, value: string): string {
  return id + String(characterLength(value)).padStart(2, '0') + value
}
