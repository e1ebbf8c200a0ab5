// The FUSE face's system calls: mount(2)/umount2(2) for root, a socketpair and an
// SCM_RIGHTS receive for fusermount3's _FUSE_COMMFD hand-over, a thread that reads
// requests off /dev/fuse and posts them to the JS thread, and a zero-copy READ reply
// (vmsplice the header and held bytes, splice file ranges, all through one pipe into
// /dev/fuse, which the kernel takes as one write: fuse_dev_splice_write). Linux only.
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
#include <sys/uio.h>
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

// --- the request reader ----------------------------------------------------------------

// A thread blocked in read(2) on /dev/fuse, waking for each request and posting a copy of
// it to the JS thread. poll(2) on the device and an eventfd lets stopReader end it
// without waiting for a request (close(2) would not wake a read already blocked).
typedef struct {
  int fd;
  int stop_fd;
  size_t buf_size;
  uint8_t* buf;
  pthread_t thread;
  int started;
  int joined;
  napi_threadsafe_function tsfn;
} Reader;

typedef struct {
  uint8_t* data;
  size_t len;
  int err;  // 0, or the errno that ended the reader
} Message;

static void free_bytes(napi_env env, void* data, void* hint) { free(data); }

static void deliver(napi_env env, napi_value cb, void* context, void* data) {
  Message* m = (Message*)data;
  if (env == NULL) {
    free(m->data);
    free(m);
    return;
  }
  napi_value argv[2], global;
  napi_get_global(env, &global);
  if (m->err == 0) {
    if (napi_create_external_buffer(env, m->len, m->data, free_bytes, NULL, &argv[0]) != napi_ok) {
      // Where external buffers are refused, copy.
      void* copy;
      napi_create_buffer_copy(env, m->len, m->data, &copy, &argv[0]);
      free(m->data);
    }
    napi_get_null(env, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_int32(env, m->err, &argv[1]);
  }
  free(m);
  napi_call_function(env, global, cb, 2, argv, NULL);
}

static void post(Reader* r, uint8_t* data, size_t len, int err) {
  Message* m = (Message*)malloc(sizeof(Message));
  if (m == NULL) {
    free(data);
    return;
  }
  m->data = data;
  m->len = len;
  m->err = err;
  if (napi_call_threadsafe_function(r->tsfn, m, napi_tsfn_blocking) != napi_ok) {
    free(data);
    free(m);
  }
}

static void* read_loop(void* arg) {
  Reader* r = (Reader*)arg;
  for (;;) {
    struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN, .revents = 0}, {.fd = r->stop_fd, .events = POLLIN, .revents = 0}};
    int pr = poll(p, 2, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      post(r, NULL, 0, errno);
      break;
    }
    if (p[1].revents != 0) break;
    if (p[0].revents == 0) continue;
    ssize_t n = read(r->fd, r->buf, r->buf_size);
    if (n < 0) {
      // ENOENT: the request was interrupted before we read it; EAGAIN: another reader took it.
      if (errno == EINTR || errno == EAGAIN || errno == ENOENT) continue;
      post(r, NULL, 0, errno);  // ENODEV once unmounted or aborted
      break;
    }
    uint8_t* copy = (uint8_t*)malloc(n > 0 ? (size_t)n : 1);
    if (copy == NULL) {
      post(r, NULL, 0, ENOMEM);
      break;
    }
    memcpy(copy, r->buf, (size_t)n);
    post(r, copy, (size_t)n, 0);
  }
  napi_release_threadsafe_function(r->tsfn, napi_tsfn_release);
  return NULL;
}

static void join_reader(Reader* r) {
  if (!r->started || r->joined) return;
  uint64_t one = 1;
  ssize_t w = write(r->stop_fd, &one, sizeof one);
  (void)w;
  pthread_join(r->thread, NULL);
  r->joined = 1;
}

static void finalize_reader(napi_env env, void* data, void* hint) {
  Reader* r = (Reader*)data;
  join_reader(r);
  close(r->stop_fd);
  free(r->buf);
  free(r);
}

