/* Shared helpers for gsend's reliability tests (tests/stress).
 *
 * Datagrams carry a header (magic, sender id, sequence number, length) and a
 * body whose bytes are a function of (id, seq, offset), so a receiver can
 * check every byte and count every datagram exactly once. */

#ifndef GSEND_STRESS_COMMON_H
#define GSEND_STRESS_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <gio/gio.h>
#include <gsend.h>

#include "gsend-test.h"

#define STRESS_MAGIC 0x67736e64u /* "gsnd" */
#define FILLER_ID 0xffffu

typedef struct
{
  guint32 magic;
  guint32 id;
  guint32 seq;
  guint32 len;
} StressHdr;

/* GSEND_STRESS_SCALE (e.g. 0.05 under valgrind) scales every workload. */
static inline double
stress_scale (void)
{
  const char *s = g_getenv ("GSEND_STRESS_SCALE");
  double v = s ? g_ascii_strtod (s, NULL) : 1.0;
  if (!(v > 0.0))
    v = 1.0;
  return v;
}

static inline guint
scaled (guint n, guint min)
{
  double v = n * stress_scale ();
  guint r = (guint) v;
  return r < min ? min : r;
}

/* Watchdog: a hang turns into a failed test, named, instead of a stuck
 * one (see ../test-watchdog.h). Scaled up under valgrind. */
static inline void
watchdog (guint seconds)
{
  test_watchdog_arm (seconds);
}

static inline guint8
body_byte (guint32 id, guint32 seq, guint32 off)
{
  return (guint8) (id * 31u + seq * 7u + off * 13u + 5u);
}

/* Fill buf (at least len bytes, len >= sizeof (StressHdr)). */
static inline void
make_payload (guint8 *buf, guint32 id, guint32 seq, guint32 len)
{
  StressHdr h = { STRESS_MAGIC, id, seq, len };
  memcpy (buf, &h, sizeof h);
  for (guint32 i = sizeof h; i < len; i++)
    buf[i] = body_byte (id, seq, i);
}

/* Per-sender table of what arrived: seen[id][seq] counts arrivals. */
typedef struct
{
  guint n_ids;
  guint max_seq;
  guint8 *seen;
  guint64 total;   /* valid datagrams from senders (not fillers) */
  guint64 dups;
  guint64 bad;     /* wrong magic, length, bytes, id or seq out of range */
  guint64 fillers;
  guint64 bytes;
} Tracker;

static inline void
tracker_init (Tracker *t, guint n_ids, guint max_seq)
{
  memset (t, 0, sizeof *t);
  t->n_ids = n_ids;
  t->max_seq = max_seq;
  t->seen = g_malloc0 ((gsize) n_ids * max_seq);
}

static inline void
tracker_clear (Tracker *t)
{
  g_free (t->seen);
  t->seen = NULL;
}

/* Check one received datagram and record it. */
static inline void
tracker_note (Tracker *t, const guint8 *buf, gsize len)
{
  StressHdr h;
  if (len < sizeof h)
    {
      t->bad++;
      return;
    }
  memcpy (&h, buf, sizeof h);
  if (h.magic != STRESS_MAGIC || h.len != len)
    {
      t->bad++;
      return;
    }
  if (h.id == FILLER_ID)
    {
      t->fillers++;
      return;
    }
  if (h.id >= t->n_ids || h.seq >= t->max_seq)
    {
      t->bad++;
      return;
    }
  for (gsize i = sizeof h; i < len; i++)
    if (buf[i] != body_byte (h.id, h.seq, (guint32) i))
      {
        t->bad++;
        return;
      }
  guint8 *s = &t->seen[(gsize) h.id * t->max_seq + h.seq];
  if (*s)
    t->dups++;
  else
    t->total++;
  if (*s < 255)
    (*s)++;
  t->bytes += len;
}

/* Number of (id, seq < counts[id]) never seen, and seen entries beyond. */
static inline void
tracker_check (Tracker *t, const guint32 *counts, guint64 *missing, guint64 *beyond)
{
  *missing = 0;
  *beyond = 0;
  for (guint id = 0; id < t->n_ids; id++)
    for (guint32 seq = 0; seq < t->max_seq; seq++)
      {
        guint8 s = t->seen[(gsize) id * t->max_seq + seq];
        if (seq < counts[id] && !s)
          (*missing)++;
        else if (seq >= counts[id] && s)
          (*beyond)++;
      }
}

/* Every datagram arrived exactly once and intact: nothing bad, duplicated,
 * missing (@missing) or beyond what was sent (@beyond). */
