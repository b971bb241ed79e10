import { queueConformance } from '../../../test/support/queue-conformance.js';
import { createPostgresQueue } from './queue.js';
import { testDatabase } from '../../../test/support/database.js';
import { silentLogger } from '../../observability/logger.js';

queueConformance('postgres', async () => {
  const db = await testDatabase();
  const queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5 });
  const other = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5 });
  return {
    queue,
    other,
    sql: db.sql,
    close: async () => {
      await Promise.all([queue.close(), other.close()]);
      await db.close();
    },
  };
});
