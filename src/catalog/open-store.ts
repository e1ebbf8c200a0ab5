import { MemoryLruStore } from '../store/memory-lru.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { TieredStore } from '../store/tiered-store.js';
import type { CatalogConfig } from './config.js';

/**
 * The configured store: a memory LRU over Redis (`redisUrl`, shared by every instance) or
 * over an SQLite file (`storePath`); none when neither is set.
 */
export async function openStore(config: CatalogConfig): Promise<TieredStore | undefined> {
  const memory = () => new MemoryLruStore({ maxBytes: config.memoryCacheBytes });
  if (config.redisUrl) {
    // Loaded only when used: the Redis client adds to every start of the command otherwise.
    const { RedisStore } = await import('../store/redis-store.js');
    const redis = await RedisStore.connect(config.redisUrl, { maxBytes: config.storeMaxBytes });
    return new TieredStore(memory(), redis);
  }
  return config.storePath
    ? new TieredStore(memory(), SqliteStore.open(config.storePath, { maxBytes: config.storeMaxBytes }))
    : undefined;
}
