// Lookups by a name a client chose (a TF Serving signature_name or output_filter, a Kong Admin API path, an
// Accept type) in a plain object (a protobuf-es map, a constant table): `constructor` or `toString` would
// otherwise find Object.prototype's members there, and the request fail on a function where the real server
// says "not found".

/** `record[key]` when `key` is one of the record's own keys, else undefined. */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
