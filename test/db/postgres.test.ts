import { describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';

describe('the PostgreSQL adapter', () => {
  it('names where it is without a password, whether in the user part or a password= parameter', async () => {
    for (const url of ['postgres://shop:s3cret-pw@db.example:5432/herald', 'postgres://shop@db.example/herald?sslmode=require&password=s3cret-pw']) {
      const db = openPostgres(url);
      try {
        expect(db.where).not.toContain('s3cret-pw');
        expect(db.where).toMatch(/^postgres:\/\/shop(:\*\*\*)?@db\.example/);
      } finally {
        await db.close();
      }
    }
  });
});
