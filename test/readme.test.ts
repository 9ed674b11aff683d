import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toMermaid } from '@bottleneck/shared/assets/graph';
import { ROOT } from './helpers.js';

describe('README', () => {
  it('shows the asset graph as the code declares it', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const block = /<!-- graph:start -->\n```mermaid\n([\s\S]*?)```\n<!-- graph:end -->/.exec(readme);
    expect(block?.[1]).toBe(toMermaid());
  });
});
