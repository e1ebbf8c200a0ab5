// The FUSE face's system calls: mount(2)/umount2(2) for root, a socketpair and an
// SCM_RIGHTS receive for fusermount3's _FUSE_COMMFD hand-over, threads that read
// requests off /dev/fuse and post them to the JS thread, and a zero-copy READ reply
// (vmsplice the header and held bytes, splice file ranges, all through one pipe into
// /dev/fuse, which the kernel takes as one write: fuse_dev_splice_write). READs of open
// files whose bytes are all held bytes and local files are answered on the reader
// threads themselves, from a read plan handed over at OPEN, without the event loop
// (fastPlan, fastOpen, fastRelease, readerStats). Linux only.
//
// This file also defines the addon's entry point: binding.gyp renames send-pieces.c's
// generated napi_register_module_v1 (a -D on the target) so that both files can add
// their functions to the one module.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

// --- errors -------------------------------------------------------------------------

static const char* errno_code(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENODEV: return "ENODEV";
    case ENOTCONN: return "ENOTCONN";
    case ENODATA: return "ENODATA";
    case ENOSYS: return "ENOSYS";
    case EPIPE: return "EPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECANCELED: return "ECANCELED";
    case ESTALE: return "ESTALE";
    default: return "EIO";
  }
}

static napi_value make_errno_error(napi_env env, int e, const char* what) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(e));
  napi_value code, msg, err, num;
  napi_create_string_utf8(env, errno_code(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &err);
  napi_create_int32(env, e, &num);
  napi_set_named_property(env, err, "errno", num);
  return err;
}

static napi_value throw_errno(napi_env env, int e, const char* what) {
  napi_throw(env, make_errno_error(env, e, what));
  return NULL;
}

static int get_string(napi_env env, napi_value v, char* out, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok) return -1;
  return len + 1 < cap ? 0 : -1;  // refuse silently truncated paths and options
}

// --- mount(2), umount2(2) -------------------------------------------------------------

// fuseMount(source, target, fstype, flags, data): throws an Error with .code/.errno.
static napi_value fuse_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char source[256], target[4096], fstype[64], data[1024];
  uint32_t flags = 0;
  if (argc < 5 || get_string(env, argv[0], source, sizeof source) || get_string(env, argv[1], target, sizeof target) ||
      get_string(env, argv[2], fstype, sizeof fstype) || napi_get_value_uint32(env, argv[3], &flags) != napi_ok ||
      get_string(env, argv[4], data, sizeof data)) {
    napi_throw_type_error(env, NULL, "fuseMount(source, target, fstype, flags, data)");
    return NULL;
  }
  if (mount(source, target, fstype, flags, data) != 0) return throw_errno(env, errno, "mount");
  return NULL;
}

// fuseUmount(target, flags)
static napi_value fuse_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char target[4096];
  uint32_t flags = 0;
  if (argc < 2 || get_string(env, argv[0], target, sizeof target) || napi_get_value_uint32(env, argv[1], &flags) != napi_ok) {
    napi_throw_type_error(env, NULL, "fuseUmount(target, flags)");
    return NULL;
  }
  if (umount2(target, (int)flags) != 0) return throw_errno(env, errno, "umount2");
  return NULL;
}

// --- fusermount3 hand-over --------------------------------------------------------------

// [fds[0], fds[1]] as a JS array: what socketPair and replyPipe return.
static napi_value fd_pair(napi_env env, const int fds[2]) {
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, fds[0], &a);
  napi_create_int32(env, fds[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

// socketPair() → [fd, fd]: a Unix stream socketpair, both ends close-on-exec (the child's
// end is passed to fusermount3 through spawn's stdio, which dup2s it without the flag).
static napi_value socket_pair(napi_env env, napi_callback_info info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return throw_errno(env, errno, "socketpair");
  return fd_pair(env, fds);
}

// recvFd(sock) → fd, or -1 when the peer closed without sending one. Does not block:
// fusermount3 has sent the descriptor (or given up) by the time it exits.
static napi_value recv_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t sock = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &sock) != napi_ok) {
    napi_throw_type_error(env, NULL, "recvFd(sock)");
    return NULL;
  }
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  int fd = -1;
  if (n < 0 && errno != EAGAIN) return throw_errno(env, errno, "recvmsg");
  if (n > 0) {
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
    }
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// --- the zero-copy READ reply ------------------------------------------------------------

// One piece of a reply: held bytes (fd -1, data), or a range of a file (fd, offset). `slot`
// is the plan's source index of a file range answered on a reader thread (-1 otherwise).
typedef struct {
  int fd;
  int slot;
  int64_t offset;
  int64_t length;
  const uint8_t* data;
} ReplyPiece;

static void drain_pipe(int fd) {
  char sink[65536];
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  while (read(fd, sink, sizeof sink) > 0) {
  }
  fcntl(fd, F_SETFL, flags);
}

