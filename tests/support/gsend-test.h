/* Shared support for gsend's C test programs (tests/c, tests/diff, tests/gso,
 * tests/stress, tests/preload, bench): socket pairs, loopback receivers with
 * bounded waits, batch builders, the test control-message class, GIO-versus-
 * gsend comparison and watchdogs. Header only: every helper is static inline
 * and named gt_*, so a program includes it once and pays for what it uses.
 *
 * Define GSEND_TEST_GIO_ONLY before including it in a program that must not
 * see gsend.h (tests/preload/gio-only.c); the gsend_* helpers are left out. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct ucred, recvmmsg */
#endif

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#ifndef GSEND_TEST_GIO_ONLY
#include <gsend.h>
#endif
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "../test-int-msg.h"
#include "../test-watchdog.h"

/* Socket options and flags older libc headers may lack. */
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SO_NO_CHECK
#define SO_NO_CHECK 11
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
/* GLib 2.66 (tested in the GLib matrix) has only the older name. */
#if !GLIB_CHECK_VERSION(2, 70, 0)
#define g_spawn_check_wait_status g_spawn_check_exit_status
#endif

#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* ---- registration ---------------------------------------------------------- */

/* One test of a program's table: its path and its function. */
typedef struct
{
  const char *path;
  GTestFunc func;
} GtTest;

/* Registers every test of @tests (@n of them), in order. */
static inline void
gt_add_tests (const GtTest *tests, gsize n)
{
  for (gsize i = 0; i < n; i++)
    g_test_add_func (tests[i].path, tests[i].func);
}

#define GT_ADD_TESTS(table) gt_add_tests ((table), G_N_ELEMENTS (table))

/* A test program's whole main: g_test_init, @tests registered, g_test_run. */
static inline int
gt_test_main (int *argc, char ***argv, const GtTest *tests, gsize n)
{
  g_test_init (argc, argv, NULL);
  gt_add_tests (tests, n);
  return g_test_run ();
}

/* Defines a test program's main () as gt_test_main over @table. */
#define GT_TEST_MAIN(table)                                               \
  int main (int argc, char **argv)                                        \
  {                                                                       \
    return gt_test_main (&argc, &argv, (table), G_N_ELEMENTS (table));    \
  }

/* g_test_add_data_func with the path made from @fmt. */
static inline void G_GNUC_PRINTF (3, 4)
gt_add_data_test (gconstpointer data, GTestDataFunc func, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *path = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_test_add_data_func (path, data, func);
  g_free (path);
}

/* g_test_add_data_func_full with the path made from @fmt. */
static inline void G_GNUC_PRINTF (4, 5)
gt_add_data_test_full (gpointer data, GTestDataFunc func, GDestroyNotify destroy, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *path = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_test_add_data_func_full (path, data, func, destroy);
  g_free (path);
}

/* ---- assertions ---------------------------------------------------------- */

/* @error holds @code of @domain; clears it. */
#define gt_assert_error_clear(error, domain, code) \
  G_STMT_START                                     \
  {                                                \
    g_assert_error ((error), (domain), (code));    \
    g_clear_error (&(error));                      \
  }                                                \
  G_STMT_END

/* A partial batch (docs/behaviour.md rule 3): 0 < @r < @n, the first @r
 * messages report @size bytes and the rest keep @sentinel. */
static inline void
gt_assert_partial (const GOutputMessage *m, guint n, gint r, gsize size, gsize sentinel)
{
  g_assert_cmpint (r, >=, 1);
  g_assert_cmpint (r, <, (gint) n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (m[i].bytes_sent, ==, (gint) i < r ? size : sentinel);
}

/* Every one of @n messages reports @bytes_sent. */
static inline void
gt_assert_all_sent (const GOutputMessage *m, guint n, gsize bytes_sent)
{
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (m[i].bytes_sent, ==, bytes_sent);
}

/* ---- sockets --------------------------------------------------------------- */

/* A GSocket over @fd (which it then owns). */
static inline GSocket *
gt_socket_from_fd (int fd)
{
  GError *error = NULL;
  GSocket *s = g_socket_new_from_fd (fd, &error);
  g_assert_no_error (error);
  return s;
}

/* An unbound UDP GSocket of @family (a sender). */
static inline GSocket *
gt_udp_socket (GSocketFamily family)
{
  GError *error = NULL;
  GSocket *s = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  return s;
}

/* Binds @s to an ephemeral port on the loopback address of @family
 * (127.0.0.1 or ::1). */
static inline void
gt_bind_loopback (GSocket *s, GSocketFamily family)
{
  GError *error = NULL;
  GInetAddress *lo = g_inet_address_new_loopback (family);
  GSocketAddress *a = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (s, a, FALSE, &error));
  g_assert_no_error (error);
  g_object_unref (a);
  g_object_unref (lo);
}

