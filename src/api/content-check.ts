/** The content checks the send API and the campaigns API share. */
import type { MessageContent } from '../domain/channels.js';
import { channelRegistry } from '../channels/registry.js';
import { ApiError } from './errors.js';

export /** Refuses content any channel's provider would refuse: each channel checks its part (for push, its
 *  platform's fields with its provider's real builder), in the registry's order, so what passes here
 *  fits later. */
function checkContent(content: MessageContent, id: string, createdAt: Date): void {
  for (const def of channelRegistry) {
    if (!content[def.part]) continue;
    const problem = def.content.check?.(content, { id, createdAt });
    if (problem) throw new ApiError(problem.code, problem.message);
  }
}
