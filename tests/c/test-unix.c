/* AF_UNIX datagram socketpairs: full queues, blocking, timeouts,
 * cancellation, closed sockets, flags (rules 2-7, 11). */
#include "gsend-test.h"
#include <signal.h>
#include <pthread.h>

#define DGRAM 4096
#define N 20
#define SENTINEL 777777

/* Declares what most tests here start from: an AF_UNIX datagram pair a → b
 * whose queue was filled (`filled` datagrams) and then given room for
 * @room, `error`, and a batch m/v of N messages of DGRAM bytes of `buf`
 * (bytes_sent SENTINEL). */
#define FULL_PAIR_AND_BATCH(room)                            \
  GSocket *a, *b;                                            \
  GError *error = NULL;                                      \
  gt_unix_pair (SOCK_DGRAM, &a, &b);                         \
  guint filled = gt_fill_queue (a, DGRAM);                   \
  gt_take (b, (room), DGRAM);                                \
  static gchar buf[DGRAM];                                   \
  GOutputMessage m[N];                                       \
  GOutputVector v[N];                                        \
  gt_fill_messages (m, v, N, buf, DGRAM, NULL, SENTINEL)

/* The end of a partial send: the first @r of N messages went (bytes_sent
 * DGRAM, the rest SENTINEL), and b holds them after the @queued datagrams
 * that were there before; then the pair goes. */
static void
assert_partial_and_free (GSocket *a, GSocket *b, GOutputMessage *m, gint r, guint queued)
{
  gt_assert_partial (m, N, r, DGRAM, SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, queued + r);

  g_object_unref (a);
  g_object_unref (b);
}

/* In a subprocess: an AF_UNIX stream pair whose a end is shut down for
 * writing, with SIGPIPE's default action (terminate) restored. */
static void
stream_pair_sigpipe_deadly (GSocket **a, GSocket **b)
{
  gt_unix_pair (SOCK_STREAM, a, b);
  g_assert_cmpint (shutdown (g_socket_get_fd (*a), SHUT_WR), ==, 0);
  signal (SIGPIPE, SIG_DFL);
}