/* A UDP socket bound to an ephemeral port on the loopback address of
 * @family (127.0.0.1 or ::1). */
static inline GSocket *
gt_udp_bound (GSocketFamily family)
{
  GSocket *s = gt_udp_socket (family);
  gt_bind_loopback (s, family);
  return s;
}

/* Whether ::1 can be bound here (some containers have no IPv6). */
static inline gboolean
gt_have_ipv6 (void)
{
  GSocket *probe = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  GInetAddress *lo6 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  GSocketAddress *a = g_inet_socket_address_new (lo6, 0);
  gboolean ok = probe && g_socket_bind (probe, a, FALSE, NULL);
  g_object_unref (a);
  g_object_unref (lo6);
  g_clear_object (&probe);
  return ok;
}

/* Skips the running test when ::1 cannot be bound here; returns TRUE then. */
static inline gboolean
gt_skip_without_ipv6 (void)
{
  if (gt_have_ipv6 ())
    return FALSE;
  g_test_skip ("no IPv6 loopback here");
  return TRUE;
}

/* Asks for @force bytes of receive buffer on @s (SO_RCVBUFFORCE, allowed to
 * root beyond rmem_max), else for @plain bytes (SO_RCVBUF). */
static inline void
gt_rcvbuf (GSocket *s, int force, int plain)
{
  if (setsockopt (g_socket_get_fd (s), SOL_SOCKET, SO_RCVBUFFORCE, &force, sizeof force) != 0)
    setsockopt (g_socket_get_fd (s), SOL_SOCKET, SO_RCVBUF, &plain, sizeof plain);
}

/* A loopback UDP receiver with room for everything a test sends before it
 * reads: 8 MiB of receive buffer where it may be forced, else 4 MiB asked. */
static inline GSocket *
gt_udp_receiver (GSocketFamily family)
{
  GSocket *s = gt_udp_socket (family);
  gt_rcvbuf (s, 8 * 1024 * 1024, 4 * 1024 * 1024);
  gt_bind_loopback (s, family);
  return s;
}

static inline GSocketAddress *
gt_local_addr (GSocket *s)
{
  GError *error = NULL;
  GSocketAddress *a = g_socket_get_local_address (s, &error);
  g_assert_no_error (error);
  return a;
}

/* An AF_UNIX pair of @type (SOCK_DGRAM, SOCK_SEQPACKET...) as two GSockets. */
static inline void
gt_unix_pair (int type, GSocket **a, GSocket **b)
{
  int fds[2];
  g_assert_cmpint (socketpair (AF_UNIX, type, 0, fds), ==, 0);
  *a = gt_socket_from_fd (fds[0]);
  *b = gt_socket_from_fd (fds[1]);
}

/* Fills the send queue of @fd (non-blocking raw sends) with copies of the
 * @size bytes at @buf; returns how many fitted. */
static inline guint
gt_fill_queue_fd (int fd, gconstpointer buf, gsize size)
{
  guint n = 0;
  for (;;)
    {
      ssize_t r = send (fd, buf, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r < 0)
        {
          g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
          break;
        }
      n++;
      g_assert_cmpuint (n, <, 1000000);
    }
  return n;
}

/* Fills the send queue of @s with datagrams of @size zero bytes; returns
 * how many fitted. */
static inline guint
gt_fill_queue (GSocket *s, gsize size)
{
  gchar *buf = g_malloc0 (size);
  guint n = gt_fill_queue_fd (g_socket_get_fd (s), buf, size);
  g_free (buf);
  return n;
}

