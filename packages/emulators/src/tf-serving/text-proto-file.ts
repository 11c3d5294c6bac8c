import { readFile } from 'node:fs/promises';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { fromText } from '@bufbuild/protobuf/txtpb';
import { status } from '@grpc/grpc-js';
import { TfServingError } from './tf-serving-error.js';

/** errno codes as TensorFlow's posix file system reports them (`<file>; <strerror>`, tsl's IOError). */
const ERRNO: Readonly<Record<string, { code: status; text: string }>> = {
  ENOENT: { code: status.NOT_FOUND, text: 'No such file or directory' },
  EACCES: { code: status.PERMISSION_DENIED, text: 'Permission denied' },
  EISDIR: { code: status.FAILED_PRECONDITION, text: 'Is a directory' },
  ENOTDIR: { code: status.FAILED_PRECONDITION, text: 'Not a directory' },
};

/** A file system failure as TensorFlow words it: `/path; No such file or directory`, NOT_FOUND. */
export function fileSystemError(path: string, error: unknown): TfServingError {
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const known = errno === undefined ? undefined : ERRNO[errno];
  if (known) return new TfServingError(known.code, `${path}; ${known.text}`, { cause: error });
  const reason = error instanceof Error ? error.message : String(error);
  return new TfServingError(status.UNKNOWN, `${path}; ${reason}`, { cause: error });
}

/**
 * Reads a text-format protobuf file the way TF Serving's ParseProtoTextFile does (util/proto_util.h): a file
 * that cannot be read fails with the file system's status, one that does not parse with INVALID_ARGUMENT
 * `Invalid protobuf file: '<file>'`. The parser's own complaint (which the real server's protobuf library
 * logs) is handed to `logParseError`.
 */
export async function readTextProtoFile<Desc extends DescMessage>(
  schema: Desc,
  file: string,
  logParseError: (message: string) => void,
): Promise<MessageShape<Desc>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw fileSystemError(file, error);
  }
  try {
    return fromText(schema, text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    logParseError(`Error parsing text-format ${schema.typeName}: ${reason}`);
    throw TfServingError.invalidArgument(`Invalid protobuf file: '${file}'`);
  }
}