/* rule 3: timeout 0 on a full socket: WOULD_BLOCK, nothing sent, bytes_sent untouched. */
static void
test_rule03_full_timeout0_would_block (void)
{
  FULL_PAIR_AND_BATCH (0);
  g_assert_cmpuint (filled, >, 0);
  gint r = gsend_socket_send_messages_with_timeout (a, m, N, 0, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpint (r, ==, -1);
  g_clear_error (&error);
  gt_assert_all_sent (m, N, SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, filled);

  g_object_unref (a);
  g_object_unref (b);
}

/* rules 3 and 7: timeout 0 with room for a few: the count, bytes_sent set
 * exactly for those, the receiver gets exactly those. */
static void
test_rule03_partial_count (void)
{
  FULL_PAIR_AND_BATCH (2);
  memset (buf, 'p', sizeof buf);
  gint r = gsend_socket_send_messages_with_timeout (a, m, N, 0, 0, NULL, &error);
  g_assert_no_error (error);
  assert_partial_and_free (a, b, m, r, filled - 2);
}

/* rule 2: a non-blocking socket through the twins without a timeout
 * argument: WOULD_BLOCK when full, the count when some fit. */
static void
test_rule02_nonblocking_socket (void)
{
  FULL_PAIR_AND_BATCH (0);
  g_socket_set_blocking (a, FALSE);
  g_assert_cmpint (gsend_socket_send_messages (a, m, N, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (a), m, N, 0, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpint (gsend_socket_send (a, buf, DGRAM, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpint (gsend_socket_send_to (a, NULL, buf, DGRAM, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpint (gsend_socket_send_message (a, NULL, v, 1, NULL, 0, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  /* A blocking socket asked not to block. */
  g_socket_set_blocking (a, TRUE);
  g_assert_cmpint (gsend_socket_send_with_blocking (a, buf, DGRAM, FALSE, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  gsize written = SENTINEL;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (a, NULL, v, 1, NULL, 0, 0, 0, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_WOULD_BLOCK);
  g_assert_no_error (error);
  g_socket_set_blocking (a, FALSE);
  gt_assert_all_sent (m, N, SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, filled);

  /* Now room for a few. */
  filled = gt_fill_queue (a, DGRAM);
  gt_take (b, 2, DGRAM);
  gint r = gsend_socket_send_messages (a, m, N, 0, NULL, &error);
  g_assert_no_error (error);
  assert_partial_and_free (a, b, m, r, filled - 2);
}

/* rule 4: a positive timeout on a full socket: TIMED_OUT, not before the deadline. */
static void
test_rule04_timeout_expires (void)
{
  FULL_PAIR_AND_BATCH (0);
  const gint64 timeout = 200 * 1000;
  gint64 t0 = g_get_monotonic_time ();
  gint r = gsend_socket_send_messages_with_timeout (a, m, N, 0, timeout, NULL, &error);
  gint64 elapsed = g_get_monotonic_time () - t0;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (r, ==, -1);
  g_clear_error (&error);
  g_assert_cmpint (elapsed, >=, timeout);
  g_assert_cmpint (elapsed, <, 30 * G_USEC_PER_SEC);
  gt_assert_all_sent (m, N, SENTINEL);

  /* The single-message twin with a timeout. */
  gsize written = SENTINEL;
  t0 = g_get_monotonic_time ();
  GPollableReturn pr = gsend_socket_send_message_with_timeout (a, NULL, v, 1, NULL, 0, 0, timeout, &written, NULL, &error);
  elapsed = g_get_monotonic_time () - t0;
  g_assert_cmpint (pr, ==, G_POLLABLE_RETURN_FAILED);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed, >=, timeout);
  g_assert_cmpint (elapsed, <, 30 * G_USEC_PER_SEC);

  /* GBytes batch. */
  GBytes *d = g_bytes_new_static (buf, DGRAM);
  GBytes *ds[3] = { d, d, d };
  t0 = g_get_monotonic_time ();
  r = gsend_socket_send_datagrams (a, NULL, ds, 3, 0, timeout, NULL, &error);
  elapsed = g_get_monotonic_time () - t0;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (r, ==, -1);
  g_clear_error (&error);
  g_assert_cmpint (elapsed, >=, timeout);
  g_bytes_unref (d);

  g_assert_cmpuint (gt_drain (b), ==, filled);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 4: a positive timeout with room for a few: the count, no error. */
static void
test_rule04_timeout_partial (void)
{
  FULL_PAIR_AND_BATCH (1);
  const gint64 timeout = 100 * 1000;
  gint64 t0 = g_get_monotonic_time ();
  gint r = gsend_socket_send_messages_with_timeout (a, m, N, 0, timeout, NULL, &error);
  gint64 elapsed = g_get_monotonic_time () - t0;
  g_assert_no_error (error);
  g_assert_cmpint (r, >=, 1);
  g_assert_cmpint (r, <, N);
  /* It waited for the rest until the deadline. */
  g_assert_cmpint (elapsed, >=, timeout);
  for (int i = 0; i < N; i++)
    g_assert_cmpuint (m[i].bytes_sent, ==, i < r ? DGRAM : SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, filled - 1 + r);
  g_object_unref (a);
  g_object_unref (b);
}


/* rule 4: one deadline from the start of the call. A reader makes room
 * part-way through (enough for poll to report the socket writable again:
 * an AF_UNIX datagram socket is writable only when at most a quarter of its
 * send buffer is in use); the call sends what fits and then waits only for
 * what is left of the original timeout, not for a fresh one. */
typedef struct
{
  GSocket *sock;
  gulong delay_us;
  guint count;
} DrainLater;

static gpointer
drain_later (gpointer data)
{
  DrainLater *d = data;
  g_usleep (d->delay_us);
  gchar buf[DGRAM];
  for (guint i = 0; i < d->count; i++)
    g_assert_cmpint (recv (g_socket_get_fd (d->sock), buf, sizeof buf, 0), ==, DGRAM);
  return NULL;
}

static void
test_rule04_one_deadline (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  guint filled = gt_fill_queue (a, DGRAM);
  static gchar buf[DGRAM];
  guint n = filled * 3;
  GOutputMessage *m = g_new (GOutputMessage, n);
  GOutputVector *v = g_new (GOutputVector, n);
  gt_fill_messages (m, v, n, buf, DGRAM, NULL, SENTINEL);
  const gint64 timeout = 2 * G_USEC_PER_SEC;
  DrainLater d = { b, 1500 * 1000, filled - filled / 8 };
  GThread *t = g_thread_new ("drain-later", drain_later, &d);
  gint64 t0 = g_get_monotonic_time ();
  gint r = gsend_socket_send_messages_with_timeout (a, m, n, 0, timeout, NULL, &error);
  gint64 elapsed = g_get_monotonic_time () - t0;
  g_thread_join (t);
  g_assert_no_error (error);
  g_assert_cmpint (r, >=, 1);
  g_assert_cmpint (r, <, (gint) n);
  g_assert_cmpint (elapsed, >=, timeout);
  /* A timer restarted after the progress at 1.5 s would end at 3.5 s. */
  g_assert_cmpint (elapsed, <, timeout + 1300 * 1000);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (m[i].bytes_sent, ==, i < (guint) r ? DGRAM : SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, filled - d.count + r);
  g_free (m);
  g_free (v);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 7: on a stream socket the kernel may take part of a message: its
 * bytes_sent says how much, and it counts as sent. */
static void
test_rule07_stream_partial_bytes_sent (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_STREAM, &a, &b);
  const gsize big = 8 * 1024 * 1024;
  gchar *data = g_malloc0 (big);
  GOutputMessage m[2];
  GOutputVector v[2];
  gt_fill_messages (m, v, 2, data, big, NULL, SENTINEL);
  gint r = gsend_socket_send_messages_with_timeout (a, m, 2, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, 1);
  g_assert_cmpuint (m[0].bytes_sent, >, 0);
  g_assert_cmpuint (m[0].bytes_sent, <, big);
  g_assert_cmpuint (m[1].bytes_sent, ==, SENTINEL);
  /* The receiver has exactly that many bytes. */
  gsize total = 0;
  gchar *rb = g_malloc (65536);
  ssize_t n;
  while ((n = recv (g_socket_get_fd (b), rb, 65536, MSG_DONTWAIT)) > 0)
    total += n;
  g_assert_cmpuint (total, ==, m[0].bytes_sent);
  g_free (rb);
  g_free (data);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 2 (as GIO): a socket timeout (g_socket_set_timeout) bounds every
 * wait of the functions that honour it. The calls of the two tests below,
 * by number: 0-4 have no timeout argument (the socket's blocking flag
 * applies), 5-9 a timeout argument of -1 or longer. Each is made on the
 * full socket @a with cancellable @c. (gsend_datagram_based_send_messages
 * refuses a socket with a timeout, see test-datagram-based.c.) */
enum { SOCKET_TIMEOUT_PLAIN = 5, SOCKET_TIMEOUT_CALLS = 10 };

static const char *const socket_timeout_names[SOCKET_TIMEOUT_CALLS] = {
  "send_messages", "send", "send_to", "send_message", "send_with_blocking (TRUE)",
  "send_messages_with_timeout (-1)", "send_messages_with_timeout (30 s)", "send_message_with_timeout (-1)",
  "send_datagrams (-1)", "send_datagrams (30 s)",
};

static gint64
socket_timeout_call (guint k, GSocket *a, GOutputMessage *m, GOutputVector *v, gchar *buf, GCancellable *c,
                     GError **error)
{
  GBytes *d = g_bytes_new_static (buf, DGRAM);
  gsize written = SENTINEL;
  gint64 r;
  switch (k)
    {
    case 0:
      r = gsend_socket_send_messages (a, m, N, 0, c, error);
      break;
    case 1:
      r = gsend_socket_send (a, buf, DGRAM, c, error);
      break;
    case 2:
      r = gsend_socket_send_to (a, NULL, buf, DGRAM, c, error);
      break;
    case 3:
      r = gsend_socket_send_message (a, NULL, v, 1, NULL, 0, 0, c, error);
      break;
    case 4:
      r = gsend_socket_send_with_blocking (a, buf, DGRAM, TRUE, c, error);
      break;
    case 5:
      r = gsend_socket_send_messages_with_timeout (a, m, N, 0, -1, c, error);
      break;
    case 6:
      r = gsend_socket_send_messages_with_timeout (a, m, N, 0, 30 * G_USEC_PER_SEC, c, error);
      break;
    case 7:
      r = gsend_socket_send_message_with_timeout (a, NULL, v, 1, NULL, 0, 0, -1, &written, c, error)
          == G_POLLABLE_RETURN_FAILED ? -1 : 0;
      g_assert_cmpuint (written, ==, 0);
      break;
    case 8:
      r = gsend_socket_send_datagrams (a, NULL, &d, 1, 0, -1, c, error);
      break;
    default:
      r = gsend_socket_send_datagrams (a, NULL, &d, 1, 0, 30 * G_USEC_PER_SEC, c, error);
      break;
    }
  g_bytes_unref (d);
  return r;
}

/* Makes calls @from..@to (see above) on a full AF_UNIX pair whose socket
 * timeout is 1 s (GIO counts it in whole seconds: the shortest there is).
 * Each must fail with TIMED_OUT, nothing sent. A watchdog cancels each call
 * after 8 s, so a wait that ignores the socket timeout fails by name rather
 * than hanging; another fails the test if even that does not end it. */
static void
socket_timeout_calls (guint from, guint to)
{
  FULL_PAIR_AND_BATCH (0);
  g_socket_set_timeout (a, 1);

  for (guint k = from; k < to; k++)
    {
      GCancellable *c = g_cancellable_new ();
      GtWatchdog *w = gt_watchdog_start (c, 8 * G_USEC_PER_SEC);
      GtWatchdog *hard = gt_watchdog_start_failing (socket_timeout_names[k], 20 * G_USEC_PER_SEC);
      gint64 t0 = g_get_monotonic_time ();
      gint64 r = socket_timeout_call (k, a, m, v, buf, c, &error);
      gint64 elapsed = g_get_monotonic_time () - t0;
      gt_watchdog_stop (hard);
      gt_watchdog_stop (w);
      g_test_message ("%s: %" G_GINT64_FORMAT " us, %s", socket_timeout_names[k], elapsed,
                      error ? error->message : "no error");
      if (g_cancellable_is_cancelled (c))
        g_error ("%s: still waiting after 8 s on a socket whose timeout is 1 s (ended by the watchdog: %s)",
                 socket_timeout_names[k], error ? error->message : "no error");
      g_assert_cmpint (r, ==, -1);
      gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_cmpint (elapsed, >=, G_USEC_PER_SEC - 10000);
      g_object_unref (c);
    }
  gt_assert_all_sent (m, N, SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, filled);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 2: the functions without a timeout argument. */
static void
test_rule02_socket_timeout (void)
{
  socket_timeout_calls (0, SOCKET_TIMEOUT_PLAIN);
}

/* rule 2 (as GIO): also the functions with a timeout argument, when that
 * is -1 or longer than the socket's. */
static void
test_rule02_socket_timeout_bounds_all_waits (void)
{
  socket_timeout_calls (SOCKET_TIMEOUT_PLAIN, SOCKET_TIMEOUT_CALLS);
}

/* A reader that drains @expect datagrams, slowly at first. */
typedef struct
{
  GSocket *sock;
  guint expect;
  guint got;
  guint payload_ok;
  gchar mark;
} Reader;

static gpointer
reader_thread (gpointer data)
{
  Reader *r = data;
  g_usleep (100 * 1000);
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  gchar buf[DGRAM + 1];
  while (r->got < r->expect && g_get_monotonic_time () < end)
    {
      if (!g_socket_condition_timed_wait (r->sock, G_IO_IN, 200 * 1000, NULL, NULL))
        continue;
      ssize_t n = recv (g_socket_get_fd (r->sock), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0)
        continue;
      r->got++;
      if (n == DGRAM && buf[0] == r->mark && buf[DGRAM - 1] == r->mark)
        r->payload_ok++;
    }
  return NULL;
}

/* rule 2: a blocking send waits for room and completes when a reader drains. */
static void
blocking_completes (gboolean nonblocking_socket_with_timeout_arg)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  guint filled = gt_fill_queue (a, DGRAM);
  if (nonblocking_socket_with_timeout_arg)
    g_socket_set_blocking (a, FALSE);

  enum { M = 100 };
  static gchar buf[DGRAM];
  memset (buf, 'q', sizeof buf);
  GOutputMessage m[M];
  GOutputVector v[M];
  gt_fill_messages (m, v, M, buf, DGRAM, NULL, SENTINEL);
  Reader rd = { b, filled + M, 0, 0, 'q' };
  GThread *t = g_thread_new ("reader", reader_thread, &rd);
  gint r = nonblocking_socket_with_timeout_arg
    ? gsend_socket_send_messages_with_timeout (a, m, M, 0, -1, NULL, &error)
    : gsend_socket_send_messages (a, m, M, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, M);
  g_thread_join (t);
  g_assert_cmpuint (rd.got, ==, filled + M);
  g_assert_cmpuint (rd.payload_ok, ==, M);
  gt_assert_all_sent (m, M, DGRAM);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_rule02_blocking_completes_when_drained (void)
{
  blocking_completes (FALSE);
}

static void
test_rule02_timeout_minus1_blocks_on_nonblocking_socket (void)
{
  blocking_completes (TRUE);
}

/* rule 2: gsend_socket_send_with_blocking (TRUE) waits on a non-blocking
 * socket until a reader makes room. */
static void
test_rule02_send_with_blocking_waits (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  g_socket_set_blocking (a, FALSE);
  guint filled = gt_fill_queue (a, DGRAM);
  static gchar buf[DGRAM];
  memset (buf, 'w', sizeof buf);
  Reader rd = { b, filled + 2, 0, 0, 'w' };
  GThread *t = g_thread_new ("reader", reader_thread, &rd);
  g_assert_cmpint (gsend_socket_send_with_blocking (a, buf, DGRAM, TRUE, NULL, &error), ==, DGRAM);
  g_assert_no_error (error);
  GOutputVector v = { buf, DGRAM };
  gsize written = 0;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (a, NULL, &v, 1, NULL, 0, 0, -1, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, DGRAM);
  g_thread_join (t);
  g_assert_cmpuint (rd.got, ==, filled + 2);
  g_assert_cmpuint (rd.payload_ok, ==, 2);
  g_object_unref (a);
  g_object_unref (b);
}


/* rule 2: EINTR is retried. Signals (with a handler installed without
 * SA_RESTART) hit the thread blocked in the send; it still sends all. */
static volatile gint sigusr1_count;

static void
on_sigusr1 (int sig)
{
  (void) sig;
  g_atomic_int_inc (&sigusr1_count);
}

typedef struct
{
  pthread_t target;
  Reader reader;
} Interrupter;

static gpointer
interrupter_thread (gpointer data)
{
  Interrupter *it = data;
  for (int i = 0; i < 5; i++)
    {
      g_usleep (40 * 1000);
      pthread_kill (it->target, SIGUSR1);
    }
  return reader_thread (&it->reader);
}

static void
test_rule02_eintr_retried (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  struct sigaction sa, old;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART */
  g_assert_cmpint (sigaction (SIGUSR1, &sa, &old), ==, 0);
  sigusr1_count = 0;

  guint filled = gt_fill_queue (a, DGRAM);
  enum { M = 30 };
  static gchar buf[DGRAM];
  memset (buf, 'e', sizeof buf);
  GOutputMessage m[M];
  GOutputVector v[M];
  gt_fill_messages (m, v, M, buf, DGRAM, NULL, SENTINEL);
  Interrupter it = { pthread_self (), { b, filled + M, 0, 0, 'e' } };
  GThread *t = g_thread_new ("interrupter", interrupter_thread, &it);
  gint r = gsend_socket_send_messages (a, m, M, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, M);
  g_thread_join (t);
  g_assert_cmpint (g_atomic_int_get (&sigusr1_count), ==, 5);
  g_assert_cmpuint (it.reader.got, ==, filled + M);
  g_assert_cmpuint (it.reader.payload_ok, ==, M);

  /* The same for a single-message twin and a positive timeout. */
  filled = gt_fill_queue (a, DGRAM);
  sigusr1_count = 0;
  Interrupter it2 = { pthread_self (), { b, filled + 1, 0, 0, 'e' } };
  t = g_thread_new ("interrupter", interrupter_thread, &it2);
  gsize written = 0;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (a, NULL, v, 1, NULL, 0, 0, 60 * G_USEC_PER_SEC, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, DGRAM);
  g_thread_join (t);
  g_assert_cmpint (g_atomic_int_get (&sigusr1_count), ==, 5);
  g_assert_cmpuint (it2.reader.got, ==, filled + 1);

  g_assert_cmpint (sigaction (SIGUSR1, &old, NULL), ==, 0);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 16: several threads sending on one socket at once; every datagram
 * arrives, each thread's in its own order. */
typedef struct
{
  GSocket *sock;
  guint8 tag;
  gint result;
} Sender;

enum { PER_THREAD = 600, THREADS = 4 };

static gpointer
sender_thread (gpointer data)
{
  Sender *s = data;
  static GOutputMessage m[THREADS][PER_THREAD];
  static GOutputVector v[THREADS][PER_THREAD];
  static guint8 payload[THREADS][PER_THREAD][8];
  for (guint32 i = 0; i < PER_THREAD; i++)
    {
      payload[s->tag][i][0] = s->tag;
      memcpy (&payload[s->tag][i][1], &i, 4);
      v[s->tag][i].buffer = payload[s->tag][i];
      v[s->tag][i].size = 8;
      memset (&m[s->tag][i], 0, sizeof m[s->tag][i]);
      m[s->tag][i].vectors = &v[s->tag][i];
      m[s->tag][i].num_vectors = 1;
    }
  GError *error = NULL;
  /* In slices, so that the threads interleave. */
  s->result = 0;
  for (guint off = 0; off < PER_THREAD; off += 50)
    {
      gint r = gsend_socket_send_messages (s->sock, &m[s->tag][off], 50, 0, NULL, &error);
      g_assert_no_error (error);
      s->result += r;
    }
  return NULL;
}

static void
test_rule16_threads_same_socket (void)
{
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  Sender s[THREADS];
  GThread *t[THREADS];
  for (int i = 0; i < THREADS; i++)
    {
      s[i].sock = a;
      s[i].tag = i;
      t[i] = g_thread_new ("sender", sender_thread, &s[i]);
    }
  guint32 next[THREADS] = { 0 };
  guint got = 0, bad = 0;
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  int fd = g_socket_get_fd (b);
  while (got < THREADS * PER_THREAD && g_get_monotonic_time () < end)
    {
      if (!g_socket_condition_timed_wait (b, G_IO_IN, 200 * 1000, NULL, NULL))
        continue;
      guint8 buf[16];
      ssize_t n;
      while ((n = recv (fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0)
        {
          guint32 seq;
          memcpy (&seq, &buf[1], 4);
          if (n != 8 || buf[0] >= THREADS || seq != next[buf[0]])
            bad++;
          else
            next[buf[0]]++;
          got++;
        }
    }
  for (int i = 0; i < THREADS; i++)
    {
      g_thread_join (t[i]);
      g_assert_cmpint (s[i].result, ==, PER_THREAD);
      g_assert_cmpuint (next[i], ==, PER_THREAD);
    }
  g_assert_cmpuint (bad, ==, 0);
  g_assert_cmpuint (got, ==, THREADS * PER_THREAD);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 6: cancelled from another thread while blocked → CANCELLED. */
static void
test_rule06_cancel_while_blocked (void)
{
  FULL_PAIR_AND_BATCH (0);

  GBytes *d = g_bytes_new_static (buf, DGRAM);
  for (int variant = 0; variant < 6; variant++)
    {
      GCancellable *c = g_cancellable_new ();
      GtCancelLater cl = { c, 200 * 1000 };
      /* The clock starts before the canceller's sleep can. */
      gint64 r, t0 = g_get_monotonic_time ();
      GThread *t = g_thread_new ("cancel", gt_cancel_later_thread, &cl);
      switch (variant)
        {
        case 0:
          r = gsend_socket_send_messages (a, m, N, 0, c, &error);
          break;
        case 1:
          r = gsend_socket_send_messages_with_timeout (a, m, N, 0, 30 * G_USEC_PER_SEC, c, &error);
          break;
        case 2:
          r = gsend_socket_send_message (a, NULL, v, 1, NULL, 0, 0, c, &error);
          break;
        case 3:
          r = gsend_datagram_based_send_messages (G_DATAGRAM_BASED (a), m, N, 0, -1, c, &error);
          break;
        case 4:
          r = gsend_socket_send_datagrams (a, NULL, &d, 1, 0, -1, c, &error);
          break;
        default:
          r = gsend_socket_send (a, buf, DGRAM, c, &error);
          break;
        }
      gint64 elapsed = g_get_monotonic_time () - t0;
      g_thread_join (t);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (r, ==, -1);
      /* Woken by the cancellation (at 0.2 s), not by anything else; the
       * bound is generous for a loaded machine. */
      g_assert_cmpint (elapsed, >=, cl.delay_us);
      g_assert_cmpint (elapsed, <, 10 * G_USEC_PER_SEC);
      g_clear_error (&error);
      g_object_unref (c);
    }
  g_bytes_unref (d);
  gt_assert_all_sent (m, N, SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, filled);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 6: waiting with a cancellable leaves no descriptor behind (the
 * cancellable's poll fd is released every time). */
static int
count_fds (void)
{
  GDir *d = g_dir_open ("/proc/self/fd", 0, NULL);
  g_assert_nonnull (d);
  int n = 0;
  while (g_dir_read_name (d))
    n++;
  g_dir_close (d);
  return n;
}

static void
test_rule06_no_fd_leak (void)
{
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  guint filled = gt_fill_queue (a, DGRAM);
  static gchar buf[DGRAM];
  GOutputMessage m[2];
  GOutputVector v[2];
  gt_fill_messages (m, v, 2, buf, DGRAM, NULL, SENTINEL);
  GCancellable *kept = g_cancellable_new ();
  int before = count_fds ();
  for (int i = 0; i < 200; i++)
    {
      GError *error = NULL;
      GCancellable *c = g_cancellable_new ();
      g_assert_cmpint (gsend_socket_send_messages_with_timeout (a, m, 2, 0, 1000, kept, &error), ==, -1);
      gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_cmpint (gsend_socket_send_messages_with_timeout (a, m, 2, 0, 1000, c, &error), ==, -1);
      gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      gsize w;
      g_assert_cmpint (gsend_socket_send_message_with_timeout (a, NULL, v, 1, NULL, 0, 0, 1000, &w, c, &error),
                       ==, G_POLLABLE_RETURN_FAILED);
      gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_object_unref (c);
    }
  g_assert_cmpint (count_fds (), ==, before);
  g_object_unref (kept);
  g_assert_cmpuint (gt_drain (b), ==, filled);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 6: cancelled while blocked after some were sent → the count. */
static void
test_rule06_cancel_after_partial (void)
{
  FULL_PAIR_AND_BATCH (2);
  GCancellable *c = g_cancellable_new ();
  GtCancelLater cl = { c, 200 * 1000 };
  GThread *t = g_thread_new ("cancel", gt_cancel_later_thread, &cl);
  gint r = gsend_socket_send_messages (a, m, N, 0, c, &error);
  g_thread_join (t);
  g_assert_no_error (error);
  gt_assert_partial (m, N, r, DGRAM, SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, filled - 2 + r);
  g_object_unref (c);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 6: an already cancelled cancellable: CANCELLED, nothing sent, on an
 * empty socket where everything would fit. */
static void
test_rule06_already_cancelled (void)
{
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  GCancellable *c = g_cancellable_new ();
  g_cancellable_cancel (c);

  gchar buf[16] = "cancelled";
  GOutputMessage m[4];
  GOutputVector v[4];
  gt_fill_messages (m, v, 4, buf, 9, NULL, SENTINEL);
  gt_assert_every_twin_fails (a, m, 4, v, buf, 9, NULL, FALSE, c, SENTINEL,
                           G_IO_ERROR_CANCELLED, G_IO_ERROR_CANCELLED, G_IO_ERROR_CANCELLED);

  g_assert_true (gt_nothing_pending (b));
  g_assert_cmpuint (gt_drain (b), ==, 0);
  g_object_unref (c);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 5: g_socket_close → CLOSED before any system call: a new socket
 * that reuses the descriptor number receives nothing. */
static void
test_rule05_closed_socket (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  int old_fd = g_socket_get_fd (a);
  g_assert_true (g_socket_close (a, &error));
  g_assert_no_error (error);
  /* Take the old descriptor number with a fresh connected pair. */
  int fds[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_DGRAM, 0, fds), ==, 0);
  int reused = -1, other = -1;
  if (fds[0] == old_fd)
    reused = fds[0], other = fds[1];
  else if (fds[1] == old_fd)
    reused = fds[1], other = fds[0];

  gchar buf[8] = "closed";
  GOutputMessage m[2];
  GOutputVector v[2];
  gt_fill_messages (m, v, 2, buf, 6, NULL, SENTINEL);
  GSocketAddress *addr = g_unix_socket_address_new_with_type ("", 0, G_UNIX_SOCKET_ADDRESS_ABSTRACT);

  gt_assert_every_twin_fails (a, m, 2, v, buf, 6, addr, TRUE, NULL, SENTINEL,
                           G_IO_ERROR_CLOSED, G_IO_ERROR_CLOSED, G_IO_ERROR_CLOSED);

  if (reused >= 0)
    {
      gchar rb[16];
      g_assert_cmpint (recv (other, rb, sizeof rb, MSG_DONTWAIT), ==, -1);
      g_assert_cmpint (errno, ==, EAGAIN);
    }
  else
    g_test_message ("descriptor %d was not reused; only the error codes were checked", old_fd);
  g_assert_cmpuint (gt_drain (b), ==, 0);
  close (fds[0]);
  close (fds[1]);
  g_object_unref (addr);
  g_object_unref (a);
  g_object_unref (b);
}

/* rule 5: write side shut down (EPIPE): CLOSED from the *_send_messages
 * functions, BROKEN_PIPE from the single-message twins. */
static void
shut_down_write (int type)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (type, &a, &b);
  g_assert_cmpint (shutdown (g_socket_get_fd (a), SHUT_WR), ==, 0);

  gchar buf[8] = "epipe";
  GOutputMessage m[2];
  GOutputVector v[2];
  gt_fill_messages (m, v, 2, buf, 5, NULL, SENTINEL);
  g_assert_cmpint (gsend_socket_send_messages (a, m, 2, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_nonnull (strstr (error->message, strerror (EPIPE)));
  g_clear_error (&error);
  /* A stream socket is refused by the GDatagramBased twin before any send
   * (rule 2). */
  gint dgb_code = type == SOCK_STREAM ? G_IO_ERROR_NOT_SUPPORTED : G_IO_ERROR_CLOSED;
  gt_assert_every_twin_fails (a, m, 2, v, buf, 5, NULL, FALSE, NULL, SENTINEL,
                           G_IO_ERROR_CLOSED, dgb_code, G_IO_ERROR_BROKEN_PIPE);

  g_assert_cmpuint (gt_drain (b), ==, 0);
  g_object_unref (a);
  g_object_unref (b);
}

static void
test_rule05_shutdown_dgram (void)
{
  shut_down_write (SOCK_DGRAM);
}

static void
test_rule05_shutdown_seqpacket (void)
{
  shut_down_write (SOCK_SEQPACKET);
}

static void
test_rule05_shutdown_stream (void)
{
  shut_down_write (SOCK_STREAM);
}

/* rule 11: no SIGPIPE (the kernel raises it for stream sockets). In a subprocess, SIGPIPE's default action
 * (terminate) is restored after GSocket's class init ignored it; every
 * twin then sends on a shut-down socket and the process must survive. */
static void
test_rule11_no_sigpipe (void)
{
  if (g_test_subprocess ())
    {
      GSocket *a, *b;
      stream_pair_sigpipe_deadly (&a, &b);
      gchar buf[8] = "sigpipe";
      GOutputMessage m[2];
      GOutputVector v[2];
      gt_fill_messages (m, v, 2, buf, 7, NULL, SENTINEL);
      gt_assert_every_twin_fails (a, m, 2, v, buf, 7, NULL, TRUE, NULL, SENTINEL, -1, -1, -1);
      /* Proof that SIGPIPE really is deadly here. */
      g_assert_cmpint (send (g_socket_get_fd (a), buf, 7, MSG_NOSIGNAL), ==, -1);
      g_assert_cmpint (errno, ==, EPIPE);
      g_print ("survived\n");
      g_object_unref (a);
      g_object_unref (b);
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*survived*");
}

/* rule 11: the control case — without MSG_NOSIGNAL the same send kills a
 * process with SIGPIPE's default action, so the test above can fail. */
static void
test_rule11_sigpipe_control (void)
{
  if (g_test_subprocess ())
    {
      GSocket *a, *b;
      stream_pair_sigpipe_deadly (&a, &b);
      send (g_socket_get_fd (a), "x", 1, 0);
      g_print ("survived\n");
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, 0);
  g_test_trap_assert_failed ();
}

/* rule 11: flags reach the kernel: MSG_OOB on an AF_UNIX datagram socket
 * is refused by the kernel (EOPNOTSUPP), nothing is sent. */
static void
test_rule11_flags_passed (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  gchar buf[4] = "oob";
  GOutputMessage m[2];
  GOutputVector v[2];
  gt_fill_messages (m, v, 2, buf, 3, NULL, SENTINEL);
  gint code = g_io_error_from_errno (EOPNOTSUPP);
  g_assert_cmpint (gsend_socket_send_messages (a, m, 2, G_SOCKET_MSG_OOB, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, code);
  g_assert_nonnull (strstr (error->message, strerror (EOPNOTSUPP)));
  g_clear_error (&error);
  g_assert_cmpint (gsend_socket_send_message (a, NULL, v, 1, NULL, 0, G_SOCKET_MSG_OOB, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, code);
  GBytes *d = g_bytes_new_static (buf, 3);
  g_assert_cmpint (gsend_socket_send_datagrams (a, NULL, &d, 1, G_SOCKET_MSG_OOB, -1, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, code);
  g_bytes_unref (d);
  g_assert_cmpuint (gt_drain (b), ==, 0);

  /* MSG_DONTWAIT with a zero timeout on a full socket. */
  guint filled = gt_fill_queue (a, DGRAM);
  static gchar big[DGRAM];
  gt_fill_messages (m, v, 2, big, DGRAM, NULL, SENTINEL);
  g_assert_cmpint (gsend_socket_send_messages_with_timeout (a, m, 2, MSG_DONTWAIT, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  /* Ordinary flags are accepted: G_SOCKET_MSG_DONTROUTE on a socket with room. */
  g_assert_cmpuint (gt_drain (b), ==, filled);
  gt_fill_messages (m, v, 2, buf, 3, NULL, SENTINEL);
  g_assert_cmpint (gsend_socket_send_messages (a, m, 2, G_SOCKET_MSG_DONTROUTE, NULL, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpuint (gt_drain (b), ==, 2);

  g_object_unref (a);
  g_object_unref (b);
}

static const GtTest tests[] = {
  { "/rule03/unix/full-timeout0-would-block", test_rule03_full_timeout0_would_block },
  { "/rule03/unix/partial-count", test_rule03_partial_count },
  { "/rule02/unix/nonblocking-socket", test_rule02_nonblocking_socket },
  { "/rule04/unix/timeout-expires", test_rule04_timeout_expires },
  { "/rule04/unix/timeout-partial", test_rule04_timeout_partial },
  { "/rule04/unix/one-deadline", test_rule04_one_deadline },
  { "/rule07/unix/stream-partial-bytes-sent", test_rule07_stream_partial_bytes_sent },
  { "/rule02/unix/socket-timeout", test_rule02_socket_timeout },
  { "/rule02/unix/socket-timeout-bounds-all-waits", test_rule02_socket_timeout_bounds_all_waits },
  { "/rule02/unix/blocking-completes-when-drained", test_rule02_blocking_completes_when_drained },
  { "/rule02/unix/timeout-minus1-blocks-on-nonblocking-socket", test_rule02_timeout_minus1_blocks_on_nonblocking_socket },
  { "/rule02/unix/eintr-retried", test_rule02_eintr_retried },
  { "/rule16/unix/threads-same-socket", test_rule16_threads_same_socket },
  { "/rule02/unix/send-with-blocking-waits", test_rule02_send_with_blocking_waits },
  { "/rule06/unix/cancel-while-blocked", test_rule06_cancel_while_blocked },
  { "/rule06/unix/cancel-after-partial", test_rule06_cancel_after_partial },
  { "/rule06/unix/no-fd-leak", test_rule06_no_fd_leak },
  { "/rule06/unix/already-cancelled", test_rule06_already_cancelled },
  { "/rule05/unix/closed-socket", test_rule05_closed_socket },
  { "/rule05/unix/shutdown-dgram", test_rule05_shutdown_dgram },
  { "/rule05/unix/shutdown-seqpacket", test_rule05_shutdown_seqpacket },
  { "/rule05/unix/shutdown-stream", test_rule05_shutdown_stream },
  { "/rule11/unix/no-sigpipe", test_rule11_no_sigpipe },
  { "/rule11/unix/sigpipe-control", test_rule11_sigpipe_control },
  { "/rule11/unix/flags-passed", test_rule11_flags_passed },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_type_ensure (G_TYPE_SOCKET);
  GT_ADD_TESTS (tests);
  return g_test_run ();
}
