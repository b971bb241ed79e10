export { Herald, type HeraldOptions, type RequestOptions } from './client.js';
export { HeraldError, HeraldTimeoutError, type HeraldErrorDetails } from './errors.js';
export type { Answer, CallOptions, RetryInfo } from './transport.js';
export type { RetryOptions } from './retry.js';
export type { AnswerOf, BodyOf, Method, PathsOf, paths } from './types.js';
