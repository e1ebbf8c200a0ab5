// dOps (OpusSpecificBox, in an Opus sample entry): channels, pre-skip and the channel mapping.
import type { Cursor } from '../cursor.js';
import { type ChannelLayout, layoutOfCount, layoutOfMask, mask } from './channel-layout.js';

export interface DopsBox {
  version: number;
  outputChannelCount: number;
  /** Samples at 48 kHz the decoder drops at the start. */
  preSkip: number;
  /** The rate of the encoder's input, not the decoding rate (always 48 kHz). */
  inputSampleRate: number;
  /** Q7.8 dB. */
  outputGain: number;
  channelMappingFamily: number;
  streamCount?: number;
  coupledCount?: number;
  channelMapping?: number[];
}

export function parseDops(c: Cursor): DopsBox {
  const version = c.u8();
  const outputChannelCount = c.u8();
  const preSkip = c.u16();
  const inputSampleRate = c.u32();
  const outputGain = c.i16();
  const channelMappingFamily = c.u8();
  const box: DopsBox = { version, outputChannelCount, preSkip, inputSampleRate, outputGain, channelMappingFamily };
  if (channelMappingFamily !== 0) {
    box.streamCount = c.u8();
    box.coupledCount = c.u8();
    box.channelMapping = Array.from(c.bytesView(outputChannelCount));
  }
  return box;
}

/** Vorbis channel order (RFC 7845 5.1.1.2), which mapping family 1 uses, as ffmpeg's masks. */
const VORBIS_MASKS: Record<number, number> = {
  3: mask('FL', 'FR', 'FC'),
  4: mask('FL', 'FR', 'BL', 'BR'),
  5: mask('FL', 'FR', 'FC', 'BL', 'BR'),
  6: mask('FL', 'FR', 'FC', 'LFE', 'BL', 'BR'),
  7: mask('FL', 'FR', 'FC', 'LFE', 'BC', 'SL', 'SR'),
  8: mask('FL', 'FR', 'FC', 'LFE', 'BL', 'BR', 'SL', 'SR'),
};

/** Channels and layout of an Opus stream, as ffmpeg's decoder reports them. */
export function opusChannels(box: DopsBox): ChannelLayout {
  const n = box.outputChannelCount;
  const m = box.channelMappingFamily === 1 ? VORBIS_MASKS[n] : undefined;
  return m !== undefined ? layoutOfMask(m) : layoutOfCount(n);
}
