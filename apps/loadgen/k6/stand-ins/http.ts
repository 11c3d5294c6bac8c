import { standIn } from './k6-stand-in-log.js';

function post(
  url: string,
  body: string,
  params: { headers: Record<string, string>; tags: Record<string, string> },
): { status: number; timings: { duration: number } } {
  standIn.log.httpPosts.push({ url, body, headers: params.headers, tags: params.tags });
  return { status: standIn.log.httpStatus(params.headers.authorization), timings: { duration: 3 } };
}

export default { post };