/* Receives @n datagrams of @size bytes from @s (blocking): room for @n more
 * in the peer's full queue. */
static inline void
gt_take (GSocket *s, guint n, gsize size)
{
  gchar *buf = g_malloc (size + 1);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (recv (g_socket_get_fd (s), buf, size + 1, 0), ==, (gssize) size);
  g_free (buf);
}

/* Drains every pending datagram from @s without blocking; returns the count. */
static inline guint
gt_drain (GSocket *s)
{
  static char buf[70000];
  guint n = 0;
  int fd = g_socket_get_fd (s);
  int type = 0;
  socklen_t len = sizeof type;
  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len), ==, 0);
  for (;;)
    {
      ssize_t r = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
      /* A stream or seqpacket peer that shut down reads as 0 forever. */
      if (r < 0 || (r == 0 && type != SOCK_DGRAM))
        break;
      n++;
      g_assert_cmpuint (n, <, 10000000);
    }
  return n;
}

/* A raw UDP socket of @family (AF_INET or AF_INET6) bound to an ephemeral
 * port of 127.0.0.1 or ::1, for receivers that read with recv/recvmmsg;
 * asks for @rcvbuf bytes of receive buffer when nonzero. Its address goes
 * to *@addr_out when not NULL. */
static inline int
gt_udp_receiver_fd (int family, int rcvbuf, GSocketAddress **addr_out)
{
  int fd = socket (family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  if (rcvbuf > 0 && setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_storage ss;
  socklen_t sl;
  memset (&ss, 0, sizeof ss);
  if (family == AF_INET6)
    {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;
      s6->sin6_family = AF_INET6;
      s6->sin6_addr = in6addr_loopback;
      sl = sizeof *s6;
    }
  else
    {
      struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;
      s4->sin_family = AF_INET;
      s4->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      sl = sizeof *s4;
    }
  g_assert_cmpint (bind (fd, (struct sockaddr *) &ss, sl), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &ss, &sl), ==, 0);
  if (addr_out != NULL)
    *addr_out = g_socket_address_new_from_native (&ss, sl);
  return fd;
}

/* ---- interposers ------------------------------------------------------------ */

/* The sendmmsg after this program's own (libc's), for programs that define
 * sendmmsg to watch what libgsend hands the kernel. */
static inline int
gt_real_sendmmsg (int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
  typedef int (*sendmmsg_fn) (int, struct mmsghdr *, unsigned int, int);
  static sendmmsg_fn real;
  if (real == NULL)
    real = (sendmmsg_fn) dlsym (RTLD_NEXT, "sendmmsg");
  return real (fd, vec, vlen, flags);
}

/* ---- receiving with bounded waits ------------------------------------------ */

/* Receives one datagram, waiting at most 5 s. Returns its length, -1 on timeout. */
static inline gssize
gt_recv_bounded (GSocket *s, gchar *buf, gsize size)
{
  GError *error = NULL;
  if (!g_socket_condition_timed_wait (s, G_IO_IN, 5 * G_USEC_PER_SEC, NULL, &error))
    {
      g_clear_error (&error);
      return -1;
    }
  gssize n = g_socket_receive_with_blocking (s, buf, size, FALSE, NULL, &error);
  g_assert_no_error (error);
  return n;
}

/* Nothing is waiting on @s (checks without blocking). */
static inline gboolean
gt_nothing_pending (GSocket *s)
{
  return (g_socket_condition_check (s, G_IO_IN) & G_IO_IN) == 0;
}

/* Receives datagrams from @fd until @max arrived or none came for @wait_ms;
 * returns them as GBytes (MSG_TRUNC ones as they were cut). */
static inline GPtrArray *
gt_recv_all_fd (int fd, guint max, int wait_ms)
{
  GPtrArray *got = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  static guint8 buf[65536];
  while (got->len < max)
    {
      struct pollfd p = { fd, POLLIN, 0 };
      int pr = poll (&p, 1, wait_ms);
      if (pr < 0 && errno == EINTR)
        continue;
      if (pr <= 0)
        break;
      ssize_t r = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r < 0)
        {
          g_assert_true (errno == EAGAIN || errno == EINTR);
          continue;
        }
      g_ptr_array_add (got, g_bytes_new (buf, (gsize) r));
    }
  return got;
}

