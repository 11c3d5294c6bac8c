import type { IncomingMessage, ServerResponse } from 'node:http';
import { create } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import {
  ClassificationRequestSchema,
  ClassificationResultSchema,
  type DataType,
  encodeTensor,
  type ModelSpec,
  ModelSpecSchema,
  PredictRequestSchema,
  RegressionRequestSchema,
  RegressionResultSchema,
  readClassifyRegressJson,
  readPredictJson,
  restErrorBody,
  writeClassificationJson,
  writePredictJson,
  writeRegressionJson,
} from '@modelgate/proto';
import { ownValue } from '../own-value.js';
import type { Inference } from './inference.js';
import type { ServingMetrics } from './metrics.js';
import { modelMetadata, modelStatus, SIGNATURE_DEF_FIELD } from './model-info.js';
import { DEFAULT_SIGNATURE_KEY, type Predictor, versionRequestOf } from './predict.js';
import { modelMetadataJson, modelStatusJson } from './proto-json.js';
import type { ServableManager } from './servable-manager.js';
import { asTfServingError, httpStatusOf, TfServingError } from './tf-serving-error.js';

/** TF Serving's URL grammar (model_servers/http_rest_api_util.cc), case-insensitive, matched whole. */
const PREDICTION_PATH =
  /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+)|\/labels\/([^/:]+))?:(classify|regress|predict)$/i;
const STATUS_PATH =
  /^\/v1\/models(?:\/([^/:]+))?(?:\/versions\/(\d+)|\/labels\/([^/:]+))?(?:\/(metadata))?$/i;
/** Paths the REST handler takes at all (kHTTPRestApiHandlerPathRegex); others get net_http's 404. */
const API_PATH = /^\/v1\/.*$/is;

const INT64_MAX = 2n ** 63n - 1n;

/** libevent's evhttp_send_error page, which net_http sends for a path nobody handles. */
const NOT_FOUND_PAGE =
  '<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n';

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET',
  'Access-Control-Allow-Headers': 'Content-Type',
};

export interface RestApiOptions {
  manager: ServableManager;
  predictor: Predictor;
  inference: Inference;
  metrics: ServingMetrics;
  /** Prometheus path when monitoring is on. */
  metricsPath: string | undefined;
  /** --rest_api_enable_cors_support */
  cors: boolean;
  /** --rest_api_timeout_in_ms: each run's timeout; <= 0 none. */
  timeoutMs?: number;
}

/** What a request named in its URL. */
interface ModelRoute {
  modelName: string;
  version?: bigint;
  label?: string;
  /** `predict`, `classify`, `regress` as written (POST), or `` (GET). */
  method: string;
  subresource: string;
}

/** curl_easy_unescape: %XX sequences decoded as bytes, anything else kept (no `+` to space). */
export function unescapeUrl(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i] as string));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** http_rest_api_util.cc ParseModelInfo; undefined when the path does not match its method's grammar. */
function parseRoute(method: string, path: string): ModelRoute | undefined {
  const match =
    method === 'POST' ? PREDICTION_PATH.exec(path) : method === 'GET' ? STATUS_PATH.exec(path) : undefined;
  if (!match) return undefined;
  const [, name = '', versionText, label, fourth = ''] = match;
  const route: ModelRoute = {
    modelName: name === '' ? '' : unescapeUrl(name),
    method: method === 'POST' ? fourth : '',
    subresource: method === 'GET' ? fourth : '',
  };
  if (versionText !== undefined) {
    const version = BigInt(versionText);
    if (version > INT64_MAX) {
      throw TfServingError.invalidArgument(`Failed to convert version: ${versionText} to numeric.`);
    }
    route.version = version;
  }
  if (label !== undefined) route.label = unescapeUrl(label);
  return route;
}

function modelSpecOf(route: ModelRoute, signatureName = ''): ModelSpec {
  return create(ModelSpecSchema, {
    name: route.modelName,
    signatureName,
    versionChoice:
      route.version !== undefined
        ? { case: 'version', value: { value: route.version } }
        : route.label !== undefined
          ? { case: 'versionLabel', value: route.label }
          : { case: undefined },
  });
}