// Fills an empty pipe with the pieces in order: held bytes with vmsplice, file ranges with
// splice. 0, or EAGAIN when the pipe has no room left (the reply cannot go by this pipe:
// /dev/fuse takes a reply from a pipe only as one complete message), ENODATA when a file
// ends before its range does (never a short reply), or the errno of a failed read. Never
// blocks on the pipe (SPLICE_F_NONBLOCK); a file range may wait for the disk.
//
// vmsplice without SPLICE_F_GIFT maps the held bytes' pages into the pipe: they must not
// change until the pipe is sent or drained, which both callers wait for.
static int fill_pipe(int pipe_w, const ReplyPiece* pieces, size_t count, int64_t* in_pipe) {
  *in_pipe = 0;
  for (size_t i = 0; i < count; i++) {
    const ReplyPiece* p = &pieces[i];
    int64_t done = 0;
    while (done < p->length) {
      ssize_t n;
      if (p->fd < 0) {
        struct iovec iov = {.iov_base = (void*)(p->data + done), .iov_len = (size_t)(p->length - done)};
        n = vmsplice(pipe_w, &iov, 1, SPLICE_F_NONBLOCK);
      } else {
        loff_t at = (loff_t)(p->offset + done);
        n = splice(p->fd, &at, pipe_w, NULL, (size_t)(p->length - done), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0) return ENODATA;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      done += n;
      *in_pipe += n;
    }
  }
  return 0;
}

// Moves a whole reply of `total` bytes from the pipe into /dev/fuse (one message).
static int send_pipe(int pipe_r, int fuse_fd, int64_t total) {
  ssize_t n;
  do {
    n = splice(pipe_r, NULL, fuse_fd, NULL, (size_t)total, SPLICE_F_MOVE);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return n == total ? 0 : EIO;
}

// spliceReply(fuseFd, pipeRead, pipeWrite, pieces, callback(error)): pieces are Uint8Arrays
// (the reply header first) or [fd, offset, length, expected?] file ranges. Runs on the
// thread pool: a cold file range waits for the disk. The pipe must be empty and hold the
// whole reply (F_SETPIPE_SZ). A reply that needs more pipe slots than there are (a slot
// per page or part of a page) fails EAGAIN with nothing written to /dev/fuse, and the
// caller copies instead. `expected`, a BigInt64Array [size, mtime ns, ctime ns, inode],
// is what the file must still be once its bytes are in the pipe (checked before they go
// to /dev/fuse): ESTALE, with nothing written, when it is not.
typedef struct {
  int64_t size;
  int64_t mtime_ns;
  int64_t ctime_ns;
  int64_t ino;
} Expected;

typedef struct {
  int fuse_fd;
  int pipe_r;
  int pipe_w;
  size_t count;
  ReplyPiece* pieces;
  napi_ref* refs;
  Expected* expected;  // per piece
  uint8_t* has_expected;
  int64_t total;
  int error;
  napi_ref callback;
  napi_async_work work;
} SpliceJob;

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

// 0 when every file piece with an expectation still meets it; ESTALE, or fstat's errno.
static int check_expected(const SpliceJob* j) {
  for (size_t i = 0; i < j->count; i++) {
    if (!j->has_expected[i]) continue;
    struct stat st;
    if (fstat(j->pieces[i].fd, &st) != 0) return errno;
    const Expected* x = &j->expected[i];
    if ((int64_t)st.st_size != x->size || ns_of(st.st_mtim) != x->mtime_ns || ns_of(st.st_ctim) != x->ctime_ns ||
        (int64_t)st.st_ino != x->ino)
      return ESTALE;
  }
  return 0;
}

static void splice_execute(napi_env env, void* data) {
  SpliceJob* j = (SpliceJob*)data;
  int64_t in_pipe = 0;
  j->error = fill_pipe(j->pipe_w, j->pieces, j->count, &in_pipe);
  if (j->error == 0 && in_pipe != j->total) j->error = EIO;
  // A file changed while its pages went into the pipe: they are not sent.
  if (j->error == 0) j->error = check_expected(j);
  if (j->error == 0) j->error = send_pipe(j->pipe_r, j->fuse_fd, j->total);
  // A failed reply leaves bytes in the pipe; the next reply must start on an empty one.
  if (j->error != 0) drain_pipe(j->pipe_r);
}

static void free_splice_job(napi_env env, SpliceJob* j) {
  for (size_t i = 0; i < j->count && j->refs != NULL; i++) {
    if (j->refs[i] != NULL) napi_delete_reference(env, j->refs[i]);
  }
  free(j->pieces);
  free(j->refs);
  free(j->expected);
  free(j->has_expected);
  free(j);
}

static void splice_complete(napi_env env, napi_status status, void* data) {
  SpliceJob* j = (SpliceJob*)data;
  napi_value cb, global, argv[1];
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  if (j->error == 0 && status == napi_ok) napi_get_null(env, &argv[0]);
  else argv[0] = make_errno_error(env, j->error != 0 ? j->error : ECANCELED, "splice reply");
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free_splice_job(env, j);
  napi_call_function(env, global, cb, 1, argv, NULL);
}

static napi_value splice_reply(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fuse_fd, pipe_r, pipe_w;
  uint32_t count = 0;
  bool is_array = false;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &fuse_fd) != napi_ok || napi_get_value_int32(env, argv[1], &pipe_r) != napi_ok ||
      napi_get_value_int32(env, argv[2], &pipe_w) != napi_ok || napi_is_array(env, argv[3], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "spliceReply(fuseFd, pipeRead, pipeWrite, pieces, callback)");
    return NULL;
  }
  napi_get_array_length(env, argv[3], &count);
  SpliceJob* j = (SpliceJob*)calloc(1, sizeof(SpliceJob));
  if (j == NULL) return throw_errno(env, ENOMEM, "spliceReply");
  j->fuse_fd = fuse_fd;
  j->pipe_r = pipe_r;
  j->pipe_w = pipe_w;
  j->pieces = (ReplyPiece*)calloc(count + 1, sizeof(ReplyPiece));
  j->refs = (napi_ref*)calloc(count + 1, sizeof(napi_ref));
  j->expected = (Expected*)calloc(count + 1, sizeof(Expected));
  j->has_expected = (uint8_t*)calloc(count + 1, 1);
  if (j->pieces == NULL || j->refs == NULL || j->expected == NULL || j->has_expected == NULL) {
    free_splice_job(env, j);
    return throw_errno(env, ENOMEM, "spliceReply");
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    napi_get_element(env, argv[3], i, &el);
    j->count = i + 1;  // pieces [0, i] may hold references to delete
    ReplyPiece* p = &j->pieces[i];
    p->slot = -1;
    bool typed = false;
    napi_is_typedarray(env, el, &typed);
    if (typed) {
      napi_typedarray_type type;
      size_t length;
      void* bytes;
      napi_get_typedarray_info(env, el, &type, &length, &bytes, NULL, NULL);
      if (type != napi_uint8_array) goto bad;
      p->fd = -1;
      p->data = (const uint8_t*)bytes;
      p->length = (int64_t)length;
      napi_create_reference(env, el, 1, &j->refs[i]);
    } else {
      napi_value v;
      int32_t fd;
      int64_t off, len;
      if (napi_get_element(env, el, 0, &v) != napi_ok || napi_get_value_int32(env, v, &fd) != napi_ok) goto bad;
      if (napi_get_element(env, el, 1, &v) != napi_ok || napi_get_value_int64(env, v, &off) != napi_ok) goto bad;
      if (napi_get_element(env, el, 2, &v) != napi_ok || napi_get_value_int64(env, v, &len) != napi_ok) goto bad;
      if (fd < 0 || off < 0 || len < 0) goto bad;
      p->fd = fd;
      p->offset = off;
      p->length = len;
      uint32_t fields = 0;
      napi_get_array_length(env, el, &fields);
      if (fields > 3) {
        bool expected_typed = false;
        napi_typedarray_type expected_type;
        size_t expected_len;
        void* expected_data;
        if (napi_get_element(env, el, 3, &v) != napi_ok || napi_is_typedarray(env, v, &expected_typed) != napi_ok || !expected_typed)
          goto bad;
        napi_get_typedarray_info(env, v, &expected_type, &expected_len, &expected_data, NULL, NULL);
        if (expected_type != napi_bigint64_array || expected_len != 4) goto bad;
        memcpy(&j->expected[i], expected_data, sizeof(Expected));
        j->has_expected[i] = 1;
      }
    }
    j->total += p->length;
  }
  j->count = count;
  napi_create_reference(env, argv[4], 1, &j->callback);
  napi_value name;
  napi_create_string_utf8(env, "vvf-fuse-splice", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, splice_execute, splice_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return NULL;
bad:
  napi_throw_type_error(env, NULL, "spliceReply: a piece is a Uint8Array or [fd, offset, length, BigInt64Array(4)?]");
  free_splice_job(env, j);
  return NULL;
}

// A pipe that holds `bytes` (F_SETPIPE_SZ), close-on-exec; 0 or an errno.
static int make_pipe(int fds[2], uint32_t bytes) {
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  int got = fcntl(fds[1], F_SETPIPE_SZ, (int)bytes);
  if (got < 0 || (uint32_t)got < bytes) {
    int e = got < 0 ? errno : ENOMEM;
    close(fds[0]);
    close(fds[1]);
    return e;
  }
  return 0;
}

// replyPipe(bytes) → [read, write]: a pipe that holds `bytes`, close-on-exec.
static napi_value reply_pipe(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t bytes = 0;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &bytes) != napi_ok) {
    napi_throw_type_error(env, NULL, "replyPipe(bytes)");
    return NULL;
  }
  int fds[2];
  int e = make_pipe(fds, bytes);
  if (e != 0) return throw_errno(env, e, "replyPipe");
  return fd_pair(env, fds);
}

