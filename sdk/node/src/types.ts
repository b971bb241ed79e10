/**
 * Types of the API's routes, read from the generated paths (openapi.d.ts): a route's body, path
 * parameters, query and success answer, so a call that does not match the API does not compile.
 */
import type { paths } from './openapi.js';

export type { paths };
export type Method = 'get' | 'put' | 'post' | 'delete' | 'patch';

type Op<P extends keyof paths, M extends Method> = M extends keyof paths[P] ? NonNullable<paths[P][M]> : never;

/** The paths that have an operation for `M`. */
export type PathsOf<M extends Method> = { [P in keyof paths]: [Op<P, M>] extends [never] ? never : P }[keyof paths];

type Json<C> = C extends { content: { 'application/json': infer B } } ? B : C extends { content?: never } ? void : unknown;

export type BodyOf<P extends keyof paths, M extends Method> =
  Op<P, M> extends { requestBody: infer R } ? Json<R>
    : Op<P, M> extends { requestBody?: infer R } ? Json<NonNullable<R>> | undefined
      : undefined;

export type PathParamsOf<P extends keyof paths, M extends Method> =
  Op<P, M> extends { parameters: { path: infer X } } ? X : undefined;

export type QueryOf<P extends keyof paths, M extends Method> =
  Op<P, M> extends { parameters: { query?: infer Q } } ? ([Q] extends [never] ? undefined : Q) : undefined;

type Success = 200 | 201 | 202 | 204;
export type AnswerOf<P extends keyof paths, M extends Method> =
  Op<P, M> extends { responses: infer R } ? { [S in keyof R & Success]: Json<R[S]> }[keyof R & Success] : never;

/** A route's body, present. */
export type Body<P extends keyof paths, M extends Method> = Exclude<BodyOf<P, M>, undefined>;
