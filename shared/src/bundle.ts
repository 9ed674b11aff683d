import { readFileSync, statSync } from 'node:fs';

/**
 * Whether a bundle the build made (scripts/bundle-run.mjs) may be loaded: its list (`list`, the
 * bundle's .json beside it) names at least one module, and every module in it is still the file it
 * was built from (size and mtime; paths from `root`). After a `tsc -b` alone, or without esbuild,
 * the modules load as they are. Never throws: false when the list is absent or a module is gone.
 *
 * @example
 * const useBundle = bundleIsCurrent(new URL('./embedded.bundle.json', import.meta.url), new URL('../../', import.meta.url));
 */
export function bundleIsCurrent(list: URL, root: URL): boolean {
  try {
    const { modules } = JSON.parse(readFileSync(list, 'utf8')) as {
      modules: { path: string; size: number; mtimeMs: number }[];
    };
    return (
      modules.length > 0 &&
      modules.every((m) => {
        const s = statSync(new URL(m.path, root));
        return s.size === m.size && s.mtimeMs === m.mtimeMs;
      })
    );
  } catch {
    return false;
  }
}