// --- read plans: READ answered on the reader threads ---------------------------------------

// A virtual file as the reader threads answer READs of it: extents keyed by virtual end
// offset, each held bytes (source -1, `at` an offset in `held`) or a range of one of the
// plan's sources (`at` the offset in that source). Immutable once made; shared by the JS
// object that made it and every open handle using it, freed with the last of them.
typedef struct {
  int refs;  // atomic
  int64_t size;
  uint32_t count;
  uint32_t sources;
  int64_t* ends;
  int32_t* source;
  int64_t* at;
  uint8_t* held;
  size_t held_len;
} Plan;

// A plan's sources are checked with a 64-bit mask per READ (check_sources).
#define MAX_PLAN_SOURCES 64

static void plan_put(Plan* p) {
  if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  free(p->ends);
  free(p->source);
  free(p->at);
  free(p->held);
  free(p);
}

// What a source file was when its handle was opened (fstat of the descriptor): the bytes
// of a READ count only if the file is still that after they were read. The same fields as
// FileSource's validator (size, mtime, inode, ctime — ctime cannot be set back).
typedef struct {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  struct timespec ctime;
} Identity;

static Identity identity_of(const struct stat* st) {
  Identity id = {st->st_dev, st->st_ino, st->st_size, st->st_mtim, st->st_ctim};
  return id;
}

static int same_identity(const Identity* a, const Identity* b) {
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

// An open file (the kernel's fh) answered here: its plan and a descriptor of each source,
// duplicated from the ones FileSource leased at OPEN (so neither the pool's evictions nor
// JS closing a source can close them under a READ), closed when the handle is freed: at
// RELEASE, or after the last READ in flight on it.
typedef struct Handle {
  struct Handle* next;  // hash chain
  uint64_t fh;
  int refs;     // atomic: the table's, and one per READ in flight
  int changed;  // atomic: a source changed; every READ answers EIO from then on
  Plan* plan;
  int* fds;
  Identity* ids;
} Handle;

static void handle_put(Handle* h) {
  if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  for (uint32_t i = 0; i < h->plan->sources; i++) {
    if (h->fds[i] >= 0) close(h->fds[i]);
  }
  plan_put(h->plan);
  free(h->fds);
  free(h->ids);
  free(h);
}

// --- the request reader ----------------------------------------------------------------

// Threads reading requests off /dev/fuse. A request goes to the JS thread as a copy,
// through a threadsafe function, except a READ of an open handle that has a plan here
// (fastOpen): the thread answers that itself, from the plan's held bytes and the files'
// descriptors, and the event loop never sees it.
//
// The threads take turns at the device (leader/follower): the one holding `turn` waits in
// poll(2) on the device and an eventfd (so stopReader ends it without waiting for a
// request), reads one request and passes the turn on before answering it, so a READ
// waiting for the disk keeps no other request waiting. One poller, so a request wakes one
// thread, not all of them.
//
// At most all threads but one answer READs at once (`busy`): one is always at the device,
// so READs stuck on a slow disk cannot starve LOOKUP, INTERRUPT or RELEASE. A READ that
// would take the last thread starts another thread first (as libfuse does), up to the
// maximum; past it, the READ goes to JS, which answers it under its deadline. A cold
// sequential reader keeps a dozen or more READs in flight (the kernel's readahead).

// Latency buckets of the READs answered here, upper bounds in microseconds (then +Inf).
// They include every bound of the metrics' histogram (0.5 ms … 10 s): a bucket's mean then
// falls into the same metrics bucket as each latency it counts.
static const int64_t LATENCY_BOUNDS_US[] = {100,    250,    500,     1000,    2500,    5000,    10000,   25000,
                                            50000,  100000, 250000,  500000,  1000000, 2500000, 5000000, 10000000};
#define LATENCY_BUCKETS (sizeof LATENCY_BOUNDS_US / sizeof LATENCY_BOUNDS_US[0] + 1)

// Totals since the reader started, added to atomically, read by readerStats.
typedef struct {
  uint64_t reads;    // READs answered here
  uint64_t bytes;    // bytes of their replies
  uint64_t errors;   // answered EIO
  uint64_t spliced;  // written with splice
  uint64_t copied;   // written with pread + writev
  uint64_t passed;   // READs of planned handles passed to JS: every other thread was busy
  uint64_t changed;  // handles that found a source changed
  uint64_t count[LATENCY_BUCKETS];
  uint64_t sum_ns[LATENCY_BUCKETS];
} Stats;

// readerStats: the 7 totals, the threads running, then a count and a sum per bucket.
#define STATS_FIELDS (8 + 2 * LATENCY_BUCKETS)

struct Reader;

typedef struct {
  struct Reader* r;
  pthread_t thread;
  int started;
  uint8_t* buf;   // one request
  uint8_t* data;  // a copied READ reply's bytes (fast_max)
  int pipe_r;     // this thread's reply pipe, or -1: READs answered here are copied
  int pipe_w;
  size_t pipe_pages;
  ReplyPiece* pieces;
  size_t pieces_cap;
  uint8_t header[16];
} Worker;

typedef struct Reader {
  int fd;
  int stop_fd;
  size_t buf_size;
  size_t fast_max;   // largest READ answered here (the copy buffer's size)
  uint32_t pipe_size;  // of each thread's reply pipe; 0: none
  unsigned max_workers;
  unsigned nworkers;  // threads started; grows under grow_lock, read atomically
  Worker* workers;    // max_workers of them, the first nworkers started
  int joined;
  int stopping;  // atomic
  int ended;     // atomic: the end was posted to JS
  int busy;      // atomic: threads answering a READ
  pthread_mutex_t turn;
  pthread_mutex_t table_lock;
  pthread_mutex_t grow_lock;
  Handle** buckets;
  size_t nbuckets;
  size_t nhandles;  // written under table_lock; read without it as a hint
  napi_threadsafe_function tsfn;
  Stats stats;
} Reader;

enum { MSG_REQUEST, MSG_END, MSG_CHANGED };

typedef struct {
  int kind;
  uint8_t* data;
  size_t len;
  int err;      // MSG_END: the errno that ended the reader
  uint64_t fh;  // MSG_CHANGED: the handle whose source changed
} Message;

static void free_bytes(napi_env env, void* data, void* hint) { free(data); }

// On the JS thread: callback(request, null) for a request, (null, errno) once when the
// reader ends on an error, (null, null, fh) when a handle answered here found a source changed.
static void deliver(napi_env env, napi_value cb, void* context, void* data) {
  Message* m = (Message*)data;
  if (env == NULL) {
    free(m->data);
    free(m);
    return;
  }
  napi_value argv[3], global;
  napi_get_global(env, &global);
  napi_get_null(env, &argv[0]);
  napi_get_null(env, &argv[1]);
  napi_get_undefined(env, &argv[2]);
  if (m->kind == MSG_REQUEST) {
    if (napi_create_external_buffer(env, m->len, m->data, free_bytes, NULL, &argv[0]) != napi_ok) {
      // Where external buffers are refused, copy.
      void* copy;
      napi_create_buffer_copy(env, m->len, m->data, &copy, &argv[0]);
      free(m->data);
    }
  } else if (m->kind == MSG_END) {
    napi_create_int32(env, m->err, &argv[1]);
  } else {
    napi_create_bigint_uint64(env, m->fh, &argv[2]);
  }
  free(m);
  napi_call_function(env, global, cb, 3, argv, NULL);
}

static void post(Reader* r, int kind, uint8_t* data, size_t len, int err, uint64_t fh) {
  Message* m = (Message*)malloc(sizeof(Message));
  if (m == NULL) {
    free(data);
    return;
  }
  m->kind = kind;
  m->data = data;
  m->len = len;
  m->err = err;
  m->fh = fh;
  // The queue is unbounded: this never waits for the JS thread.
  if (napi_call_threadsafe_function(r->tsfn, m, napi_tsfn_blocking) != napi_ok) {
    free(data);
    free(m);
  }
}

// Ends the reader on an error: JS hears of it once; every thread leaves its loop.
static void end_reader(Reader* r, int e) {
  if (__atomic_exchange_n(&r->ended, 1, __ATOMIC_ACQ_REL) == 0) post(r, MSG_END, NULL, 0, e, 0);
  __atomic_store_n(&r->stopping, 1, __ATOMIC_RELEASE);
  uint64_t one = 1;
  ssize_t w = write(r->stop_fd, &one, sizeof one);  // wakes the thread in poll, if another
  (void)w;
}

// Waits for the turn at the device, then for a request: its length, or -1 when stopping.
static ssize_t next_request(Worker* w) {
  Reader* r = w->r;
  ssize_t got = -1;
  pthread_mutex_lock(&r->turn);
  while (!__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE)) {
    struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN, .revents = 0}, {.fd = r->stop_fd, .events = POLLIN, .revents = 0}};
    int pr = poll(p, 2, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      end_reader(r, errno);
      break;
    }
    if (p[1].revents != 0) break;
    if (p[0].revents == 0) continue;
    ssize_t n = read(r->fd, w->buf, r->buf_size);
    if (n < 0) {
      // ENOENT: the request was interrupted before we read it; EAGAIN: nothing to read after all.
      if (errno == EINTR || errno == EAGAIN || errno == ENOENT) continue;
      end_reader(r, errno);  // ENODEV once unmounted or aborted
      break;
    }
    got = n;
    break;
  }
  pthread_mutex_unlock(&r->turn);
  return got;
}

