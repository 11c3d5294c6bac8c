export { type ClientCredentials, isUnauthorized, TokenPool, type TokenPoolOptions } from './token-pool.js';
export { TokenRequestError } from './token-request-error.js';