async function readBody(request: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(response: ServerResponse, code: number, body: string, headers: Record<string, string>): void {
  response.writeHead(code, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
  response.end(body);
}

/**
 * TF Serving's HTTP/REST API (model_servers/http_server.cc and http_rest_api_handler.cc) as a node:http
 * request listener: `:predict` (row and columnar), model status and metadata, the CORS preflight, the
 * Prometheus page, `{ "error": ... }` bodies with the HTTP status of each gRPC code, and the request metrics.
 */
export class RestApi {
  constructor(private readonly options: RestApiOptions) {}

  /** The node:http request listener. */
  readonly listener = (request: IncomingMessage, response: ServerResponse): void => {
    void this.handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, restErrorBody(asTfServingError(error).message), {});
      else response.destroy();
    });
  };

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const path = (request.url ?? '/').split('?')[0] as string;
    const method = request.method ?? 'GET';
    const { metricsPath, metrics } = this.options;
    if (metricsPath !== undefined && path === metricsPath) {
      send(response, 200, await metrics.render(), { 'Content-Type': 'text/plain' });
      return;
    }
    if (!API_PATH.test(path)) {
      send(response, 404, NOT_FOUND_PAGE, {
        'Content-Type': 'text/html; charset=ISO-8859-1',
        Connection: 'close',
      });
      return;
    }
    const started = performance.now();
    const cors = this.options.cors ? CORS_HEADERS : {};
    let route: ModelRoute | undefined;
    let headers: Record<string, string> = { 'Content-Type': 'application/json' };
    let code: status = status.OK;
    let output: string;
    try {
      if (method === 'OPTIONS') {
        headers = {};
        output = '';
        if (!/https?:\/\//.test(request.headers.origin ?? '')) {
          throw TfServingError.failedPrecondition('Origin header is missing in CORS preflight');
        }
      } else {
        route = parseRoute(method, path);
        output = await this.dispatch(method, path, route, body);
      }
    } catch (error) {
      const failure = asTfServingError(error);
      code = failure.code;
      output = headers['Content-Type'] ? restErrorBody(failure.message) : '';
    }
    const modelName = route?.modelName ?? '';
    if (code === status.OK) {
      metrics.recordRequestLatency(
        modelName,
        route?.method ?? '',
        'REST',
        (performance.now() - started) * 1000,
      );
    }
    metrics.recordRequest(modelName, code);
    send(response, httpStatusOf(code), output, { ...headers, ...cors });
  }

  private async dispatch(
    method: string,
    path: string,
    route: ModelRoute | undefined,
    body: Uint8Array,
  ): Promise<string> {
    if (route && method === 'POST') {
      if (route.method === 'predict') return this.predict(route, body);
      if (route.method === 'classify') return this.classify(route, body);
      if (route.method === 'regress') return this.regress(route, body);
    }
    if (route && method === 'GET') {
      if (route.modelName === '') throw TfServingError.invalidArgument('Missing model name in request.');
      const spec = modelSpecOf(route);
      if (route.subresource === 'metadata') {
        const metadata = modelMetadata(this.options.manager, spec, [SIGNATURE_DEF_FIELD]);
        return modelMetadataJson(metadata.name, metadata.version, metadata.signatures);
      }
      return modelStatusJson(modelStatus(this.options.manager, spec));
    }
    throw TfServingError.invalidArgument(`Malformed request: ${method} ${path}`);
  }

  /** http_rest_api_handler.cc ProcessClassifyRequest. */
  private async classify(route: ModelRoute, body: Uint8Array): Promise<string> {
    const json = readClassifyRegressJson(body);
    const request = create(ClassificationRequestSchema, {
      modelSpec: modelSpecOf(route, json.signatureName),
      input: json.input,
    });
    return writeClassificationJson(
      create(ClassificationResultSchema, (await this.options.inference.classify(request)).result),
    );
  }

  /** http_rest_api_handler.cc ProcessRegressRequest. */
  private async regress(route: ModelRoute, body: Uint8Array): Promise<string> {
    const json = readClassifyRegressJson(body);
    const request = create(RegressionRequestSchema, {
      modelSpec: modelSpecOf(route, json.signatureName),
      input: json.input,
    });
    return writeRegressionJson(
      create(RegressionResultSchema, (await this.options.inference.regress(request)).result),
    );
  }

  private async predict(route: ModelRoute, body: Uint8Array): Promise<string> {
    const { manager, predictor } = this.options;
    const json = readPredictJson(body, (signatureName) => {
      const handle = manager.handle(versionRequestOf(modelSpecOf(route)));
      const key = signatureName === '' ? DEFAULT_SIGNATURE_KEY : signatureName;
      const signature = ownValue(handle.servable.signatures, key);
      if (!signature)
        throw TfServingError.invalidArgument(`Serving signature name: "${key}" not found in signature def`);
      return new Map<string, DataType>(
        Object.entries(signature.inputs).map(([alias, info]) => [alias, info.dtype]),
      );
    });
    const request = create(PredictRequestSchema, {
      modelSpec: modelSpecOf(route, json.signatureName),
      inputs: Object.fromEntries(
        Object.entries(json.inputs).map(([alias, tensor]) => [alias, encodeTensor(tensor, { name: alias })]),
      ),
    });
    const outcome = await predictor.predict(request, { timeoutMs: this.options.timeoutMs });
    return writePredictJson(outcome.outputs, json.format);
  }
}
