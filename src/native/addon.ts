// Loads vvf's native addon (native/*.c, built by `npm run build:native`): the faces share
// one binary, each using the functions it needs (sendfile for HTTP, /dev/fuse for the mount).
import { createRequire } from 'node:module';

/** The addon's exports. Each face declares the functions it calls on this object. */
export type NativeAddon = Record<string, unknown>;

let addon: NativeAddon | null | undefined;

/**
 * The native addon, or null where it is not built or cannot load; callers fall back
 * (serving copies bytes) or fail with a message naming `npm run build:native`.
 */
export function nativeAddon(): NativeAddon | null {
  if (addon === undefined) {
    try {
      // Two levels below the package root both in src/ (tsx) and in dist/.
      addon = createRequire(import.meta.url)('../../native/build/Release/vvf_native.node') as NativeAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}