/* ---- batches --------------------------------------------------------------- */

/* Messages of one vector each over @buf (@size bytes), bytes_sent = @sentinel. */
static inline void
gt_fill_messages (GOutputMessage *m, GOutputVector *v, guint n, gpointer buf, gsize size, GSocketAddress *address,
                  gsize sentinel)
{
  memset (m, 0, sizeof *m * n);
  for (guint i = 0; i < n; i++)
    {
      v[i].buffer = buf;
      v[i].size = size;
      m[i].address = address;
      m[i].vectors = &v[i];
      m[i].num_vectors = 1;
      m[i].bytes_sent = sentinel;
    }
}

/* The flat layout: @n messages of @per vectors each, message i using
 * v[i * per .. i * per + per), every vector @size bytes of @buf. */
static inline void
gt_fill_messages_flat (GOutputMessage *m, GOutputVector *v, guint n, guint per, gpointer buf, gsize size,
                       GSocketAddress *address, gsize sentinel)
{
  memset (m, 0, sizeof *m * n);
  for (guint i = 0; i < n; i++)
    {
      for (guint j = 0; j < per; j++)
        {
          v[i * per + j].buffer = buf;
          v[i * per + j].size = size;
        }
      m[i].address = address;
      m[i].vectors = &v[i * per];
      m[i].num_vectors = per;
      m[i].bytes_sent = sentinel;
    }
}

/* ---- threads that end waits -------------------------------------------------- */

/* A thread that waits @delay_us and then cancels. */
typedef struct
{
  GCancellable *cancellable;
  gulong delay_us;
} GtCancelLater;

