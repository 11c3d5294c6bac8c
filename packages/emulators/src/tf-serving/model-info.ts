import type { ModelSpec, SignatureDef } from '@modelgate/proto';
import { versionRequestOf } from './predict.js';
import type { ServableManager, VersionStatus } from './servable-manager.js';
import { TfServingError } from './tf-serving-error.js';

/** The one metadata field TF Serving serves (GetModelMetadataImpl::kSignatureDef). */
export const SIGNATURE_DEF_FIELD = 'signature_def';

/**
 * GetModelStatus (model_servers/get_model_status_impl.cc): the named version's state, or every version's,
 * highest first. A version label is ignored, as the real server ignores it here.
 */
export function modelStatus(manager: ServableManager, spec: ModelSpec | undefined): VersionStatus[] {
  if (!spec) throw TfServingError.invalidArgument('Missing ModelSpec');
  const statuses = manager.versionStatuses(spec.name);
  if (spec.versionChoice.case === 'version') {
    const version = spec.versionChoice.value.value;
    const found = statuses.find((status) => status.version === version);
    if (!found) throw TfServingError.notFound(`Could not find version ${version} of model ${spec.name}`);
    return [found];
  }
  if (statuses.length === 0)
    throw TfServingError.notFound(`Could not find any versions of model ${spec.name}`);
  return statuses;
}

export interface ModelMetadata {
  name: string;
  version: bigint;
  signatures: Readonly<Record<string, SignatureDef>>;
}

/**
 * GetModelMetadata (servables/tensorflow/get_model_metadata_impl.cc): checks the requested fields, then the
 * version the spec reaches and all of its SignatureDefs.
 */
export function modelMetadata(
  manager: ServableManager,
  spec: ModelSpec | undefined,
  metadataFields: readonly string[],
): ModelMetadata {
  if (!spec) throw TfServingError.invalidArgument('Missing ModelSpec');
  if (metadataFields.length === 0) {
    throw TfServingError.invalidArgument('GetModelMetadataRequest must specify at least one metadata_field');
  }
  const unsupported = metadataFields.find((field) => field !== SIGNATURE_DEF_FIELD);
  if (unsupported !== undefined)
    throw TfServingError.invalidArgument(`Metadata field ${unsupported} is not supported`);
  const handle = manager.handle(versionRequestOf(spec));
  return { name: handle.name, version: handle.version, signatures: handle.servable.signatures };
}
