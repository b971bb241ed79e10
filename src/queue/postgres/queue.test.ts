import { queueConformance } from '../../../test/support/queue-conformance.js';
import { createPostgresQueue } from './queue.js';
import { testDatabase } from '../../../test/support/database.js';
import { silentLogger } from '../../observability/logger.js';
import { testClock } from '../../../test/support/clock.js';

queueConformance('postgres', async () => {
  const db = await testDatabase();
  const clock = testClock();
  const queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5, clock });
  const other = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5, clock });
  return {
    queue,
    other,
    clock,
    sql: db.sql,
    close: async () => {
      await Promise.all([queue.close(), other.close()]);
      await db.close();
    },
  };
});
