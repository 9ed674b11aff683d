import { readFileSync } from 'node:fs';

/** The version in the package.json next to a service's dist/ folder. */
export function packageVersion(mainUrl: string): string {
  try {
    return (
      (JSON.parse(readFileSync(new URL('../package.json', mainUrl), 'utf8')) as { version?: string }).version ?? '0.0.0'
    );
  } catch {
    return '0.0.0';
  }
}