// Fibonacci hashing of the handle number (consecutive numbers spread over the buckets).
static size_t bucket_of(const Reader* r, uint64_t fh) { return (size_t)((fh * 0x9E3779B97F4A7C15ull) >> 40) & (r->nbuckets - 1); }

static Handle* handle_get(Reader* r, uint64_t fh) {
  pthread_mutex_lock(&r->table_lock);
  Handle* h = r->buckets[bucket_of(r, fh)];
  while (h != NULL && h->fh != fh) h = h->next;
  if (h != NULL) __atomic_add_fetch(&h->refs, 1, __ATOMIC_ACQ_REL);
  pthread_mutex_unlock(&r->table_lock);
  return h;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void add_stat(uint64_t* counter, uint64_t by) { __atomic_fetch_add(counter, by, __ATOMIC_RELAXED); }

// Marks a handle whose source changed (its READs answer EIO from now on) and tells JS once,
// so that the catalog compiles the file again from the files as they are now.
static void mark_changed(Reader* r, Handle* h) {
  if (__atomic_exchange_n(&h->changed, 1, __ATOMIC_ACQ_REL) != 0) return;
  add_stat(&r->stats.changed, 1);
  post(r, MSG_CHANGED, NULL, 0, 0, h->fh);
}

// An error reply. Its failure needs nothing more: ENOENT means the request is gone
// (interrupted, aborted), ENODEV that the connection is.
static void write_error(int fd, uint64_t unique, int e) {
  struct {
    uint32_t len;
    int32_t error;
    uint64_t unique;
  } out = {16, -e, unique};
  ssize_t n;
  do {
    n = write(fd, &out, sizeof out);
  } while (n < 0 && errno == EINTR);
}

static void set_header(Worker* w, uint64_t unique, int64_t len) {
  uint32_t total = (uint32_t)(16 + len);
  int32_t error = 0;
  memcpy(w->header, &total, 4);
  memcpy(w->header + 4, &error, 4);
  memcpy(w->header + 8, &unique, 8);
}

// The pieces of [offset, offset + len) (within the plan's size) into w->pieces[1..]; piece
// 0 is the reply header. Neighbouring extents contiguous in one source (or in the held
// bytes) become one piece. 0, or ENOMEM.
static int plan_pieces(Worker* w, const Handle* h, int64_t offset, int64_t len, size_t* count_out) {
  const Plan* p = h->plan;
  uint32_t lo = 0, hi = p->count;
  while (lo < hi) {  // the first extent ending past offset
    uint32_t mid = lo + (hi - lo) / 2;
    if (p->ends[mid] <= offset) lo = mid + 1;
    else hi = mid;
  }
  size_t n = 1;
  w->pieces[0] = (ReplyPiece){.fd = -1, .slot = -1, .offset = 0, .length = 16, .data = w->header};
  const int64_t end = offset + len;
  for (uint32_t i = lo; offset < end && i < p->count; i++) {
    int64_t start = i == 0 ? 0 : p->ends[i - 1];
    int64_t take = (p->ends[i] < end ? p->ends[i] : end) - offset;
    int64_t at = p->at[i] + (offset - start);
    int32_t s = p->source[i];
    ReplyPiece* last = &w->pieces[n - 1];
    if (n > 1 && s >= 0 && last->slot == s && last->offset + last->length == at) {
      last->length += take;
    } else if (n > 1 && s < 0 && last->fd < 0 && last->data + last->length == p->held + at) {
      last->length += take;
    } else {
      if (n == w->pieces_cap) {
        size_t cap = w->pieces_cap * 2;
        ReplyPiece* grown = (ReplyPiece*)realloc(w->pieces, cap * sizeof(ReplyPiece));
        if (grown == NULL) return ENOMEM;
        w->pieces = grown;
        w->pieces_cap = cap;
      }
      ReplyPiece* q = &w->pieces[n++];
      q->slot = s;
      q->fd = s >= 0 ? h->fds[s] : -1;
      q->offset = s >= 0 ? at : 0;
      q->length = take;
      q->data = s >= 0 ? NULL : p->held + at;
    }
    offset += take;
  }
  if (offset != end) return EIO;  // cannot happen with a checked plan; never a short reply
  *count_out = n;
  return 0;
}

// Pipe slots a reply takes at most: a page (or part of one) per slot, as the kernel fills them.
static size_t pipe_slots(const ReplyPiece* pieces, size_t n) {
  size_t slots = 0;
  for (size_t i = 0; i < n; i++) {
    const ReplyPiece* p = &pieces[i];
    if (p->length == 0) continue;
    if (p->fd < 0) slots += (size_t)((p->length + 4095) / 4096) + 1;
    else slots += (size_t)((p->offset + p->length - 1) / 4096 - p->offset / 4096 + 1);
  }
  return slots;
}

// After the bytes are read and before they are sent: every source they came from must
// still be the file the handle opened (size, mtime, ctime, inode), else the bytes may be
// of another version of it. 0, ESTALE when one changed, or fstat's errno.
static int check_sources(const Handle* h, const ReplyPiece* pieces, size_t n) {
  uint64_t seen = 0;
  for (size_t i = 1; i < n; i++) {
    int s = pieces[i].slot;
    if (s < 0 || (seen & (1ull << s)) != 0) continue;
    seen |= 1ull << s;
    struct stat st;
    if (fstat(h->fds[s], &st) != 0) return errno;
    Identity now = identity_of(&st);
    if (!same_identity(&h->ids[s], &now)) return ESTALE;
  }
  return 0;
}

// Results of answer_*: 0 (the reply is written), a positive errno (the bytes could not be
// had: nothing was written, the caller answers EIO), or a negative errno (the reply was
// refused by /dev/fuse).

static int answer_spliced(Worker* w, const Handle* h, size_t n, int64_t len) {
  int64_t in_pipe = 0;
  int e = fill_pipe(w->pipe_w, w->pieces, n, &in_pipe);
  if (e == 0 && in_pipe != 16 + len) e = EIO;
  // Checked before the pipe goes to /dev/fuse: a file changed while it was spliced is never sent.
  if (e == 0) e = check_sources(h, w->pieces, n);
  if (e == 0) {
    e = send_pipe(w->pipe_r, w->r->fd, 16 + len);
    if (e == 0) return 0;
    e = -e;
  }
  drain_pipe(w->pipe_r);
  return e;
}

static int answer_copied(Worker* w, const Handle* h, size_t n, int64_t len) {
  uint8_t* into = w->data;
  for (size_t i = 1; i < n; i++) {
    const ReplyPiece* p = &w->pieces[i];
    if (p->fd < 0) {
      memcpy(into, p->data, (size_t)p->length);
      into += p->length;
      continue;
    }
    int64_t done = 0;
    while (done < p->length) {
      ssize_t got = pread(p->fd, into + done, (size_t)(p->length - done), (off_t)(p->offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      if (got == 0) return ENODATA;  // the file ended before its range: it changed
      done += got;
    }
    into += p->length;
  }
  int e = check_sources(h, w->pieces, n);
  if (e != 0) return e;
  struct iovec iov[2] = {{.iov_base = w->header, .iov_len = 16}, {.iov_base = w->data, .iov_len = (size_t)len}};
  ssize_t wrote;
  do {
    wrote = writev(w->r->fd, iov, 2);
  } while (wrote < 0 && errno == EINTR);
  if (wrote < 0) return -errno;
  return wrote == 16 + len ? 0 : -EIO;
}

// Answers one READ of a planned handle: exactly the bytes asked for (fewer only at the end
// of the file), or EIO — never bytes of a source that changed, never a short reply.
static void answer_read(Worker* w, Handle* h, uint64_t unique, uint64_t offset, uint32_t size) {
  Reader* r = w->r;
  int64_t started = now_ns();
  const Plan* p = h->plan;
  int64_t len = 0;
  int e;
  int spliced = 0;
  if (__atomic_load_n(&h->changed, __ATOMIC_ACQUIRE)) {
    e = ESTALE;
  } else {
    if (offset < (uint64_t)p->size) len = (int64_t)size < p->size - (int64_t)offset ? (int64_t)size : p->size - (int64_t)offset;
    set_header(w, unique, len);
    size_t n = 1;
    e = len == 0 ? 0 : plan_pieces(w, h, (int64_t)offset, len, &n);
    if (e == 0 && len == 0) {
      e = answer_copied(w, h, 1, 0);  // end of file: the header alone
    } else if (e == 0) {
      // A reply too large for this thread's pipe is copied, as is one the pipe turned out too small for.
      e = EAGAIN;
      if (w->pipe_w >= 0 && pipe_slots(w->pieces, n) <= w->pipe_pages) {
        e = answer_spliced(w, h, n, len);
        spliced = e == 0;
      }
      if (e == EAGAIN) e = answer_copied(w, h, n, len);
    }
  }
  if (e == ESTALE || e == ENODATA) mark_changed(r, h);
  // Refused for another reason than the request or connection being gone: the kernel still waits for an answer.
  if (e > 0 || (e < 0 && e != -ENOENT && e != -ENODEV)) write_error(r->fd, unique, EIO);
  int64_t ns = now_ns() - started;
  size_t b = 0;
  while (b < LATENCY_BUCKETS - 1 && ns > LATENCY_BOUNDS_US[b] * 1000) b++;
  add_stat(&r->stats.reads, 1);
  add_stat(&r->stats.count[b], 1);
  add_stat(&r->stats.sum_ns[b], (uint64_t)ns);
  if (e == 0) {
    add_stat(&r->stats.bytes, (uint64_t)len);
    add_stat(spliced ? &r->stats.spliced : &r->stats.copied, 1);
  } else {
    add_stat(&r->stats.errors, 1);
  }
}

// struct fuse_in_header: len@0, opcode@4, unique@8 ...; READ's fuse_read_in follows at 40:
// fh@0, offset@8, size@16 (40 bytes in all).
#define IN_HEADER_SIZE 40
#define READ_IN_SIZE 40
#define FUSE_READ 15

static int spawn_worker(Reader* r);

// Answers the request here if it is a READ of a planned handle: true when it was answered.
static int answer_here(Worker* w, size_t n) {
  Reader* r = w->r;
  if (n < IN_HEADER_SIZE + READ_IN_SIZE || __atomic_load_n(&r->nhandles, __ATOMIC_RELAXED) == 0) return 0;
  uint32_t opcode, size;
  uint64_t unique, fh, offset;
  memcpy(&opcode, w->buf + 4, 4);
  if (opcode != FUSE_READ) return 0;
  memcpy(&unique, w->buf + 8, 8);
  memcpy(&fh, w->buf + IN_HEADER_SIZE, 8);
  memcpy(&offset, w->buf + IN_HEADER_SIZE + 8, 8);
  memcpy(&size, w->buf + IN_HEADER_SIZE + 16, 4);
  if (size > r->fast_max) return 0;
  Handle* h = handle_get(r, fh);
  if (h == NULL) return 0;
  int busy = __atomic_add_fetch(&r->busy, 1, __ATOMIC_ACQ_REL);
  if (busy >= (int)__atomic_load_n(&r->nworkers, __ATOMIC_ACQUIRE)) {
    // This thread is the last one free: another takes its place at the device, if it may.
    if (__atomic_load_n(&r->nworkers, __ATOMIC_ACQUIRE) < r->max_workers) spawn_worker(r);
    if (busy >= (int)__atomic_load_n(&r->nworkers, __ATOMIC_ACQUIRE)) {
      __atomic_sub_fetch(&r->busy, 1, __ATOMIC_ACQ_REL);
      handle_put(h);
      add_stat(&r->stats.passed, 1);
      return 0;
    }
  }
  answer_read(w, h, unique, offset, size);
  __atomic_sub_fetch(&r->busy, 1, __ATOMIC_ACQ_REL);
  handle_put(h);
  return 1;
}

static void* worker_loop(void* arg) {
  Worker* w = (Worker*)arg;
  Reader* r = w->r;
  for (;;) {
    ssize_t n = next_request(w);
    if (n < 0) break;
    if (answer_here(w, (size_t)n)) continue;
    uint8_t* copy = (uint8_t*)malloc(n > 0 ? (size_t)n : 1);
    if (copy == NULL) {
      end_reader(r, ENOMEM);
      break;
    }
    memcpy(copy, w->buf, (size_t)n);
    post(r, MSG_REQUEST, copy, (size_t)n, 0, 0);
  }
  napi_release_threadsafe_function(r->tsfn, napi_tsfn_release);
  return NULL;
}

// Drops every handle of the table (each freed now, or after the READ still using it).
static void clear_handles(Reader* r) {
  pthread_mutex_lock(&r->table_lock);
  for (size_t b = 0; b < r->nbuckets; b++) {
    Handle* h = r->buckets[b];
    r->buckets[b] = NULL;
    while (h != NULL) {
      Handle* next = h->next;
      handle_put(h);
      h = next;
    }
  }
  __atomic_store_n(&r->nhandles, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&r->table_lock);
}

static void free_worker(Worker* w) {
  if (w->pipe_r >= 0) close(w->pipe_r);
  if (w->pipe_w >= 0) close(w->pipe_w);
  w->pipe_r = w->pipe_w = -1;
  free(w->buf);
  free(w->data);
  free(w->pieces);
  w->buf = w->data = NULL;
  w->pieces = NULL;
}

static void free_workers(Reader* r) {
  for (unsigned i = 0; i < r->max_workers && r->workers != NULL; i++) free_worker(&r->workers[i]);
}

// A thread's buffers and reply pipe: 0, or ENOMEM.
static int init_worker(Reader* r, Worker* w) {
  w->pieces_cap = 64;
  w->buf = (uint8_t*)malloc(r->buf_size);
  w->pieces = (ReplyPiece*)malloc(w->pieces_cap * sizeof(ReplyPiece));
  // The copy buffer is touched only as far as READs fill it.
  w->data = r->max_workers > 1 ? (uint8_t*)malloc(r->fast_max > 0 ? r->fast_max : 1) : NULL;
  if (w->buf == NULL || w->pieces == NULL || (r->max_workers > 1 && w->data == NULL)) {
    free_worker(w);
    return ENOMEM;
  }
  int fds[2];
  // No pipe (fs.pipe-max-size, the user's pipe quota): this thread copies its replies.
  if (r->max_workers > 1 && r->pipe_size > 0 && make_pipe(fds, r->pipe_size) == 0) {
    w->pipe_r = fds[0];
    w->pipe_w = fds[1];
    w->pipe_pages = r->pipe_size / 4096;
  }
  return 0;
}

// Starts one more thread, unless the maximum runs or the reader is stopping: 0, or an
// errno. Called from a thread that holds a use of the threadsafe function (or at start),
// so acquiring another for the new thread is allowed.
static int spawn_worker(Reader* r) {
  int e = 0;
  pthread_mutex_lock(&r->grow_lock);
  unsigned i = r->nworkers;
  if (__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE) || i >= r->max_workers) e = EAGAIN;
  Worker* w = e == 0 ? &r->workers[i] : NULL;
  if (e == 0) e = init_worker(r, w);
  if (e == 0 && napi_acquire_threadsafe_function(r->tsfn) != napi_ok) {
    free_worker(w);
    e = ECANCELED;
  }
  if (e == 0) {
    e = pthread_create(&w->thread, NULL, worker_loop, w);
    if (e != 0) {
      napi_release_threadsafe_function(r->tsfn, napi_tsfn_release);
      free_worker(w);
    } else {
      w->started = 1;
      __atomic_store_n(&r->nworkers, i + 1, __ATOMIC_RELEASE);
    }
  }
  pthread_mutex_unlock(&r->grow_lock);
  return e;
}

// Stops and joins the threads (a thread answering a READ finishes it first: the wait is
// bounded by the disk), then frees what they used: handles (closing their descriptors), pipes.
static void join_reader(Reader* r) {
  if (r->joined) return;
  r->joined = 1;
  // Under grow_lock: no thread starts once this is seen, and none is being started now.
  pthread_mutex_lock(&r->grow_lock);
  __atomic_store_n(&r->stopping, 1, __ATOMIC_RELEASE);
  unsigned n = r->nworkers;
  pthread_mutex_unlock(&r->grow_lock);
  uint64_t one = 1;
  ssize_t wr = write(r->stop_fd, &one, sizeof one);
  (void)wr;
  for (unsigned i = 0; i < n; i++) {
    if (r->workers[i].started) pthread_join(r->workers[i].thread, NULL);
  }
  clear_handles(r);
  free_workers(r);
}

static void free_reader(Reader* r) {
  free_workers(r);
  if (r->stop_fd >= 0) close(r->stop_fd);
  pthread_mutex_destroy(&r->turn);
  pthread_mutex_destroy(&r->table_lock);
  pthread_mutex_destroy(&r->grow_lock);
  free(r->workers);
  free(r->buckets);
  free(r);
}

static void finalize_reader(napi_env env, void* data, void* hint) {
  Reader* r = (Reader*)data;
  join_reader(r);
  free_reader(r);
}

static int get_option_u32(napi_env env, napi_value obj, const char* name, uint32_t* out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return 0;
  napi_value v;
  napi_get_named_property(env, obj, name, &v);
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

// startReader(fd, bufferSize, callback(request, errno, changedFh), options?) → handle.
// options: threads (the most threads, 1–64, default 1; READs are answered here only with
// 2 or more), startThreads (threads started at once, default min(4, threads); more start
// as READs keep them busy), pipeSize (bytes of each thread's reply pipe; 0: READs answered
// here are copied, not spliced), fastMax (largest READ answered here; default 1 MiB).
static napi_value start_reader(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint32_t size = 0, threads = 1, start = 0, pipe_size = 0, fast_max = 1 << 20;
  napi_valuetype options_type = napi_undefined;
  if (argc >= 4) napi_typeof(env, argv[3], &options_type);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_uint32(env, argv[1], &size) != napi_ok ||
      size < 8192 ||
      (options_type == napi_object &&
       (get_option_u32(env, argv[3], "threads", &threads) || get_option_u32(env, argv[3], "startThreads", &start) ||
        get_option_u32(env, argv[3], "pipeSize", &pipe_size) || get_option_u32(env, argv[3], "fastMax", &fast_max))) ||
      threads < 1 || threads > 64) {
    napi_throw_type_error(env, NULL,
                          "startReader(fd, bufferSize >= 8192, callback, { threads: 1..64, startThreads, pipeSize, fastMax }?)");
    return NULL;
  }
  if (start == 0) start = threads < 4 ? threads : 4;
  if (start > threads) start = threads;
  Reader* r = (Reader*)calloc(1, sizeof(Reader));
  if (r == NULL) return throw_errno(env, ENOMEM, "startReader");
  r->fd = fd;
  r->buf_size = size;
  r->fast_max = fast_max;
  r->pipe_size = pipe_size;
  r->max_workers = threads;
  r->nbuckets = 64;
  r->stop_fd = eventfd(0, EFD_CLOEXEC);
  pthread_mutex_init(&r->turn, NULL);
  pthread_mutex_init(&r->table_lock, NULL);
  pthread_mutex_init(&r->grow_lock, NULL);
  r->workers = (Worker*)calloc(threads, sizeof(Worker));
  r->buckets = (Handle**)calloc(r->nbuckets, sizeof(Handle*));
  int e = r->stop_fd < 0 ? errno : 0;
  if (e == 0 && (r->workers == NULL || r->buckets == NULL)) e = ENOMEM;
  for (unsigned i = 0; e == 0 && i < threads; i++) {
    r->workers[i].r = r;
    r->workers[i].pipe_r = r->workers[i].pipe_w = -1;
  }
  if (e != 0) {
    free_reader(r);
    return throw_errno(env, e, "startReader");
  }
  napi_value name;
  napi_create_string_utf8(env, "vvf-fuse-reader", NAPI_AUTO_LENGTH, &name);
  // One use of the function for this call, and one per thread (acquired as each starts):
  // each thread releases its own as it ends.
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, deliver, &r->tsfn) != napi_ok) {
    free_reader(r);
    return throw_errno(env, EINVAL, "napi_create_threadsafe_function");
  }
  for (unsigned i = 0; i < start && e == 0; i++) e = spawn_worker(r);
  napi_release_threadsafe_function(r->tsfn, napi_tsfn_release);
  if (e != 0) {
    join_reader(r);
    free_reader(r);
    return throw_errno(env, e, "startReader");
  }
  napi_value handle;
  napi_create_external(env, r, finalize_reader, NULL, &handle);
  return handle;
}