static inline gpointer
gt_cancel_later_thread (gpointer data)
{
  GtCancelLater *c = data;
  g_usleep (c->delay_us);
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

/* A watchdog thread that cancels @cancellable after @delay_us unless
 * stopped first (stopping returns at once). Without a cancellable it fails
 * the test instead, naming @what: for waits a cancellable cannot end. */
typedef struct
{
  GCancellable *cancellable;
  const char *what;
  gint64 delay_us;
  gint64 deadline;
  GMutex lock;
  GCond cond;
  gboolean stop;
  GThread *thread;
} GtWatchdog;

static inline gpointer
gt_watchdog_thread (gpointer data)
{
  GtWatchdog *w = data;
  g_mutex_lock (&w->lock);
  while (!w->stop)
    if (!g_cond_wait_until (&w->cond, &w->lock, w->deadline))
      {
        if (w->cancellable == NULL)
          g_error ("watchdog: %s still running after %" G_GINT64_FORMAT " s", w->what, w->delay_us / G_USEC_PER_SEC);
        g_cancellable_cancel (w->cancellable);
        break;
      }
  g_mutex_unlock (&w->lock);
  return NULL;
}

static inline GtWatchdog *
gt_watchdog_new (GCancellable *cancellable, const char *what, gint64 delay_us)
{
  GtWatchdog *w = g_new0 (GtWatchdog, 1);
  w->cancellable = cancellable;
  w->what = what;
  w->delay_us = delay_us;
  w->deadline = g_get_monotonic_time () + delay_us;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  w->thread = g_thread_new ("watchdog", gt_watchdog_thread, w);
  return w;
}


static inline GtWatchdog *
gt_watchdog_start (GCancellable *cancellable, gint64 delay_us)
{
  return gt_watchdog_new (cancellable, NULL, delay_us);
}

static inline GtWatchdog *
gt_watchdog_start_failing (const char *what, gint64 delay_us)
{
  return gt_watchdog_new (NULL, what, delay_us);
}

static inline void
gt_watchdog_stop (GtWatchdog *w)
{
  g_mutex_lock (&w->lock);
  w->stop = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  g_thread_join (w->thread);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_free (w);
}


/* ---- gsend and its GIO twins ------------------------------------------------ */

/* One implementation of the send functions, as pointers of GIO's own types
 * (a twin must have exactly its GIO function's signature to be stored):
 * for running one case through GIO and through gsend and comparing. */
typedef struct
{
  const char *name;
  __typeof__ (&g_socket_send_messages) send_messages;
  __typeof__ (&g_datagram_based_send_messages) dgb_send_messages;
  __typeof__ (&g_socket_send_message) send_message;
  __typeof__ (&g_socket_send_message_with_timeout) send_message_with_timeout;
  __typeof__ (&g_socket_send_to) send_to;
  __typeof__ (&g_socket_send) send;
  __typeof__ (&g_socket_send_with_blocking) send_with_blocking;
} GtImpl;

static inline const GtImpl *
gt_gio_impl (void)
{
  static const GtImpl gio = {
    "GIO",
    g_socket_send_messages,
    g_datagram_based_send_messages,
    g_socket_send_message,
    g_socket_send_message_with_timeout,
    g_socket_send_to,
    g_socket_send,
    g_socket_send_with_blocking,
  };
  return &gio;
}

#ifndef GSEND_TEST_GIO_ONLY

/* gsend's twins of gt_gio_impl's functions. */
static inline const GtImpl *
gt_gsend_impl (void)
{
  static const GtImpl gsend = {
    "gsend",
    gsend_socket_send_messages,
    gsend_datagram_based_send_messages,
    gsend_socket_send_message,
    gsend_socket_send_message_with_timeout,
    gsend_socket_send_to,
    gsend_socket_send,
    gsend_socket_send_with_blocking,
  };
  return &gsend;
}

/* Checks that every send function fails on socket a, and with which
 * G_IO_ERROR code: batch_code for the *_send_messages family and
 * send_datagrams, dgb_code for gsend_datagram_based_send_messages,
 * single_code for the single-message twins; a code of -1 only asks for a
 * failure. The batch functions get m (n messages), send_message(_with_timeout)
 * v[0], the buffer functions buf/len; send_to goes to `to`,
 * send_with_blocking uses `blocking`, every call takes cancellable c.
 * Afterwards no message's bytes_sent has moved from `sentinel`. */
static inline void
gt_assert_every_twin_fails (GSocket *a, GOutputMessage *m, guint n, GOutputVector *v, gchar *buf, gsize len,
                         GSocketAddress *to, gboolean blocking, GCancellable *c, gsize sentinel,
                         gint batch_code, gint dgb_code, gint single_code)
{
  GError *error = NULL;
#define EXPECT_FAILED(call, failed, code)                         \
  do                                                              \
    {                                                             \
      g_assert_cmpint ((call), ==, (failed));                     \
      g_assert_nonnull (error);                                   \
      if ((code) >= 0)                                            \
        g_assert_error (error, G_IO_ERROR, (code));               \
      g_clear_error (&error);                                     \
    }                                                             \
  while (0)
  EXPECT_FAILED (gsend_socket_send_messages (a, m, n, 0, c, &error), -1, batch_code);
  EXPECT_FAILED (gsend_socket_send_messages_with_timeout (a, m, n, 0, 0, c, &error), -1, batch_code);
  EXPECT_FAILED (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (a), m, n, 0, -1, c, &error), -1, dgb_code);
  GBytes *d = g_bytes_new_static (buf, len);
  EXPECT_FAILED (gsend_socket_send_datagrams (a, NULL, &d, 1, 0, -1, c, &error), -1, batch_code);
  g_bytes_unref (d);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (m[i].bytes_sent, ==, sentinel);
  EXPECT_FAILED (gsend_socket_send (a, buf, len, c, &error), -1, single_code);
  EXPECT_FAILED (gsend_socket_send_to (a, to, buf, len, c, &error), -1, single_code);
  EXPECT_FAILED (gsend_socket_send_with_blocking (a, buf, len, blocking, c, &error), -1, single_code);
  EXPECT_FAILED (gsend_socket_send_message (a, NULL, v, 1, NULL, 0, 0, c, &error), -1, single_code);
  gsize written = sentinel;
  EXPECT_FAILED (gsend_socket_send_message_with_timeout (a, NULL, v, 1, NULL, 0, 0, -1, &written, c, &error),
                 G_POLLABLE_RETURN_FAILED, single_code);
#undef EXPECT_FAILED
}

#endif /* GSEND_TEST_GIO_ONLY */
