// The FUSE structs vvf writes have the kernel's sizes and field offsets (include/uapi/linux/fuse.h).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isVvfError, VvfError } from '../../src/errors.js';
import { Errno, errnoOf, FuseErrno } from '../../src/fuse/errno.js';
import {
  decodeBatchForget,
  decodeInHeader,
  direntplusSize,
  encodeAttrOut,
  encodeEntryOut,
  encodeInitOut,
  encodeNotifyInvalInode,
  encodeStatfsOut,
  writeDirent,
} from '../../src/fuse/kernel-abi.js';
import { mountDevice } from '../../src/fuse/mount.js';
import { fuseNativeOrNull } from '../../src/fuse/native.js';

const attr = { ino: 0x1122334455667788n, size: 5000, mode: 0o100444, nlink: 2, uid: 7, gid: 8, mtimeMs: 1_700_000_000_250 };

test('struct sizes and offsets match fuse.h', () => {
  const entry = encodeEntryOut({ nodeid: 42n, attr, entryTimeoutMs: 1500, attrTimeoutMs: 250 });
  assert.equal(entry.length, 128);
  assert.equal(entry.readBigUInt64LE(0), 42n);
  assert.equal(entry.readBigUInt64LE(16), 1n); // entry_valid seconds
  assert.equal(entry.readUInt32LE(32), 500_000_000); // entry_valid_nsec
  assert.equal(entry.readUInt32LE(36), 250_000_000); // attr_valid_nsec
  assert.equal(entry.readBigUInt64LE(40), attr.ino);
  assert.equal(entry.readBigUInt64LE(48), 5000n);
  assert.equal(entry.readBigUInt64LE(56), 10n); // blocks of 512
  assert.equal(entry.readBigUInt64LE(72), 1_700_000_000n); // mtime
  assert.equal(entry.readUInt32LE(92), 250_000_000); // mtimensec
  assert.equal(entry.readUInt32LE(100), 0o100444); // mode
  assert.equal(entry.readUInt32LE(104), 2); // nlink
  assert.equal(encodeAttrOut(attr, 1000).length, 104);
  assert.equal(encodeAttrOut(attr, 1000).readUInt32LE(16 + 60), 0o100444);
  const init = encodeInitOut({
    major: 7,
    minor: 38,
    maxReadahead: 131072,
    flags: 1 << 22,
    maxBackground: 64,
    congestionThreshold: 48,
    maxWrite: 131072,
    timeGran: 1,
    maxPages: 256,
  });
  assert.equal(init.length, 64);
  assert.equal(init.readUInt16LE(28), 256);
  assert.equal(encodeStatfsOut({ blocks: 3, files: 4 }).length, 80);
  const [header, body] = encodeNotifyInvalInode(9n);
  assert.equal(header!.readUInt32LE(0), 40);
  assert.equal(header!.readInt32LE(4), 2);
  assert.equal(body!.readBigInt64LE(16), -1n);
});

test('dirents are padded to 8 bytes; requests decode; batch forget counts are checked against the bytes', () => {
  const name = Buffer.from('abc.mp4');
  const b = Buffer.alloc(64, 0xff);
  assert.equal(writeDirent(b, 0, 5n, 1, 8, name), 32);
  assert.equal(b.readUInt32LE(16), 7);
  assert.equal(b[31], 0);
  assert.equal(direntplusSize(name), 160);
  const h = Buffer.alloc(40);
  h.writeUInt32LE(40, 0);
  h.writeUInt32LE(15, 4);
  h.writeBigUInt64LE(77n, 8);
  h.writeBigUInt64LE(3n, 16);
  assert.deepEqual(decodeInHeader(h), { len: 40, opcode: 15, unique: 77n, nodeid: 3n, uid: 0, gid: 0, pid: 0 });
  const forget = Buffer.alloc(8 + 16);
  forget.writeUInt32LE(1000, 0);
  forget.writeBigUInt64LE(5n, 8);
  forget.writeBigUInt64LE(2n, 16);
  assert.deepEqual(decodeBatchForget(forget), [{ nodeid: 5n, nlookup: 2n }]);
});

test('errors map to errno: FuseErrno as is, source trouble EIO', () => {
  assert.equal(errnoOf(new FuseErrno(Errno.ENOENT)), Errno.ENOENT);
  assert.equal(errnoOf(new VvfError('SOURCE_UNREACHABLE', 'gone')), Errno.EIO);
  assert.equal(errnoOf(new VvfError('SOURCE_TIMEOUT', 'slow')), Errno.EIO);
  assert.equal(errnoOf(new VvfError('BOX_OVERRUN', 'bad')), Errno.EIO);
  assert.equal(errnoOf(new VvfError('SOURCE_FORBIDDEN', 'no')), Errno.EACCES);
  assert.equal(errnoOf(new VvfError('STORE_UNAVAILABLE', 'down')), Errno.EAGAIN);
  assert.equal(errnoOf(new VvfError('SOURCE_NOT_FOUND', 'deleted')), Errno.EIO);
  assert.equal(errnoOf(new Error('x')), Errno.EIO);
});

test('a mount without the helper it needs fails with one line naming what is needed', {
  skip: fuseNativeOrNull() === null,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-fuse-priv-'));
  try {
    await assert.rejects(mountDevice(dir, { method: 'fusermount3', fusermount: '/nonexistent/fusermount3' }), (e: unknown) => {
      assert.ok(isVvfError(e));
      assert.equal(e.code, 'USAGE');
      assert.match(e.message, /needs root, or fusermount3/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