// startReader(fd, bufferSize, callback(request: Buffer | null, errno: number | null)) → handle
static napi_value start_reader(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint32_t size = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_uint32(env, argv[1], &size) != napi_ok ||
      size < 8192) {
    napi_throw_type_error(env, NULL, "startReader(fd, bufferSize >= 8192, callback)");
    return NULL;
  }
  Reader* r = (Reader*)calloc(1, sizeof(Reader));
  if (r == NULL) return throw_errno(env, ENOMEM, "startReader");
  r->fd = fd;
  r->buf_size = size;
  r->buf = (uint8_t*)malloc(size);
  r->stop_fd = eventfd(0, EFD_CLOEXEC);
  if (r->buf == NULL || r->stop_fd < 0) {
    int e = r->buf == NULL ? ENOMEM : errno;
    if (r->stop_fd >= 0) close(r->stop_fd);
    free(r->buf);
    free(r);
    return throw_errno(env, e, "startReader");
  }
  napi_value name;
  napi_create_string_utf8(env, "vvf-fuse-reader", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, deliver, &r->tsfn) != napi_ok) {
    close(r->stop_fd);
    free(r->buf);
    free(r);
    return throw_errno(env, EINVAL, "napi_create_threadsafe_function");
  }
  int e = pthread_create(&r->thread, NULL, read_loop, r);
  if (e != 0) {
    napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
    close(r->stop_fd);
    free(r->buf);
    free(r);
    return throw_errno(env, e, "pthread_create");
  }
  r->started = 1;
  napi_value handle;
  napi_create_external(env, r, finalize_reader, NULL, &handle);
  return handle;
}

// stopReader(handle): ends the thread; no callback runs for requests read after this.
static napi_value stop_reader(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Reader* r = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void**)&r) != napi_ok || r == NULL) {
    napi_throw_type_error(env, NULL, "stopReader(handle)");
    return NULL;
  }
  join_reader(r);
  return NULL;
}

// --- the zero-copy READ reply ------------------------------------------------------------

// spliceReply(fuseFd, pipeRead, pipeWrite, pieces, callback(error)): pieces are Uint8Arrays
// (the reply header first) or [fd, offset, length] file ranges. Runs on the thread pool:
// a cold file range waits for the disk. The pipe must be empty and hold the whole reply
// (F_SETPIPE_SZ): /dev/fuse takes a reply from a pipe only as one complete message.
// Filling the pipe never blocks (SPLICE_F_NONBLOCK; a file read may still wait for the
// disk): a reply that needs more pipe slots than there are (a slot per page or part of a
// page) fails EAGAIN with nothing written to /dev/fuse, and the caller copies instead.
typedef struct {
  int fuse_fd;
  int pipe_r;
  int pipe_w;
  size_t count;
  int* fds;
  int64_t* offsets;
  int64_t* lengths;
  const uint8_t** data;
  napi_ref* refs;
  int64_t total;
  int error;
  napi_ref callback;
  napi_async_work work;
} SpliceJob;

static void drain_pipe(int fd) {
  char sink[65536];
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  while (read(fd, sink, sizeof sink) > 0) {
  }
  fcntl(fd, F_SETFL, flags);
}

static void splice_execute(napi_env env, void* data) {
  SpliceJob* j = (SpliceJob*)data;
  int64_t in_pipe = 0;
  for (size_t i = 0; i < j->count && j->error == 0; i++) {
    int64_t done = 0;
    while (done < j->lengths[i]) {
      ssize_t n;
      if (j->fds[i] < 0) {
        // The bytes are copied into the pipe (no SPLICE_F_GIFT): JS may reuse the buffer afterwards.
        struct iovec iov = {.iov_base = (void*)(j->data[i] + done), .iov_len = (size_t)(j->lengths[i] - done)};
        n = vmsplice(j->pipe_w, &iov, 1, SPLICE_F_NONBLOCK);
      } else {
        loff_t at = (loff_t)(j->offsets[i] + done);
        n = splice(j->fds[i], &at, j->pipe_w, NULL, (size_t)(j->lengths[i] - done), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0) {
          j->error = ENODATA;  // the file ended before the range did: never a short reply
          break;
        }
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        j->error = errno;
        break;
      }
      done += n;
      in_pipe += n;
    }
  }
  if (j->error == 0 && in_pipe != j->total) j->error = EIO;
  if (j->error == 0) {
    ssize_t n;
    do {
      n = splice(j->pipe_r, NULL, j->fuse_fd, NULL, (size_t)j->total, SPLICE_F_MOVE);
    } while (n < 0 && errno == EINTR);
    if (n < 0) j->error = errno;
    else if (n != j->total) j->error = EIO;
  }
  // A failed reply leaves bytes in the pipe; the next reply must start on an empty one.
  if (j->error != 0) drain_pipe(j->pipe_r);
}

