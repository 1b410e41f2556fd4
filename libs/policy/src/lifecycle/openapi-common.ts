/**
 * Building blocks shared by the parts of the admin API's OpenAPI document (policy and console
 * here, audit, export and break glass in their libs): each part is plain data written next to what
 * it describes, merged by `openApiDocument`.
 */

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: object) => ({ 'application/json': { schema } });
export const nullable = (schema: object) => ({ oneOf: [schema, { type: 'null' }] });

/** The answer of an admin action whose attempt the audit trail could not commit. */
export const AUDIT_UNAVAILABLE_DESCRIPTION =
  'AUDIT_UNAVAILABLE: the audit trail could not record this admin action, so it was not done and nothing changed (with Retry-After); try again shortly';

/** `{ status: { description, content: Error } }` for each status, described from `descriptions`. */
export function errorResponses(descriptions: Record<number, string>, ...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      { description: descriptions[status] ?? 'refused', content: json(ref('Error')) },
    ]),
  );
}