static Reader* reader_arg(napi_env env, napi_value v) {
  Reader* r = NULL;
  if (napi_get_value_external(env, v, (void**)&r) != napi_ok) return NULL;
  return r;
}

// stopReader(handle): ends the threads; no callback runs for requests read after this.
// Handles answered here are dropped and their descriptors closed.
static napi_value stop_reader(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Reader* r = argc < 1 ? NULL : reader_arg(env, argv[0]);
  if (r == NULL) {
    napi_throw_type_error(env, NULL, "stopReader(handle)");
    return NULL;
  }
  join_reader(r);
  return NULL;
}

static void finalize_plan(napi_env env, void* data, void* hint) { plan_put((Plan*)data); }

// A Float64Array's values as exact integers in [0, 2^53]; 0, or -1.
static int get_int64s(napi_env env, napi_value v, size_t want, int64_t** out) {
  bool typed = false;
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (napi_is_typedarray(env, v, &typed) != napi_ok || !typed) return -1;
  napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL);
  if (type != napi_float64_array || length != want) return -1;
  int64_t* values = (int64_t*)malloc((want > 0 ? want : 1) * sizeof(int64_t));
  if (values == NULL) return -1;
  const double* d = (const double*)data;
  for (size_t i = 0; i < want; i++) {
    if (!(d[i] >= 0 && d[i] <= 9007199254740992.0) || d[i] != (double)(int64_t)d[i]) {
      free(values);
      return -1;
    }
    values[i] = (int64_t)d[i];
  }
  *out = values;
  return 0;
}