static inline void
tracker_assert_exact (const Tracker *t, guint64 missing, guint64 beyond)
{
  g_assert_cmpuint (t->bad, ==, 0);
  g_assert_cmpuint (t->dups, ==, 0);
  g_assert_cmpuint (missing, ==, 0);
  g_assert_cmpuint (beyond, ==, 0);
}

/* The end of a UDP case: the tracker, the socket, its destination and the
 * receiving descriptor go, and the watchdog is disarmed. */
static inline void
udp_case_end (Tracker *t, GSocket *s, GSocketAddress *addr, int rfd)
{
  tracker_clear (t);
  g_object_unref (s);
  g_object_unref (addr);
  close (rfd);
  alarm (0);
}

/* g_test_init, and a peer that went away is an error, not a signal. */
static inline void
stress_test_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, NULL);
  signal (SIGPIPE, SIG_IGN);
}

/* A stress program's whole main: stress_test_init, @table registered,
 * g_test_run. */
#define STRESS_TEST_MAIN(table)        \
  int main (int argc, char **argv)     \
  {                                    \
    stress_test_init (&argc, &argv);   \
    GT_ADD_TESTS (table);              \
    return g_test_run ();              \
  }

/* Non-blocking raw send of filler datagrams until the queue is full. */
static inline guint
fill_socket (int fd, guint32 len)
{
  guint8 buf[2048];
  g_assert_cmpuint (len, <=, sizeof buf);
  make_payload (buf, FILLER_ID, 0, len);
  return gt_fill_queue_fd (fd, buf, len);
}

/* An AF_UNIX datagram pair: fds[0] wrapped as a blocking GSocket (sender),
 * fds[1] left raw (receiver). */
static inline GSocket *
unix_pair_of_type (int type, int *recv_fd)
{
  int fds[2];
  GError *error = NULL;
  g_assert_cmpint (socketpair (AF_UNIX, type | SOCK_CLOEXEC, 0, fds), ==, 0);
  GSocket *s = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  g_socket_set_blocking (s, TRUE);
  *recv_fd = fds[1];
  return s;
}

static inline GSocket *
unix_pair (int *recv_fd)
{
  return unix_pair_of_type (SOCK_DGRAM, recv_fd);
}

/* One receive round: wait up to wait_ms for data, then read up to vlen
 * datagrams without blocking. Returns datagrams read (0: nothing came). */
static inline int
receive_round (int fd, Tracker *t, int wait_ms, int vlen)
{
  enum { VLEN = 64, BUFSZ = 2048 };
  static __thread guint8 bufs[VLEN][BUFSZ];
  struct mmsghdr mm[VLEN];
  struct iovec iov[VLEN];
  if (vlen > VLEN)
    vlen = VLEN;
  for (;;)
    {
      struct pollfd p = { fd, POLLIN, 0 };
      int pr = poll (&p, 1, wait_ms);
      if (pr < 0 && errno == EINTR)
        continue;
      if (pr <= 0)
        return 0;
      memset (mm, 0, sizeof mm);
      for (int i = 0; i < vlen; i++)
        {
          iov[i].iov_base = bufs[i];
          iov[i].iov_len = BUFSZ;
          mm[i].msg_hdr.msg_iov = &iov[i];
          mm[i].msg_hdr.msg_iovlen = 1;
        }
      int r = recvmmsg (fd, mm, vlen, MSG_DONTWAIT, NULL);
      if (r < 0)
        {
          if (errno == EINTR || errno == EAGAIN)
            continue;
          g_error ("recvmmsg: %s", g_strerror (errno));
        }
      for (int i = 0; i < r; i++)
        {
          if (mm[i].msg_hdr.msg_flags & MSG_TRUNC)
            t->bad++;
          else
            tracker_note (t, bufs[i], mm[i].msg_len);
        }
      return r;
    }
}

/* Read everything available from fd, waiting up to wait_ms for more after
 * the last datagram. Returns datagrams read. */
static inline guint64
drain_into (int fd, Tracker *t, int wait_ms)
{
  guint64 got = 0;
  int r;
  while ((r = receive_round (fd, t, wait_ms, 64)) > 0)
    got += (guint) r;
  return got;
}

/* Number of open descriptors of this process. */
static inline guint
count_fds (void)
{
  GDir *d = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;
  g_assert_nonnull (d);
  while (g_dir_read_name (d))
    n++;
  g_dir_close (d);
  return n - 1; /* the directory's own descriptor */
}

#endif
