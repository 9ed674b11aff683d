import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DUCKDB_ALLOCATOR, tuneDuckdbAllocator } from './tuning.js';

describe("the CLI's process tuning", () => {
  it("sets DuckDB's allocator variable when the user has not, and keeps theirs", () => {
    const env: NodeJS.ProcessEnv = {};
    expect(tuneDuckdbAllocator(env)).toBe(DUCKDB_ALLOCATOR);
    expect(env.DUCKDB_JE_MALLOC_CONF).toBe('dirty_decay_ms:100,muzzy_decay_ms:0');
    const theirs: NodeJS.ProcessEnv = { DUCKDB_JE_MALLOC_CONF: 'narenas:1' };
    expect(tuneDuckdbAllocator(theirs)).toBe('narenas:1');
    expect(theirs.DUCKDB_JE_MALLOC_CONF).toBe('narenas:1');
  });

  it("is bin.ts's first import: before DuckDB's library is loaded and before the prefetch worker starts", () => {
    const bin = readFileSync(new URL('./bin.ts', import.meta.url), 'utf8');
    const imports = bin.split('\n').filter((l) => l.startsWith('import '));
    expect(imports[0]).toBe("import './tuning.js';");
  });
});
