// Lookups by a name the request chose (signature_name, output_filter, input aliases) in a protobuf map, which
// protobuf-es holds as a plain object: `constructor` or `toString` would otherwise find Object.prototype's
// members there, and a call naming one would fail on a function where TF Serving says "not found".

/** `record[key]` when `key` is one of the record's own keys, else undefined. */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
