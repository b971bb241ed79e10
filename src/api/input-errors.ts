/** Runs a domain parser and turns its InputError into the API's 4xx naming the field. */
import { InputError } from '../domain/profile-operations.js';
import { ApiError } from './errors.js';

export function parseOrRefuse<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InputError) throw new ApiError(err.code, err.message);
    throw err;
  }
}