// fastPlan(size, ends: Float64Array, sources: Int32Array, offsets: Float64Array, held:
// Uint8Array, sourceCount) → plan. Extent i ends at ends[i] (strictly increasing, the last
// at size); sources[i] is -1 for held bytes (offsets[i] into held) or a source index below
// sourceCount (≤ 64; offsets[i] into that source). Checked here: a READ never leaves the
// plan's arrays or the held bytes. The held bytes are copied.
static napi_value fast_plan(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t size = -1;
  uint32_t sources = 0;
  bool typed = false;
  napi_typedarray_type type;
  size_t count = 0, nsrc = 0, held_len = 0;
  void* src_data = NULL;
  void* held_data = NULL;
  Plan* p = NULL;
  if (argc < 6 || napi_get_value_int64(env, argv[0], &size) != napi_ok || size < 0 ||
      napi_get_value_uint32(env, argv[5], &sources) != napi_ok || sources > MAX_PLAN_SOURCES)
    goto bad;
  if (napi_is_typedarray(env, argv[2], &typed) != napi_ok || !typed) goto bad;
  napi_get_typedarray_info(env, argv[2], &type, &nsrc, &src_data, NULL, NULL);
  if (type != napi_int32_array) goto bad;
  count = nsrc;
  if (napi_is_typedarray(env, argv[4], &typed) != napi_ok || !typed) goto bad;
  napi_get_typedarray_info(env, argv[4], &type, &held_len, &held_data, NULL, NULL);
  if (type != napi_uint8_array || count > UINT32_MAX) goto bad;
  p = (Plan*)calloc(1, sizeof(Plan));
  if (p == NULL) return throw_errno(env, ENOMEM, "fastPlan");
  p->refs = 1;
  p->size = size;
  p->count = (uint32_t)count;
  p->sources = sources;
  if (get_int64s(env, argv[1], count, &p->ends) || get_int64s(env, argv[3], count, &p->at)) goto bad;
  p->source = (int32_t*)malloc((count > 0 ? count : 1) * sizeof(int32_t));
  p->held = (uint8_t*)malloc(held_len > 0 ? held_len : 1);
  if (p->source == NULL || p->held == NULL) {
    plan_put(p);
    return throw_errno(env, ENOMEM, "fastPlan");
  }
  memcpy(p->source, src_data, count * sizeof(int32_t));
  memcpy(p->held, held_data, held_len);
  p->held_len = held_len;
  int64_t start = 0;
  for (size_t i = 0; i < count; i++) {
    int64_t len = p->ends[i] - start;
    int32_t s = p->source[i];
    if (len <= 0 || s < -1 || s >= (int32_t)sources) goto bad;
    if (s < 0 && (p->at[i] > (int64_t)held_len || len > (int64_t)held_len - p->at[i])) goto bad;
    start = p->ends[i];
  }
  if (start != size) goto bad;
  napi_value out;
  if (napi_create_external(env, p, finalize_plan, NULL, &out) != napi_ok) {
    plan_put(p);
    return throw_errno(env, ENOMEM, "fastPlan");
  }
  return out;
bad:
  if (p != NULL) plan_put(p);
  napi_throw_type_error(env, NULL, "fastPlan(size, ends, sources, offsets, held, sourceCount): an inconsistent plan");
  return NULL;
}

