import type { KongJwtConfig } from '@modelgate/policy';
import { describe, expect, it } from 'vitest';
import { defaultKongConfig, requestContext } from '../testing/request-context.js';
import { retrieveJwtTokens } from './jwt.js';

// Where jwt finds its tokens (handler.lua's retrieve_tokens): the query, the cookies, then the first value of
// each header named, through `\s*[Bb]earer\s+(.+)` found anywhere in it; the same token twice counts once.

const config = defaultKongConfig();
const jwt: KongJwtConfig = {
  ...(config.plugins.find((plugin) => plugin.name === 'jwt')?.config as KongJwtConfig),
  uri_param_names: ['jwt'],
  cookie_names: ['token'],
  header_names: ['authorization', 'X-Token'],
};

function tokensOf(headers: Record<string, string | string[]>, query = ''): string[] {
  return retrieveJwtTokens(
    requestContext(config, { path: '/v1/models/classifier', headers, query: new URLSearchParams(query) }),
    jwt,
  );
}

describe('retrieveJwtTokens', () => {
  it('takes the rest of the value after the first Bearer, wherever it stands in the header', () => {
    expect(tokensOf({ authorization: 'Bearer a.b.c' })).toEqual(['a.b.c']);
    expect(tokensOf({ authorization: 'bearer   a.b.c' })).toEqual(['a.b.c']);
    // not anchored: Kong's re_gmatch finds it after other text, and keeps what follows, spaces included
    expect(tokensOf({ authorization: 'Basic eA==, Bearer a.b.c' })).toEqual(['a.b.c']);
    expect(tokensOf({ authorization: 'Bearer a.b.c trailing' })).toEqual(['a.b.c trailing']);
    expect(tokensOf({ authorization: 'xBearer a.b.c' })).toEqual(['a.b.c']);
    // \s+ then at least one character: the last blank is the token when only blanks follow
    expect(tokensOf({ authorization: 'Bearer \t' })).toEqual(['\t']);
    expect(tokensOf({ authorization: 'Bearer' })).toEqual([]);
    expect(tokensOf({ authorization: 'BEARER a.b.c' })).toEqual([]);
    expect(tokensOf({ authorization: 'Token a.b.c' })).toEqual([]);
  });

  it('reads the first value of a repeated header, every header named, and lists each token once in lookup order', () => {
    expect(tokensOf({ authorization: ['Bearer first', 'Bearer second'] })).toEqual(['first']);
    expect(
      tokensOf(
        { authorization: 'Bearer from-header', 'x-token': 'Bearer other', cookie: 'a=1; token=from-cookie' },
        'jwt=from-query&jwt=&jwt=from-query',
      ),
    ).toEqual(['from-query', 'from-cookie', 'from-header', 'other']);
    expect(tokensOf({ authorization: 'Bearer same', 'x-token': 'Bearer same' }, 'jwt=same')).toEqual([
      'same',
    ]);
  });
});
