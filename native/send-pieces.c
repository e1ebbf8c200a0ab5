// sendPieces: writes an HTTP body made of held bytes and file ranges to a socket, the file
// ranges with sendfile(2), so their bytes go from the page cache to the socket without
// being copied through user space (what nginx's `sendfile on` does). Linux only.
//
// sendPieces(socketFd, pieces, timeoutMs, callback(error, sent))
//   pieces: an array of Uint8Array (bytes written as they are) or [fd, offset, length]
//   (a file range). Runs on libuv's thread pool, so the kernel's work (the page cache, and
//   on loopback the receiving side's TCP too) spreads over the pool's threads.
//
//   The socket descriptor is duplicated before the call returns: if Node closes its own
//   (a client that went away) and the number is reused, this job still writes only to the
//   connection it was given. File descriptors are used as given: the caller keeps them
//   open until the callback. The socket is non-blocking (Node's); when it is full the job
//   waits in poll(2), up to timeoutMs without progress, then fails ETIMEDOUT. A file that
//   ends before its range does fails ENODATA: never fewer bytes in silence.
//   The callback gets (null, bytes) or (Error with .code, bytes sent before the failure).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;             // a file descriptor, or -1 for held bytes
  int64_t offset;
  int64_t length;
  const uint8_t* data;
  napi_ref ref;       // keeps the bytes' buffer alive while the worker uses them
} Piece;

typedef struct {
  int sock;           // our duplicate of the socket
  int timeout_ms;
  size_t count;
  Piece* pieces;
  int64_t sent;
  int error;          // errno of the failure, 0 on success
  napi_ref callback;
  napi_async_work work;
} Job;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits until the socket takes more bytes; 0, or an errno.
static int wait_writable(int sock, int timeout_ms, int64_t since) {
  for (;;) {
    int64_t left = (int64_t)timeout_ms - (now_ms() - since);
    if (left <= 0) return ETIMEDOUT;
    struct pollfd p = {.fd = sock, .events = POLLOUT, .revents = 0};
    int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) continue;
    if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) && !(p.revents & POLLOUT)) {
      return p.revents & POLLNVAL ? EBADF : EPIPE;
    }
    return 0;  // writable (an error, if any, is reported by the next write)
  }
}

static void execute(napi_env env, void* data) {
  Job* job = (Job*)data;
  int64_t progress = now_ms();
  for (size_t i = 0; i < job->count && job->error == 0; i++) {
    Piece* p = &job->pieces[i];
    int64_t done = 0;
    while (done < p->length) {
      ssize_t n;
      int64_t want = p->length - done;
      if (want > (1 << 30)) want = 1 << 30;
      if (p->fd < 0) {
        n = write(job->sock, p->data + done, (size_t)want);
      } else {
        off_t at = (off_t)(p->offset + done);
        n = sendfile(job->sock, p->fd, &at, (size_t)want);
        if (n == 0) {
          job->error = ENODATA;  // the file ended before the range did
          break;
        }
      }
      if (n > 0) {
        done += n;
        job->sent += n;
        progress = now_ms();
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int e = wait_writable(job->sock, job->timeout_ms, progress);
        if (e != 0) {
          job->error = e;
          break;
        }
        continue;
      }
      job->error = errno;
      break;
    }
  }
}

static void release(napi_env env, Job* job) {
  if (job->sock >= 0) close(job->sock);
  for (size_t i = 0; i < job->count; i++) {
    if (job->pieces[i].ref != NULL) napi_delete_reference(env, job->pieces[i].ref);
  }
  free(job->pieces);
  if (job->callback != NULL) napi_delete_reference(env, job->callback);
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job);
}

static const char* errno_name(int e) {
  switch (e) {
    case ENODATA: return "ENODATA";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    case EBADF: return "EBADF";
    case ECANCELED: return "ECANCELED";
    default: return "EIO";
  }
}

