// Debian's Chromium driven by playwright-core, as the tests that play files in a real browser launch it.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Every wait is bounded, so a browser that stalls fails the test instead of hanging it. */
export const WAIT_MS = 20_000;

export type ChromiumContext = Awaited<ReturnType<typeof chromium.launchPersistentContext>>;

/** Whether the browser is installed (`make system-deps` installs Debian's chromium). */
export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}

/**
 * Headless Chromium with a throwaway profile in `profileDir`: no GPU (software decoding,
 * as on a server), no QUIC, no background traffic, so every request it makes is the page's.
 */
export function launchChromium(profileDir: string): Promise<ChromiumContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: WAIT_MS,
    viewport: { width: 1100, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
