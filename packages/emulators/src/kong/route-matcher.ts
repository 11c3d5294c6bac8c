import type { IncomingHttpHeaders } from 'node:http';
import type { NormalizedKongRoute } from '@modelgate/policy';

// Kong 3.9's default router (router_flavor traditional_compatible, kong/router/compat.lua): a route with several
// paths is split into one candidate for its regex paths and one per prefix length, each given get_priority's
// 64-bit priority, and the candidates are tried from the highest down. Priority, most significant first: the
// number of match fields (methods, hosts, headers, paths), plain hosts only, the number of headers, a regex
// path, regex_priority, the prefix length. Regex paths are anchored at the start; prefixes match as prefixes.
// Equal priorities keep document order (the ATC router's own tie-break is not emulated). Protocols are not
// matched (transform.lua puts no net.protocol in an http route's expression): the runloop refuses a mismatch
// after routing (see protocolMismatch).

export interface RouteMatchRequest {
  method: string;
  /** The normalized path. */
  path: string;
  /** The Host (or :authority), port included as sent. */
  host: string;
  headers: IncomingHttpHeaders;
}

export interface RouteMatch {
  route: NormalizedKongRoute;
  /** The part of the path the route's path matched, for strip_path. */
  matchedPath: string;
}

interface Candidate {
  route: NormalizedKongRoute;
  order: number;
  priority: number[];
  regexPaths: RegExp[];
  prefixPaths: string[];
  hosts: ((host: string) => boolean)[];
  headers: [string, ((value: string) => boolean)[]][];
}

function hostMatcher(pattern: string): (host: string) => boolean {
  const hasPort = /:\d+$/.test(pattern);
  const wanted = pattern.toLowerCase();
  const strip = (host: string) => (hasPort ? host : host.replace(/:\d+$/, ''));
  if (wanted.startsWith('*.')) return (host) => strip(host).toLowerCase().endsWith(wanted.slice(1));
  if (wanted.endsWith('.*')) return (host) => strip(host).toLowerCase().startsWith(wanted.slice(0, -1));
  return (host) => strip(host).toLowerCase() === wanted;
}

// The router compares lowercased header values with the lowercased route value (a `~*` regex included).
function headerValueMatcher(value: string): (actual: string) => boolean {
  if (value.startsWith('~*')) {
    const regex = new RegExp(value.slice(2).toLowerCase());
    return (actual) => regex.test(actual.toLowerCase());
  }
  const wanted = value.toLowerCase();
  return (actual) => actual.toLowerCase() === wanted;
}

/** compat.lua split_route_by_path_into: one candidate for all regex paths, one per prefix length. */
function pathGroups(paths: readonly string[]): { regexPaths: string[]; prefixPaths: string[] }[] {
  if (paths.length <= 1) {
    const regex = paths.filter((path) => path.startsWith('~'));
    return [
      {
        regexPaths: regex.map((path) => path.slice(1)),
        prefixPaths: paths.filter((path) => !path.startsWith('~')),
      },
    ];
  }
  const groups = new Map<string | number, string[]>();
  for (const path of paths) {
    const key = path.startsWith('~') ? 'regex' : path.length;
    groups.set(key, [...(groups.get(key) ?? []), path]);
  }
  return [...groups.entries()].map(([key, group]) =>
    key === 'regex'
      ? { regexPaths: group.map((path) => path.slice(1)), prefixPaths: [] }
      : { regexPaths: [], prefixPaths: group },
  );
}

function candidates(route: NormalizedKongRoute, order: number): Candidate[] {
  const paths = route.paths ?? [];
  const hosts = route.hosts ?? [];
  const headers = Object.entries(route.headers ?? {});
  const matchFields =
    (route.methods?.length ? 1 : 0) +
    (hosts.length ? 1 : 0) +
    (headers.length ? 1 : 0) +
    (paths.length ? 1 : 0);
  // compat.lua: `type(hosts) == "table"` with no wildcard, so an empty list counts as plain too
  const plainHostsOnly = route.hosts !== null && hosts.every((host) => !host.includes('*')) ? 1 : 0;
  return pathGroups(paths).map(({ regexPaths, prefixPaths }) => {
    const isRegex = regexPaths.length > 0 ? 1 : 0;
    const prefixLength = Math.min(0x7ffff, prefixPaths[0]?.length ?? 0);
    return {
      route,
      order,
      priority: [
        matchFields,
        plainHostsOnly,
        Math.min(255, headers.length),
        isRegex,
        isRegex ? route.regex_priority : 0,
        prefixLength,
      ],
      regexPaths: regexPaths.map((source) => new RegExp(`^(?:${source})`)),
      prefixPaths,
      hosts: hosts.map(hostMatcher),
      headers: headers.map(([name, values]) => [name.toLowerCase(), values.map(headerValueMatcher)]),
    };
  });
}

function compare(a: Candidate, b: Candidate): number {
  for (let i = 0; i < a.priority.length; i++) {
    const diff = (b.priority[i] ?? 0) - (a.priority[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return a.order - b.order;
}

function headerValues(headers: IncomingHttpHeaders, name: string): string[] {
  const value = headers[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The route table of one configuration. */
export class RouteMatcher {
  private readonly candidates: Candidate[];

  constructor(routes: readonly NormalizedKongRoute[]) {
    this.candidates = routes.flatMap((route, order) => candidates(route, order)).sort(compare);
  }

  /** The best route for a request, or null (Kong: 404 `no Route matched with those values`). */
  match(request: RouteMatchRequest): RouteMatch | null {
    for (const candidate of this.candidates) {
      const matchedPath = this.matchOne(candidate, request);
      if (matchedPath !== null) return { route: candidate.route, matchedPath };
    }
    return null;
  }

  private matchOne(candidate: Candidate, request: RouteMatchRequest): string | null {
    const { route } = candidate;
    if (route.methods?.length && !route.methods.includes(request.method)) return null;
    if (candidate.hosts.length > 0 && !candidate.hosts.some((matches) => matches(request.host))) return null;
    for (const [name, matchers] of candidate.headers) {
      const values = headerValues(request.headers, name);
      if (!values.some((value) => matchers.some((matches) => matches(value)))) return null;
    }
    if (candidate.regexPaths.length === 0 && candidate.prefixPaths.length === 0) return '';
    for (const regex of candidate.regexPaths) {
      const found = regex.exec(request.path);
      if (found) return found[0];
    }
    const prefix = candidate.prefixPaths
      .filter((path) => request.path.startsWith(path))
      .sort((a, b) => b.length - a.length)[0];
    return prefix ?? null;
  }
}
