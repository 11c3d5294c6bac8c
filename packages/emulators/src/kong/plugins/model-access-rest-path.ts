import type { ModelTarget } from './model-access-grpc-request.js';

// The model a TF Serving REST path names, read as rest_path.lua reads it: /v1/models/<name>
// [/versions/<digits>|/labels/<label>] followed by nothing, /metadata, :predict, :classify or :regress.

const ENDINGS = new Set(['', '/metadata', ':predict', ':classify', ':regress']);

export function restTarget(path: string): ModelTarget | undefined {
  const named = /^\/v1\/models\/([^/:]+)(.*)$/s.exec(path);
  if (!named) return undefined;
  const model = named[1] as string;
  let rest = named[2] as string;
  let version = 'latest';
  const versioned = /^\/versions\/(\d+)(.*)$/s.exec(rest);
  if (versioned) {
    version = /^0*(\d.*)$/s.exec(versioned[1] as string)?.[1] as string;
    rest = versioned[2] as string;
  } else {
    const labelled = /^\/labels\/([^/:]+)(.*)$/s.exec(rest);
    if (labelled) {
      version = `label:${labelled[1]}`;
      rest = labelled[2] as string;
    }
  }
  return ENDINGS.has(rest) ? { model, version } : undefined;
}
