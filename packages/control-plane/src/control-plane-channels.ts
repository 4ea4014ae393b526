// The node:diagnostics_channel channels a control plane publishes on (STYLE rule 28): one per
// event, named `weft:cp:<event>`. https://nodejs.org/api/diagnostics_channel.html
import { channel, type Channel } from 'node:diagnostics_channel';

/** Channel name per published event; the message is the event's payload. */
export const CONTROL_PLANE_CHANNELS = Object.freeze({
  push: 'weft:cp:push',
  ack: 'weft:cp:ack',
  nack: 'weft:cp:nack',
  'config-applied': 'weft:cp:config-applied',
  'config-rejected': 'weft:cp:config-rejected',
  'certificate-issued': 'weft:cp:certificate-issued',
  'certificate-refused': 'weft:cp:certificate-refused',
} as const);

/** Events that are also published on a channel. */
export type ControlPlaneChannelEvent = keyof typeof CONTROL_PLANE_CHANNELS;

/**
 * Looks the channels up (node keeps one per name per process, so every control plane shares
 * them). Called from a constructor, never at import (STYLE rule 12).
 */
export function createControlPlaneChannels(): Readonly<Record<ControlPlaneChannelEvent, Channel>> {
  return Object.freeze({
    push: channel(CONTROL_PLANE_CHANNELS.push),
    ack: channel(CONTROL_PLANE_CHANNELS.ack),
    nack: channel(CONTROL_PLANE_CHANNELS.nack),
    'config-applied': channel(CONTROL_PLANE_CHANNELS['config-applied']),
    'config-rejected': channel(CONTROL_PLANE_CHANNELS['config-rejected']),
    'certificate-issued': channel(CONTROL_PLANE_CHANNELS['certificate-issued']),
    'certificate-refused': channel(CONTROL_PLANE_CHANNELS['certificate-refused']),
  });
}
