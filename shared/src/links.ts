/**
 * Links into the operator console (`BN_CONSOLE_URL`): the console's page routes by the URL's hash,
 * `#/months/<YYYY-MM>`, `#/runs/<run-id>`, `#/assets/<key>`, `#/backfills/<id>`, `#/sensors`, so a
 * link opens the view whatever serves the page (the service, `bottleneck ui`, a proxy's path).
 *
 * @example runLink('https://console.example/', '2026-11-20261202T042851-4060db')
 * // 'https://console.example/#/runs/2026-11-20261202T042851-4060db'
 */
export function runLink(consoleUrl: string, runId: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/#/runs/${encodeURIComponent(runId)}`;
}

/** The link to a month's view in the console. */
export function monthLink(consoleUrl: string, partition: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/#/months/${encodeURIComponent(partition)}`;
}
