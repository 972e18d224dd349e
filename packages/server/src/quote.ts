/**
 * Names a client sent (model, plan, tensor names) go into error messages and log lines. A JSON
 * header may be up to a megabyte, so each name is quoted and cut to a bounded length: an error
 * answer must stay readable and never outgrow the limits of the client that reads it.
 */
export const MAX_QUOTED_CHARS = 64;

export function quoted(name: unknown): string {
  const text = String(name);
  if (text.length <= MAX_QUOTED_CHARS) return `'${text}'`;
  return `'${text.slice(0, MAX_QUOTED_CHARS)}...' (${text.length} characters)`;
}

/** A list of quoted names, at most `max` of them. */
export function quotedList(names: readonly unknown[], max = 8): string {
  const shown = names.slice(0, max).map(quoted).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
