import Type, { type Static, type TSchema, type TUnsafe } from "typebox";

/**
 * A reference to a named schema (one with `$id`): `{ $ref: "<$id>" }` typed as the schema itself. Named schemas are
 * registered once with the server (and become `components.schemas` of the OpenAPI document), so each is written
 * out once.
 */
export function ref<T extends TSchema>(schema: T): TUnsafe<Static<T>> {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== "string") throw new TypeError("ref: the schema has no $id");
  return Type.Unsafe<Static<T>>(Type.Ref(id));
}

/** `T` or null. */
export function nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

/** A timestamp as the server writes it: ISO 8601 / RFC 3339 in UTC, e.g. "2026-11-30T08:15:00.000Z". */
export const DateTime = Type.String({ format: "date-time" });

/** Lower-case hex SHA-256 (64 digits). */
export const Sha256Hex = Type.String({ pattern: "^[0-9a-f]{64}$" });

/** A SHA-256 as clients may send it: hex, either case (the server compares lower-case). */
export const Sha256Input = Type.String({ pattern: "^[0-9a-fA-F]{64}$" });

/** A registry code (agency, category): letters, digits, '.', '_' or '-', at most 64. */
export const Code = Type.String({ pattern: "^[A-Za-z0-9._-]{1,64}$" });

/** Text that is not empty or only white space, at most `max` characters. */
export function text(max: number, options: { description?: string } = {}) {
  return Type.String({ minLength: 1, maxLength: max, pattern: "\\S", ...options });
}

/** An e-mail address as the registry accepts it (one @, no spaces or list separators). */
export const Email = Type.String({ pattern: '^[^\\s@<>,;"]+@[^\\s@<>,;"]+$', maxLength: 320 });

/**
 * A streamed file body (request or response, application/octet-stream). Not JSON: the server hands uploads to the
 * handler as a stream and streams downloads from its store; the client sends and returns web streams.
 */
export const Binary = Type.Unsafe<ReadableStream<Uint8Array>>({ type: "string", format: "binary" });

/** No body (204). */
export const NoContent = Type.Unsafe<undefined>({ description: "no content" });

/** TypeBox's types, for packages that type values from these schemas without depending on TypeBox themselves. */
export type { Static, TObject, TOptional, TSchema } from "typebox";