static void complete(napi_env env, napi_status status, void* data) {
  Job* job = (Job*)data;
  napi_value cb, global, argv[2];
  napi_get_reference_value(env, job->callback, &cb);
  napi_get_global(env, &global);
  if (job->error == 0 && status == napi_ok) {
    napi_get_null(env, &argv[0]);
  } else {
    int e = job->error != 0 ? job->error : ECANCELED;
    napi_value code, message;
    napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &argv[0]);
  }
  napi_create_int64(env, job->sent, &argv[1]);
  release(env, job);
  napi_call_function(env, global, cb, 2, argv, NULL);
}

static int get_fd(napi_env env, napi_value v, int* out) {
  int32_t fd;
  if (napi_get_value_int32(env, v, &fd) != napi_ok || fd < 0) {
    napi_throw_error(env, "EBADF", "bad descriptor");
    return -1;
  }
  *out = fd;
  return 0;
}

#define CHECK(call)                                     \
  do {                                                  \
    if ((call) != napi_ok) {                            \
      napi_throw_error(env, "EINVAL", #call " failed"); \
      return -1;                                        \
    }                                                   \
  } while (0)

// Reads the pieces array into out[count]; byte pieces are referenced so they outlive the call.
static int read_pieces(napi_env env, napi_value array, Piece* out, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    bool typed;
    Piece* p = &out[i];
    p->fd = -1;
    CHECK(napi_get_element(env, array, i, &item));
    CHECK(napi_is_typedarray(env, item, &typed));
    if (typed) {
      napi_typedarray_type type;
      size_t length, byte_offset;
      void* data;
      napi_value buffer;
      CHECK(napi_get_typedarray_info(env, item, &type, &length, &data, &buffer, &byte_offset));
      if (type != napi_uint8_array) {
        napi_throw_type_error(env, "EINVAL", "byte pieces must be Uint8Array");
        return -1;
      }
      p->data = (const uint8_t*)data;
      p->length = (int64_t)length;
      CHECK(napi_create_reference(env, item, 1, &p->ref));
      continue;
    }
    napi_value fd, offset, length;
    CHECK(napi_get_element(env, item, 0, &fd));
    CHECK(napi_get_element(env, item, 1, &offset));
    CHECK(napi_get_element(env, item, 2, &length));
    CHECK(napi_get_value_int64(env, offset, &p->offset));
    CHECK(napi_get_value_int64(env, length, &p->length));
    if (p->offset < 0 || p->length < 0) {
      napi_throw_range_error(env, "EINVAL", "negative offset or length");
      return -1;
    }
    if (get_fd(env, fd, &p->fd) != 0) return -1;
  }
  return 0;
}

static napi_value send_pieces(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t count;
  napi_value name;
  int sock;
  Job* job = calloc(1, sizeof(Job));
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  job->sock = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_array_length(env, argv[1], &count) != napi_ok ||
      napi_get_value_int32(env, argv[2], &job->timeout_ms) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "sendPieces(socketFd, pieces, timeoutMs, callback)");
    goto fail;
  }
  if (get_fd(env, argv[0], &sock) != 0) goto fail;
  job->sock = fcntl(sock, F_DUPFD_CLOEXEC, 3);
  if (job->sock < 0) {
    napi_throw_error(env, "EBADF", "cannot duplicate the socket descriptor");
    goto fail;
  }
  job->pieces = calloc(count == 0 ? 1 : count, sizeof(Piece));
  if (job->pieces == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    goto fail;
  }
  job->count = count;
  if (read_pieces(env, argv[1], job->pieces, count) != 0) goto fail;
  if (napi_create_reference(env, argv[3], 1, &job->callback) != napi_ok ||
      napi_create_string_utf8(env, "vvf.sendPieces", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_throw_error(env, "EINVAL", "cannot queue the send");
    goto fail;
  }
  return NULL;
fail:
  release(env, job);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "sendPieces", NAPI_AUTO_LENGTH, send_pieces, NULL, &fn);
  napi_set_named_property(env, exports, "sendPieces", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