static void splice_complete(napi_env env, napi_status status, void* data) {
  SpliceJob* j = (SpliceJob*)data;
  napi_value cb, global, argv[1];
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  if (j->error == 0 && status == napi_ok) napi_get_null(env, &argv[0]);
  else argv[0] = make_errno_error(env, j->error != 0 ? j->error : ECANCELED, "splice reply");
  for (size_t i = 0; i < j->count; i++) {
    if (j->refs[i] != NULL) napi_delete_reference(env, j->refs[i]);
  }
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free(j->fds);
  free(j->offsets);
  free(j->lengths);
  free(j->data);
  free(j->refs);
  free(j);
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
  j->count = count;
  j->fds = (int*)calloc(count + 1, sizeof(int));
  j->offsets = (int64_t*)calloc(count + 1, sizeof(int64_t));
  j->lengths = (int64_t*)calloc(count + 1, sizeof(int64_t));
  j->data = (const uint8_t**)calloc(count + 1, sizeof(uint8_t*));
  j->refs = (napi_ref*)calloc(count + 1, sizeof(napi_ref));
  if (!j->fds || !j->offsets || !j->lengths || !j->data || !j->refs) goto nomem;
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    napi_get_element(env, argv[3], i, &el);
    bool typed = false;
    napi_is_typedarray(env, el, &typed);
    if (typed) {
      napi_typedarray_type type;
      size_t length;
      void* bytes;
      napi_get_typedarray_info(env, el, &type, &length, &bytes, NULL, NULL);
      if (type != napi_uint8_array) goto bad;
      j->fds[i] = -1;
      j->data[i] = (const uint8_t*)bytes;
      j->lengths[i] = (int64_t)length;
      napi_create_reference(env, el, 1, &j->refs[i]);
    } else {
      napi_value v;
      int32_t fd;
      int64_t off, len;
      if (napi_get_element(env, el, 0, &v) != napi_ok || napi_get_value_int32(env, v, &fd) != napi_ok) goto bad;
      if (napi_get_element(env, el, 1, &v) != napi_ok || napi_get_value_int64(env, v, &off) != napi_ok) goto bad;
      if (napi_get_element(env, el, 2, &v) != napi_ok || napi_get_value_int64(env, v, &len) != napi_ok) goto bad;
      if (fd < 0 || off < 0 || len < 0) goto bad;
      j->fds[i] = fd;
      j->offsets[i] = off;
      j->lengths[i] = len;
    }
    j->total += j->lengths[i];
  }
  napi_create_reference(env, argv[4], 1, &j->callback);
  napi_value name;
  napi_create_string_utf8(env, "vvf-fuse-splice", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, splice_execute, splice_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return NULL;
bad:
  napi_throw_type_error(env, NULL, "spliceReply: a piece is a Uint8Array or [fd, offset, length]");
nomem:
  for (uint32_t i = 0; i < count && j->refs != NULL; i++) {
    if (j->refs[i] != NULL) napi_delete_reference(env, j->refs[i]);
  }
  free(j->fds);
  free(j->offsets);
  free(j->lengths);
  free(j->data);
  free(j->refs);
  free(j);
  return NULL;
}

// replyPipe(bytes) → [read, write]: a pipe that holds `bytes` (F_SETPIPE_SZ), close-on-exec.
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
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, errno, "pipe2");
  int got = fcntl(fds[1], F_SETPIPE_SZ, (int)bytes);
  if (got < 0 || (uint32_t)got < bytes) {
    int e = got < 0 ? errno : ENOMEM;
    close(fds[0]);
    close(fds[1]);
    return throw_errno(env, e, "F_SETPIPE_SZ");
  }
  return fd_pair(env, fds);
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
