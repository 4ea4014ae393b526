// The runtime's outlier detectors, one per cluster name, kept across table rebuilds so ejections
// and counters survive CDS/EDS updates (as EndpointHealthStore does for reachability).
import { channel } from 'node:diagnostics_channel';
import type { Channel } from 'node:diagnostics_channel';
import type { Clock, Logger, OutlierDetectionUpdate } from '@weft/xds-client';
import { OUTLIER_CHANNEL, OutlierDetector } from './outlier-detector.js';

export interface OutlierDetectorsOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: () => number;
  /** Called after every ejection and un-ejection. */
  readonly onChange: () => void;
}

/** Detectors by cluster name. */
export class OutlierDetectors {
  private readonly detectors = new Map<string, OutlierDetector>();
  private readonly options: OutlierDetectorsOptions;
  private readonly channel: Channel;

  constructor(options: OutlierDetectorsOptions) {
    this.options = options;
    this.channel = channel(OUTLIER_CHANNEL);
  }

  /**
   * The detector of `clusterName` under `config` with exactly the hosts `keys`; undefined (and any
   * previous detector closed) when the cluster has no outlier detection.
   */
  forCluster(
    clusterName: string,
    config: OutlierDetectionUpdate | undefined,
    keys: ReadonlySet<string>,
  ): OutlierDetector | undefined {
    let d = this.detectors.get(clusterName);
    if (config === undefined) {
      if (d !== undefined) {
        this.detectors.delete(clusterName);
        d.close();
      }
      return undefined;
    }
    if (d === undefined) {
      d = new OutlierDetector({ ...this.options, clusterName, config, channel: this.channel });
      this.detectors.set(clusterName, d);
    } else if (d.config !== config) {
      d.update(config);
    }
    d.setHosts(keys);
    return d;
  }

  /** Closes the detectors of clusters no table references any more. */
  retain(clusterNames: ReadonlySet<string>): void {
    for (const [name, d] of this.detectors) {
      if (!clusterNames.has(name)) {
        this.detectors.delete(name);
        d.close();
      }
    }
  }

  close(): void {
    for (const d of this.detectors.values()) d.close();
    this.detectors.clear();
  }
}
