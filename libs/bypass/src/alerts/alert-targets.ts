import { readFileSync } from 'node:fs';
import { siemSinkFromConfig, siemSinkName, WebhookSink, type SiemSink } from '@gatehouse/audit';
import type { GatehouseConfig } from '@gatehouse/config';

/** The target name of the pager webhook in `bypass_alert`. */
export const PAGER_TARGET = 'pager';

/**
 * Where bypass alerts go, by target name: the pager (`bypass.alerts.webhook`) and, while the
 * audit export is on, every SIEM of `export.siem` (`siem-<name>`, as the export names them).
 * Bad options (a short secret, a URL that is not https) stop start-up with a `SiemSinkError`
 * naming the sink.
 */
export function alertTargets(config: GatehouseConfig): Map<string, SiemSink> {
  const targets = new Map<string, SiemSink>();
  const pager = config.bypass.alerts.webhook;
  if (pager) {
    targets.set(
      PAGER_TARGET,
      new WebhookSink({
        name: 'bypass-pager',
        url: pager.url,
        secret: pager.secret,
        timeoutMs: pager.timeoutMs,
        ...(pager.caFile ? { tls: { ca: readFileSync(pager.caFile) } } : {}),
      }),
    );
  }
  if (config.export.enabled) {
    for (const [name, siem] of Object.entries(config.export.siem)) {
      targets.set(siemSinkName(name), siemSinkFromConfig(name, siem));
    }
  }
  return targets;
}
