// What the k6 stand-ins were asked to do, for the tests to read; and what they answer next.

export interface StandInLog {
  httpPosts: { url: string; body: string; headers: Record<string, string>; tags: Record<string, string> }[];
  grpcInvokes: {
    address: string | null;
    method: string;
    request: object;
    metadata: Record<string, string>;
  }[];
  metrics: { name: string; value: number; tags: Record<string, string> }[];
  checks: string[];
  loaded: { roots: string[]; file: string }[];
  /** Status the next HTTP answers get, by Authorization header value. */
  httpStatus: (authorization: string | undefined) => number;
  grpcStatus: (authorization: string | undefined) => number;
}

export function newStandInLog(): StandInLog {
  return {
    httpPosts: [],
    grpcInvokes: [],
    metrics: [],
    checks: [],
    loaded: [],
    httpStatus: () => 200,
    grpcStatus: () => 0,
  };
}

// On globalThis: the tests reload the script (and with it these modules) for every case, and must still see
// the one log.
const holder = globalThis as { __k6StandIn?: { log: StandInLog } };
holder.__k6StandIn ??= { log: newStandInLog() };
export const standIn: { log: StandInLog } = holder.__k6StandIn;