// fastOpen(reader, fh: bigint, plan, fds: Int32Array): READs of `fh` are answered on the
// reader threads from now on. fds[i] is an open descriptor of source i: duplicated here
// (the caller may close its own at once), and fstat'ed — the identity every READ's bytes
// are checked against. The caller checks its sources' validators after this call, so that
// the identity recorded is the one the file was compiled from.
static napi_value fast_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Reader* r = argc < 4 ? NULL : reader_arg(env, argv[0]);
  uint64_t fh = 0;
  bool lossless = false, typed = false;
  Plan* p = NULL;
  napi_typedarray_type type;
  size_t nfds = 0;
  void* fd_data = NULL;
  if (r == NULL || napi_get_value_bigint_uint64(env, argv[1], &fh, &lossless) != napi_ok || !lossless ||
      napi_get_value_external(env, argv[2], (void**)&p) != napi_ok || p == NULL || napi_is_typedarray(env, argv[3], &typed) != napi_ok ||
      !typed) {
    napi_throw_type_error(env, NULL, "fastOpen(reader, fh, plan, fds)");
    return NULL;
  }
  napi_get_typedarray_info(env, argv[3], &type, &nfds, &fd_data, NULL, NULL);
  if (type != napi_int32_array || nfds != p->sources) {
    napi_throw_type_error(env, NULL, "fastOpen: one descriptor per source of the plan");
    return NULL;
  }
  if (r->joined || r->max_workers < 2) return throw_errno(env, ENOTCONN, "fastOpen");
  Handle* h = (Handle*)calloc(1, sizeof(Handle));
  if (h == NULL) return throw_errno(env, ENOMEM, "fastOpen");
  h->fh = fh;
  h->refs = 1;
  h->plan = p;
  __atomic_add_fetch(&p->refs, 1, __ATOMIC_ACQ_REL);
  h->fds = (int*)malloc((nfds > 0 ? nfds : 1) * sizeof(int));
  h->ids = (Identity*)calloc(nfds > 0 ? nfds : 1, sizeof(Identity));
  if (h->fds == NULL || h->ids == NULL) {
    free(h->fds);
    free(h->ids);
    free(h);
    plan_put(p);
    return throw_errno(env, ENOMEM, "fastOpen");
  }
  for (size_t i = 0; i < nfds; i++) h->fds[i] = -1;
  const int32_t* fds = (const int32_t*)fd_data;
  int e = 0;
  for (size_t i = 0; i < nfds && e == 0; i++) {
    struct stat st;
    if (fds[i] < 0) e = EBADF;
    else if ((h->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0)) < 0) e = errno;
    else if (fstat(h->fds[i], &st) != 0) e = errno;
    else h->ids[i] = identity_of(&st);
  }
  if (e == 0) {
    pthread_mutex_lock(&r->table_lock);
    Handle* known = r->buckets[bucket_of(r, fh)];
    while (known != NULL && known->fh != fh) known = known->next;
    if (known != NULL) {
      e = EEXIST;
    } else {
      if (r->nhandles + 1 > r->nbuckets * 2) {
        // Grow the table: chains stay short with many files open at once.
        size_t grown_n = r->nbuckets * 4;
        Handle** grown = (Handle**)calloc(grown_n, sizeof(Handle*));
        if (grown != NULL) {
          Handle** old = r->buckets;
          size_t old_n = r->nbuckets;
          r->buckets = grown;
          r->nbuckets = grown_n;
          for (size_t b = 0; b < old_n; b++) {
            for (Handle* x = old[b]; x != NULL;) {
              Handle* next = x->next;
              size_t to = bucket_of(r, x->fh);
              x->next = grown[to];
              grown[to] = x;
              x = next;
            }
          }
          free(old);
        }
      }
      size_t b = bucket_of(r, fh);
      h->next = r->buckets[b];
      r->buckets[b] = h;
      __atomic_store_n(&r->nhandles, r->nhandles + 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&r->table_lock);
  }
  if (e != 0) {
    handle_put(h);  // closes the duplicates made so far
    return throw_errno(env, e, "fastOpen");
  }
  return NULL;
}

// fastRelease(reader, fh) → whether fh had a plan. Its descriptors are closed now, or when
// the READ still using them ends.
static napi_value fast_release(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Reader* r = argc < 2 ? NULL : reader_arg(env, argv[0]);
  uint64_t fh = 0;
  bool lossless = false;
  if (r == NULL || napi_get_value_bigint_uint64(env, argv[1], &fh, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, NULL, "fastRelease(reader, fh)");
    return NULL;
  }
  pthread_mutex_lock(&r->table_lock);
  Handle** at = &r->buckets[bucket_of(r, fh)];
  while (*at != NULL && (*at)->fh != fh) at = &(*at)->next;
  Handle* h = *at;
  if (h != NULL) {
    *at = h->next;
    __atomic_store_n(&r->nhandles, r->nhandles - 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&r->table_lock);
  if (h != NULL) handle_put(h);
  napi_value out;
  napi_get_boolean(env, h != NULL, &out);
  return out;
}

// readerStats(reader) → Float64Array: reads, bytes, errors, spliced, copied, passed,
// changed (totals since the reader started), the threads running now, then per latency
// bucket (LATENCY_BOUNDS_US, then +Inf) its count and its sum in nanoseconds.
static napi_value reader_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Reader* r = argc < 1 ? NULL : reader_arg(env, argv[0]);
  if (r == NULL) {
    napi_throw_type_error(env, NULL, "readerStats(reader)");
    return NULL;
  }
  napi_value buffer, out;
  void* data;
  if (napi_create_arraybuffer(env, STATS_FIELDS * sizeof(double), &data, &buffer) != napi_ok) return NULL;
  double* d = (double*)data;
  const Stats* s = &r->stats;
  const uint64_t* totals[] = {&s->reads, &s->bytes, &s->errors, &s->spliced, &s->copied, &s->passed, &s->changed};
  size_t k = 0;
  for (size_t i = 0; i < 7; i++) d[k++] = (double)__atomic_load_n(totals[i], __ATOMIC_RELAXED);
  d[k++] = (double)__atomic_load_n(&r->nworkers, __ATOMIC_ACQUIRE);
  for (size_t b = 0; b < LATENCY_BUCKETS; b++) {
    d[k++] = (double)__atomic_load_n(&s->count[b], __ATOMIC_RELAXED);
    d[k++] = (double)__atomic_load_n(&s->sum_ns[b], __ATOMIC_RELAXED);
  }
  napi_create_typedarray(env, napi_float64_array, STATS_FIELDS, buffer, 0, &out);
  return out;
}

// --- registration ------------------------------------------------------------------------

static napi_value fuse_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"fuseMount", NULL, fuse_mount, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"fuseUmount", NULL, fuse_umount, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"socketPair", NULL, socket_pair, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"recvFd", NULL, recv_fd, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"startReader", NULL, start_reader, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"stopReader", NULL, stop_reader, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"spliceReply", NULL, splice_reply, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"replyPipe", NULL, reply_pipe, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"fastPlan", NULL, fast_plan, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"fastOpen", NULL, fast_open, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"fastRelease", NULL, fast_release, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"readerStats", NULL, reader_stats, NULL, NULL, NULL, napi_default_jsproperty, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

// send-pieces.c's NAPI_MODULE entry, renamed by binding.gyp's define.
#ifdef napi_register_module_v1
#undef napi_register_module_v1
napi_value vvf_send_pieces_register(napi_env env, napi_value exports);
#define VVF_HAS_SEND_PIECES 1
#endif

EXTERN_C_START
NAPI_MODULE_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports) {
#ifdef VVF_HAS_SEND_PIECES
  exports = vvf_send_pieces_register(env, exports);
#endif
  return fuse_init(env, exports);
}
EXTERN_C_END
