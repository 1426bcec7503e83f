/* Asynchronous sends (docs/behaviour.md rules 18-21): completion in the
 * caller's main context, order and batching across calls, cancellation,
 * closed sockets, timeouts, kernel errors as GIO reports them, references
 * and programming errors. Real sockets: UDP on loopback and AF_UNIX
 * datagram pairs whose queue fills. */
#include "gsend-test.h"
#include "../test-watchdog.h"
#include <gio/gunixfdmessage.h>

/* ---- sendmmsg as this program sees it ------------------------------------ */

/* libgsend's sendmmsg calls land here first: counted, then passed on. */
static guint mm_calls;
static guint mm_vlen;
static guint mm_first_vlen;

int
sendmmsg (int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
  if (mm_calls++ == 0)
    mm_first_vlen = vlen;
  mm_vlen += vlen;
  return gt_real_sendmmsg (fd, vec, vlen, flags);
}

static void
mm_reset (void)
{
  mm_calls = mm_vlen = mm_first_vlen = 0;
}

/* ---- one completion ------------------------------------------------------- */

typedef struct
{
  gboolean called;
  gint result;
  GError *error;
  GMainContext *context;
  GThread *thread;
  guint order;
  gboolean messages; /* finish with the messages function */
  gboolean *flag;    /* when set, must already be TRUE in the callback */
  gboolean flag_seen;
} Rec;

static guint completions;

static void
on_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Rec *r = data;
  g_assert_false (r->called);
  r->called = TRUE;
  if (r->messages)
    r->result = gsend_socket_send_messages_finish (G_SOCKET (source), res, &r->error);
  else
    r->result = gsend_socket_send_datagrams_finish (G_SOCKET (source), res, &r->error);
  r->context = g_main_context_get_thread_default ();
  r->thread = g_thread_self ();
  r->order = g_atomic_int_add (&completions, 1);
  if (r->flag != NULL)
    r->flag_seen = *r->flag;
}

/* Runs @ctx (NULL: the global default) until the @n records are called;
 * the watchdog bounds it. */
static void
run_until_called (GMainContext *ctx, Rec *recs, guint n)
{
  for (guint i = 0; i < n; i++)
    while (!recs[i].called)
      g_main_context_iteration (ctx, TRUE);
}

/* Iterates @ctx for about @ms milliseconds without requiring anything. */
static void
spin (GMainContext *ctx, guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (ctx, FALSE);
      g_usleep (1000);
    }
}

/* One datagram of @size bytes: a 4-byte big-endian sequence number, then
 * its low byte repeated. */
static GBytes *
seq_bytes (guint32 seq, gsize size)
{
  guint8 *p = g_malloc (size);
  guint32 be = GUINT32_TO_BE (seq);
  memset (p, seq & 0xff, size);
  memcpy (p, &be, MIN (size, 4));
  return g_bytes_new_take (p, size);
}

static guint32
seq_of (const guint8 *p)
{
  guint32 be;
  memcpy (&be, p, 4);
  return GUINT32_FROM_BE (be);
}

/* Receives @n datagrams from @rx (2 s at most for all) and checks that
 * they carry the sequence numbers 0 to @n - 1, in that order. */
static void
expect_in_order (GSocket *rx, guint n)
{
  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), n, 2000);
  g_assert_cmpuint (got->len, ==, n);
  for (guint i = 0; i < got->len; i++)
    g_assert_cmpuint (seq_of (g_bytes_get_data (got->pdata[i], NULL)), ==, i);
  g_ptr_array_unref (got);
}

static gboolean
gso_on (void)
{
  return g_strcmp0 (g_getenv ("GSEND_GSO"), "0") != 0;
}

/* ---- fixtures --------------------------------------------------------------- */

/* A loopback UDP receiver, its address and a sender, with the watchdog
 * armed for @seconds. */
typedef struct
{
  GSocket *rx;
  GSocketAddress *to;
  GSocket *tx;
} Udp;

static Udp
udp_open (guint seconds)
{
  test_watchdog_arm (seconds);
  Udp u;
  u.rx = gt_udp_receiver (G_SOCKET_FAMILY_IPV4);
  u.to = gt_local_addr (u.rx);
  u.tx = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  return u;
}

static void
udp_close (Udp *u)
{
  g_object_unref (u->tx);
  g_object_unref (u->to);
  g_object_unref (u->rx);
  alarm (0);
}

static void
pair_close (GSocket *a, GSocket *b)
{
  g_object_unref (a);
  g_object_unref (b);
  alarm (0);
}

/* ---- rule 19: one batch for the calls of one iteration -------------------- */

static void
test_one_batch (void)
{
  enum { CALLS = 64, SIZE = 1200 };
  Udp u = udp_open (30);
  GSocket *rx = u.rx, *tx = u.tx;
  GSocketAddress *to = u.to;
  Rec recs[CALLS] = { 0 };
  gboolean returned = FALSE;

  mm_reset ();
  for (guint i = 0; i < CALLS; i++)
    {
      GBytes *b = seq_bytes (i, SIZE);
      recs[i].flag = &returned;
      gsend_socket_send_datagrams_async (tx, to, &b, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, &recs[i]);
      g_bytes_unref (b);
      g_assert_false (recs[i].called);
    }
  returned = TRUE;
  /* Nothing went before the context ran. */
  g_assert_cmpuint (mm_calls, ==, 0);
  run_until_called (NULL, recs, CALLS);
  /* The socket's statistics say the same: 64 calls queued, 64 datagrams
   * sent in at most two kernel calls. */
  GSendStats st;
  gsend_socket_get_stats (tx, &st);
  g_assert_cmpuint (st.async_queued, ==, CALLS);
  g_assert_cmpuint (st.datagrams_sent, ==, CALLS);
  g_assert_cmpuint (st.send_calls, ==, mm_calls);
  g_assert_cmpuint (st.gso_datagrams, ==, gso_on () && st.gso_refusals == 0 ? CALLS : 0);

  for (guint i = 0; i < CALLS; i++)
    {
      g_assert_no_error (recs[i].error);
      g_assert_cmpint (recs[i].result, ==, 1);
      g_assert_true (recs[i].flag_seen);
      g_assert_true (recs[i].thread == g_thread_self ());
    }
  /* One system call for all 64; with segmentation offload, fewer than 64
   * headers (the kernel may refuse it once: then a second, plain call). */
  if (gso_on ())
    {
      g_assert_cmpuint (mm_calls, <=, 2);
      g_assert_cmpuint (mm_first_vlen, <, CALLS);
    }
  else
    {
      g_assert_cmpuint (mm_calls, ==, 1);
      g_assert_cmpuint (mm_vlen, ==, CALLS);
    }

  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), CALLS, 2000);
  g_assert_cmpuint (got->len, ==, CALLS);
  for (guint i = 0; i < CALLS; i++)
    {
      GBytes *want = seq_bytes (i, SIZE);
      g_assert_true (g_bytes_equal (got->pdata[i], want));
      g_bytes_unref (want);
    }
  g_ptr_array_unref (got);
  udp_close (&u);
}

/* ---- rule 19: order across thousands of calls on a slow receiver ---------- */

typedef struct
{
  GSocket *b;
  guint expect;
  guint32 next;
  gboolean bad;
} Reader;

static gpointer
slow_reader (gpointer data)
{
  Reader *r = data;
  static guint8 buf[2048];
  for (guint got = 0; got < r->expect; got++)
    {
      gssize n = gt_recv_bounded (r->b, (gchar *) buf, sizeof buf);
      if (n < 4 || seq_of (buf) != r->next)
        {
          r->bad = TRUE;
          return NULL;
        }
      r->next++;
      if (got % 200 == 0)
        g_usleep (2000); /* drains slowly: the sender's queue fills */
    }
  return NULL;
}

static void
test_order (void)
{
  enum { CALLS = 3000, SIZE = 700 };
  test_watchdog_arm (120);
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  Rec *recs = g_new0 (Rec, CALLS);
  guint total = 0;
  guint per[CALLS];
  for (guint i = 0; i < CALLS; i++)
    total += per[i] = 1 + i % 5;
  Reader reader = { b, total, 0, FALSE };
  GThread *t = g_thread_new ("reader", slow_reader, &reader);

  guint32 seq = 0;
  for (guint i = 0; i < CALLS; i++)
    {
      GBytes *d[5];
      for (guint k = 0; k < per[i]; k++)
        d[k] = seq_bytes (seq++, SIZE);
      gsend_socket_send_datagrams_async (a, NULL, d, per[i], 0, G_PRIORITY_DEFAULT, NULL, on_done, &recs[i]);
      for (guint k = 0; k < per[i]; k++)
        g_bytes_unref (d[k]);
      /* Now and then let the context run, so that calls overlap waits. */
      if (i % 97 == 0)
        g_main_context_iteration (NULL, FALSE);
    }
  run_until_called (NULL, recs, CALLS);
  g_thread_join (t);
  g_assert_false (reader.bad);
  g_assert_cmpuint (reader.next, ==, total);
  for (guint i = 0; i < CALLS; i++)
    {
      g_assert_no_error (recs[i].error);
      g_assert_cmpint (recs[i].result, ==, (gint) per[i]);
    }
  g_free (recs);
  pair_close (a, b);
}

/* ---- rule 20: cancellation ------------------------------------------------ */

static void
test_cancel_queued (void)
{
  Udp u = udp_open (30);
  GSocket *rx = u.rx, *tx = u.tx;
  GSocketAddress *to = u.to;
  GCancellable *c = g_cancellable_new ();
  Rec recs[3] = { 0 };
  for (guint i = 0; i < 3; i++)
    {
      GBytes *d[2] = { seq_bytes (2 * i, 100), seq_bytes (2 * i + 1, 100) };
      gsend_socket_send_datagrams_async (tx, to, d, 2, 0, G_PRIORITY_DEFAULT, i == 1 ? c : NULL, on_done, &recs[i]);
      g_bytes_unref (d[0]);
      g_bytes_unref (d[1]);
    }
  g_cancellable_cancel (c);
  run_until_called (NULL, recs, 3);
  g_assert_cmpint (recs[0].result, ==, 2);
  g_assert_cmpint (recs[1].result, ==, -1);
  gt_assert_error_clear (recs[1].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (recs[2].result, ==, 2);

  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), 6, 500);
  g_assert_cmpuint (got->len, ==, 4);
  guint32 want[] = { 0, 1, 4, 5 };
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (seq_of (g_bytes_get_data (got->pdata[i], NULL)), ==, want[i]);
  g_ptr_array_unref (got);
  g_object_unref (c);
  udp_close (&u);
}

/* Runs the default context until @a's queue is full again (the driver
 * sent into the room it was given and waits). */
static void
until_full (GSocket *a)
{
  for (;;)
    {
      g_main_context_iteration (NULL, FALSE);
      struct pollfd p = { g_socket_get_fd (a), POLLOUT, 0 };
      if (poll (&p, 1, 0) == 0)
        return;
      g_usleep (1000);
    }
}

/* A waiting call is cancelled: nothing sent gives CANCELLED; some sent
 * (the receiver emptied its queue while the call waited, and the call
 * filled it again) gives the count. */
static void
test_cancel_waiting (void)
{
  for (guint drain = 0; drain <= 1; drain++)
    {
      test_watchdog_arm (30);
      GSocket *a, *b;
      gt_unix_pair (SOCK_DGRAM, &a, &b);
      guint filled = gt_fill_queue (a, 512);
      guint n = 2 * filled + 10;
      GCancellable *c = g_cancellable_new ();
      Rec rec = { 0 };
      GBytes **d = g_new (GBytes *, n);
      for (guint i = 0; i < n; i++)
        d[i] = seq_bytes (1000 + i, 512);
      gsend_socket_send_datagrams_async (a, NULL, d, n, 0, G_PRIORITY_DEFAULT, c, on_done, &rec);
      for (guint i = 0; i < n; i++)
        g_bytes_unref (d[i]);
      g_free (d);
      spin (NULL, 30);
      g_assert_false (rec.called);
      guint taken = 0;
      if (drain)
        {
          taken = gt_drain (b);
          g_assert_cmpuint (taken, ==, filled);
          until_full (a);
        }
      g_assert_false (rec.called);
      g_cancellable_cancel (c);
      run_until_called (NULL, &rec, 1);
      if (!drain)
        {
          g_assert_cmpint (rec.result, ==, -1);
          gt_assert_error_clear (rec.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_assert_cmpuint (gt_drain (b), ==, filled);
        }
      else
        {
          g_assert_no_error (rec.error);
          g_assert_cmpint (rec.result, >, 0);
          g_assert_cmpint (rec.result, <, (gint) n);
          /* Exactly the first rec.result datagrams of the call arrived. */
          static guint8 buf[1024];
          for (gint i = 0; i < rec.result; i++)
            {
              g_assert_cmpint (recv (g_socket_get_fd (b), buf, sizeof buf, MSG_DONTWAIT), ==, 512);
              g_assert_cmpuint (seq_of (buf), ==, 1000 + (guint) i);
            }
          g_assert_cmpuint (gt_drain (b), ==, 0);
        }
      g_object_unref (c);
      g_object_unref (a);
      g_object_unref (b);
      alarm (0);
    }
}

/* ---- rule 20: closed sockets, timeouts ------------------------------------ */

static void
test_closed_queued (void)
{
  test_watchdog_arm (30);
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  Rec recs[2] = { 0 };
  for (guint i = 0; i < 2; i++)
    {
      GBytes *d = seq_bytes (i, 64);
      gsend_socket_send_datagrams_async (a, NULL, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, &recs[i]);
      g_bytes_unref (d);
    }
  g_assert_true (g_socket_close (a, NULL));
  run_until_called (NULL, recs, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpint (recs[i].result, ==, -1);
      gt_assert_error_clear (recs[i].error, G_IO_ERROR, G_IO_ERROR_CLOSED);
    }
  g_assert_cmpuint (gt_drain (b), ==, 0);
  pair_close (a, b);
}

/* Closed while the call waits for room; a new pair made right after gets
 * the old fd number, and nothing may reach it. */
/* A full AF_UNIX pair (*a, *b) with one async send of one datagram
 * waiting for room on *a; returns how many datagrams fill the queue. */
static guint
queue_one_waiting (GSocket **a, GSocket **b, Rec *rec)
{
  test_watchdog_arm (10);
  gt_unix_pair (SOCK_DGRAM, a, b);
  guint filled = gt_fill_queue (*a, 512);
  GBytes *d = seq_bytes (7, 512);
  gsend_socket_send_datagrams_async (*a, NULL, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, rec);
  g_bytes_unref (d);
  spin (NULL, 30);
  g_assert_false (rec->called);
  return filled;
}

/* A send waiting for room when its socket is closed and the fd number is
 * taken at once by a new, unrelated socket pair. With @new_full the new
 * socket is full too, so no poll on that number can wake the driver, only
 * seeing the close can; without it the new socket is writable and the old
 * peer is drained as well, so the wake-up comes at once and the queued
 * datagram must still not go to the new socket. */
static void
closed_waiting (gboolean new_full)
{
  GSocket *a, *b;
  Rec rec = { 0 };
  guint filled = queue_one_waiting (&a, &b, &rec);
  int old_fd = g_socket_get_fd (a);
  g_assert_true (g_socket_close (a, NULL));
  GSocket *c, *e;
  gt_unix_pair (SOCK_DGRAM, &c, &e);
  g_test_message ("old fd %d, new pair %d/%d", old_fd, g_socket_get_fd (c), g_socket_get_fd (e));
  guint c_filled = new_full ? gt_fill_queue (c, 512) : 0;
  guint drained = new_full ? 0 : gt_drain (b);
  run_until_called (NULL, &rec, 1);
  g_assert_cmpint (rec.result, ==, -1);
  gt_assert_error_clear (rec.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  spin (NULL, 20);
  g_assert_cmpuint (gt_drain (e), ==, c_filled);
  g_assert_cmpuint (gt_drain (c), ==, 0);
  g_assert_cmpuint (drained + gt_drain (b), ==, filled);
  g_object_unref (c);
  g_object_unref (e);
  pair_close (a, b);
}

static void
test_closed_waiting (void)
{
  closed_waiting (TRUE);
}

static void
test_closed_waiting_reused_writable (void)
{
  closed_waiting (FALSE);
}

/* The same close, from another thread while this one sleeps in its main
 * context: the closing thread takes the fd number for a new pair and fills
 * it, so nothing ever polls ready and only the driver's own look at the
 * socket can end the call. */
typedef struct
{
  GSocket *socket;
  GSocket *c, *e;
  guint c_filled;
} Closer;

static gpointer
close_and_reuse (gpointer data)
{
  Closer *cl = data;
  g_usleep (100 * 1000);
  g_assert_true (g_socket_close (cl->socket, NULL));
  gt_unix_pair (SOCK_DGRAM, &cl->c, &cl->e);
  cl->c_filled = gt_fill_queue (cl->c, 512);
  return NULL;
}

static void
test_closed_waiting_other_thread (void)
{
  GSocket *a, *b;
  Rec rec = { 0 };
  guint filled = queue_one_waiting (&a, &b, &rec);
  Closer cl = { a, NULL, NULL, 0 };
  GThread *t = g_thread_new ("closer", close_and_reuse, &cl);
  run_until_called (NULL, &rec, 1);
  g_thread_join (t);
  g_assert_cmpint (rec.result, ==, -1);
  gt_assert_error_clear (rec.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (gt_drain (cl.e), ==, cl.c_filled);
  g_assert_cmpuint (gt_drain (b), ==, filled);
  g_object_unref (cl.c);
  g_object_unref (cl.e);
  pair_close (a, b);
}

static void
test_timeout (void)
{
  test_watchdog_arm (30);
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  g_socket_set_timeout (a, 1);
  guint filled = gt_fill_queue (a, 512);
  Rec rec = { 0 };
  GBytes *d = seq_bytes (9, 512);
  gsend_socket_send_datagrams_async (a, NULL, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, &rec);
  g_bytes_unref (d);
  run_until_called (NULL, &rec, 1);
  g_assert_cmpint (rec.result, ==, -1);
  gt_assert_error_clear (rec.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (gt_drain (b), ==, filled);
  pair_close (a, b);
}

/* ---- rule 20: kernel errors as GIO reports them --------------------------- */

/* Calls [fits, too large, fits]: the middle one fails alone, with the code
 * GIO's g_socket_send_messages gives for the same datagram. */
static void
test_kernel_error (void)
{
  Udp u = udp_open (30);
  GSocket *rx = u.rx, *tx = u.tx;
  GSocketAddress *to = u.to;
  gsize sizes[3] = { 100, 70000, 100 };

  /* GIO first. */
  GError *gio_error = NULL;
  GBytes *big = seq_bytes (99, sizes[1]);
  GOutputVector v = { g_bytes_get_data (big, NULL), sizes[1] };
  GOutputMessage m = { to, &v, 1, 0, NULL, 0 };
  g_assert_cmpint (g_socket_send_messages (tx, &m, 1, 0, NULL, &gio_error), ==, -1);
  g_assert_nonnull (gio_error);
  g_bytes_unref (big);

  Rec recs[3] = { 0 };
  for (guint i = 0; i < 3; i++)
    {
      GBytes *d = seq_bytes (i, sizes[i]);
      gsend_socket_send_datagrams_async (tx, to, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, &recs[i]);
      g_bytes_unref (d);
    }
  run_until_called (NULL, recs, 3);
  g_assert_cmpint (recs[0].result, ==, 1);
  g_assert_cmpint (recs[1].result, ==, -1);
  g_assert_error (recs[1].error, gio_error->domain, gio_error->code);
  g_assert_cmpint (recs[2].result, ==, 1);
  g_clear_error (&recs[1].error);
  g_clear_error (&gio_error);
  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), 3, 500);
  g_assert_cmpuint (got->len, ==, 2);
  g_ptr_array_unref (got);
  udp_close (&u);
}

/* ---- rule 18: many sockets, several threads with their own contexts ------- */

static void
test_many_sockets (void)
{
  enum { SOCKETS = 60, CALLS = 10 };
  test_watchdog_arm (60);
  GSocket *rx = gt_udp_receiver (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *to = gt_local_addr (rx);
  GSocket *tx[SOCKETS];
  Rec *recs = g_new0 (Rec, SOCKETS * CALLS);
  for (guint s = 0; s < SOCKETS; s++)
    tx[s] = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  for (guint i = 0; i < CALLS; i++)
    for (guint s = 0; s < SOCKETS; s++)
      {
        GBytes *d = seq_bytes (s * CALLS + i, 200);
        gsend_socket_send_datagrams_async (tx[s], to, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done,
                                           &recs[s * CALLS + i]);
        g_bytes_unref (d);
      }
  run_until_called (NULL, recs, SOCKETS * CALLS);
  for (guint i = 0; i < SOCKETS * CALLS; i++)
    g_assert_cmpint (recs[i].result, ==, 1);
  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), SOCKETS * CALLS, 2000);
  g_assert_cmpuint (got->len, ==, SOCKETS * CALLS);
  /* Per socket, its datagrams arrived in call order. */
  guint next[SOCKETS] = { 0 };
  for (guint i = 0; i < got->len; i++)
    {
      guint32 q = seq_of (g_bytes_get_data (got->pdata[i], NULL));
      g_assert_cmpuint (q % CALLS, ==, next[q / CALLS]);
      next[q / CALLS]++;
    }
  g_ptr_array_unref (got);
  for (guint s = 0; s < SOCKETS; s++)
    g_object_unref (tx[s]);
  g_free (recs);
  g_object_unref (to);
  g_object_unref (rx);
  alarm (0);
}

enum { THREADS = 4, THREAD_CALLS = 300 };
typedef struct
{
  GSocket *tx;
  GSocketAddress *to;
  guint index;
  Rec recs[THREAD_CALLS];
  GMainContext *ctx;
  gboolean ok;
} Worker;

static gint workers_done;

static gpointer
worker (gpointer data)
{
  Worker *w = data;
  w->ctx = g_main_context_new ();
  g_main_context_push_thread_default (w->ctx);
  for (guint i = 0; i < THREAD_CALLS; i++)
    {
      GBytes *d = seq_bytes (w->index * THREAD_CALLS + i, 300);
      gsend_socket_send_datagrams_async (w->tx, w->to, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, &w->recs[i]);
      g_bytes_unref (d);
      if (i % 16 == 0)
        g_main_context_iteration (w->ctx, FALSE);
    }
  run_until_called (w->ctx, w->recs, THREAD_CALLS);
  w->ok = TRUE;
  for (guint i = 0; i < THREAD_CALLS; i++)
    w->ok = w->ok && w->recs[i].result == 1 && w->recs[i].context == w->ctx && w->recs[i].thread == g_thread_self ();
  /* Each context drives the socket's queue while it has calls of its own
   * there: a thread whose calls are done stops iterating at once, and the
   * others' calls still complete. */
  g_atomic_int_inc (&workers_done);
  g_main_context_pop_thread_default (w->ctx);
  g_main_context_unref (w->ctx);
  return NULL;
}

static void
test_threads (void)
{
  Udp u = udp_open (60);
  GSocket *rx = u.rx, *tx = u.tx;
  GSocketAddress *to = u.to;
  Worker *w = g_new0 (Worker, THREADS);
  GThread *t[THREADS];
  workers_done = 0;
  for (guint i = 0; i < THREADS; i++)
    {
      w[i].tx = tx;
      w[i].to = to;
      w[i].index = i;
      t[i] = g_thread_new ("worker", worker, &w[i]);
    }
  for (guint i = 0; i < THREADS; i++)
    {
      g_thread_join (t[i]);
      g_assert_true (w[i].ok);
    }
  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), THREADS * THREAD_CALLS, 2000);
  g_assert_cmpuint (got->len, ==, THREADS * THREAD_CALLS);
  /* Each thread's datagrams in its call order. */
  guint next[THREADS] = { 0 };
  for (guint i = 0; i < got->len; i++)
    {
      guint32 q = seq_of (g_bytes_get_data (got->pdata[i], NULL));
      g_assert_cmpuint (q % THREAD_CALLS, ==, next[q / THREAD_CALLS]);
      next[q / THREAD_CALLS]++;
    }
  g_ptr_array_unref (got);
  g_free (w);
  udp_close (&u);
}

/* A thread queues a send on a full socket from its own context and never
 * runs that context again; a later call from this thread's context must
 * not wait on it: this context sends both calls' datagrams, in order. */
typedef struct
{
  GSocket *a;
  GMainContext *ctx;
  Rec rec;
} Idle;

static gpointer
queue_and_leave (gpointer data)
{
  Idle *t = data;
  t->ctx = g_main_context_new ();
  g_main_context_push_thread_default (t->ctx);
  GBytes *d = seq_bytes (1, 512);
  gsend_socket_send_datagrams_async (t->a, NULL, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, &t->rec);
  g_bytes_unref (d);
  g_main_context_pop_thread_default (t->ctx);
  return NULL;
}

static void
test_idle_context_elsewhere (void)
{
  test_watchdog_arm (10);
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  guint filled = gt_fill_queue (a, 512);
  Idle t = { a, NULL, { 0 } };
  g_thread_join (g_thread_new ("idle", queue_and_leave, &t));
  Rec rec = { 0 };
  GBytes *d = seq_bytes (2, 512);
  gsend_socket_send_datagrams_async (a, NULL, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, &rec);
  g_bytes_unref (d);
  g_assert_cmpuint (gt_drain (b), ==, filled);
  run_until_called (NULL, &rec, 1);
  g_assert_cmpint (rec.result, ==, 1);
  static guint8 buf[1024];
  for (guint32 want = 1; want <= 2; want++)
    {
      g_assert_cmpint (gt_recv_bounded (b, (gchar *) buf, sizeof buf), ==, 512);
      g_assert_cmpuint (seq_of (buf), ==, want);
    }
  /* The other call was sent too; its callback waits for its own context. */
  g_assert_false (t.rec.called);
  while (!t.rec.called)
    g_main_context_iteration (t.ctx, TRUE);
  g_assert_cmpint (t.rec.result, ==, 1);
  g_main_context_unref (t.ctx);
  pair_close (a, b);
}

/* ---- rule 19: callbacks that send again, flags, control messages, races --- */

/* Each callback queues the next send from inside the callback: a chain of
 * 200 sends, one at a time, in order. */
typedef struct
{
  GSocket *tx;
  GSocketAddress *to;
  guint next;
  guint total;
  gboolean bad;
} Chain;

static void
on_chain (GObject *source, GAsyncResult *res, gpointer data)
{
  Chain *c = data;
  GError *error = NULL;
  if (gsend_socket_send_datagrams_finish (G_SOCKET (source), res, &error) != 1)
    c->bad = TRUE;
  g_clear_error (&error);
  if (++c->next < c->total)
    {
      GBytes *d = seq_bytes (c->next, 64);
      gsend_socket_send_datagrams_async (c->tx, c->to, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_chain, c);
      g_bytes_unref (d);
    }
}

static void
test_chain_from_callbacks (void)
{
  Udp u = udp_open (30);
  Chain c = { u.tx, u.to, 0, 200, FALSE };
  GBytes *d = seq_bytes (0, 64);
  gsend_socket_send_datagrams_async (c.tx, c.to, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_chain, &c);
  g_bytes_unref (d);
  while (c.next < c.total)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (c.bad);
  expect_in_order (u.rx, c.total);
  udp_close (&u);
}

/* Calls with different flags go out one group after the other, in call
 * order. MSG_DONTROUTE changes nothing on loopback but keeps the groups
 * apart. */
static void
test_mixed_flags (void)
{
  Udp u = udp_open (30);
  GSocket *rx = u.rx, *tx = u.tx;
  GSocketAddress *to = u.to;
  enum { CALLS = 12 };
  Rec recs[CALLS] = { { 0 } };
  for (guint i = 0; i < CALLS; i++)
    {
      GBytes *d[2] = { seq_bytes (2 * i, 300), seq_bytes (2 * i + 1, 300) };
      gsend_socket_send_datagrams_async (tx, to, d, 2, (i / 3) % 2 ? MSG_DONTROUTE : 0, G_PRIORITY_DEFAULT, NULL,
                                         on_done, &recs[i]);
      g_bytes_unref (d[0]);
      g_bytes_unref (d[1]);
    }
  run_until_called (NULL, recs, CALLS);
  for (guint i = 0; i < CALLS; i++)
    g_assert_cmpint (recs[i].result, ==, 2);
  expect_in_order (rx, 2 * CALLS);
  udp_close (&u);
}

/* A GUnixFDMessage through the message function: the descriptor arrives. */
static void
test_fd_passing (void)
{
  test_watchdog_arm (30);
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  int pipefd[2];
  g_assert_cmpint (pipe (pipefd), ==, 0);
  GSocketControlMessage *fdm = g_unix_fd_message_new ();
  g_assert_true (g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (fdm), pipefd[1], NULL));
  static gchar text[] = "with a descriptor";
  GOutputVector v = { text, sizeof text };
  GOutputMessage m = { NULL, &v, 1, 0, &fdm, 1 };
  Rec rec = { 0 };
  rec.messages = TRUE;
  gsend_socket_send_messages_async (a, &m, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done, &rec);
  run_until_called (NULL, &rec, 1);
  g_assert_no_error (rec.error);
  g_assert_cmpint (rec.result, ==, 1);
  g_assert_cmpuint (m.bytes_sent, ==, sizeof text);

  gchar buf[64];
  GInputVector iv = { buf, sizeof buf };
  GSocketControlMessage **msgs = NULL;
  gint nmsgs = 0;
  GError *error = NULL;
  gssize n = g_socket_receive_message (b, NULL, &iv, 1, &msgs, &nmsgs, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, sizeof text);
  g_assert_cmpstr (buf, ==, text);
  g_assert_cmpint (nmsgs, ==, 1);
  g_assert_true (G_IS_UNIX_FD_MESSAGE (msgs[0]));
  gint nfds = 0;
  gint *fds = g_unix_fd_message_steal_fds (G_UNIX_FD_MESSAGE (msgs[0]), &nfds);
  g_assert_cmpint (nfds, ==, 1);
  /* The received descriptor is the pipe's write end: what goes in arrives. */
  g_assert_cmpint (write (fds[0], "z", 1), ==, 1);
  g_assert_cmpint (read (pipefd[0], buf, 1), ==, 1);
  g_assert_cmpint (buf[0], ==, 'z');
  close (fds[0]);
  g_free (fds);
  g_object_unref (msgs[0]);
  g_free (msgs);
  g_object_unref (fdm);
  close (pipefd[0]);
  close (pipefd[1]);
  pair_close (a, b);
}

/* Threads queue sends on one socket from their own contexts while a
 * canceller thread cancels some of them at random: every call ends with 1
 * or CANCELLED, and exactly the sends that reported 1 arrived, none twice. */
enum { RACERS = 3, RACER_CALLS = 400 };
typedef struct
{
  GSocket *tx;
  GSocketAddress *to;
  guint index;
  Rec recs[RACER_CALLS];
  GCancellable *c[RACER_CALLS];
} Racer;

static gint racers_running;

static gpointer
racer (gpointer data)
{
  Racer *r = data;
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  for (guint i = 0; i < RACER_CALLS; i++)
    {
      GBytes *d = seq_bytes (r->index * RACER_CALLS + i, 200);
      gsend_socket_send_datagrams_async (r->tx, r->to, &d, 1, 0, G_PRIORITY_DEFAULT, r->c[i], on_done, &r->recs[i]);
      g_bytes_unref (d);
      if (i % 7 == 0)
        g_main_context_iteration (ctx, FALSE);
    }
  run_until_called (ctx, r->recs, RACER_CALLS);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  g_atomic_int_add (&racers_running, -1);
  return NULL;
}

static gpointer
canceller (gpointer data)
{
  Racer *r = data;
  GRand *rand = g_rand_new_with_seed (7);
  while (g_atomic_int_get (&racers_running) > 0)
    {
      Racer *x = &r[g_rand_int_range (rand, 0, RACERS)];
      g_cancellable_cancel (x->c[g_rand_int_range (rand, 0, RACER_CALLS)]);
      g_usleep (5);
    }
  g_rand_free (rand);
  return NULL;
}

static void
test_threads_racing_cancel (void)
{
  Udp u = udp_open (60);
  GSocket *rx = u.rx, *tx = u.tx;
  GSocketAddress *to = u.to;
  Racer *r = g_new0 (Racer, RACERS);
  GThread *t[RACERS];
  racers_running = RACERS;
  for (guint i = 0; i < RACERS; i++)
    {
      r[i] = (Racer) { tx, to, i, { { 0 } }, { 0 } };
      for (guint k = 0; k < RACER_CALLS; k++)
        r[i].c[k] = g_cancellable_new ();
    }
  GThread *ct = g_thread_new ("canceller", canceller, r);
  for (guint i = 0; i < RACERS; i++)
    t[i] = g_thread_new ("racer", racer, &r[i]);
  for (guint i = 0; i < RACERS; i++)
    g_thread_join (t[i]);
  g_thread_join (ct);

  gboolean *sent = g_new0 (gboolean, RACERS * RACER_CALLS);
  guint n_sent = 0, n_cancelled = 0;
  for (guint i = 0; i < RACERS; i++)
    for (guint k = 0; k < RACER_CALLS; k++)
      {
        Rec *rec = &r[i].recs[k];
        if (rec->result == 1)
          {
            g_assert_no_error (rec->error);
            sent[i * RACER_CALLS + k] = TRUE;
            n_sent++;
          }
        else
          {
            g_assert_cmpint (rec->result, ==, -1);
            gt_assert_error_clear (rec->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
            n_cancelled++;
          }
        g_object_unref (r[i].c[k]);
      }
  g_test_message ("%u sent, %u cancelled", n_sent, n_cancelled);
  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), RACERS * RACER_CALLS, 1000);
  g_assert_cmpuint (got->len, ==, n_sent);
  for (guint i = 0; i < got->len; i++)
    {
      guint32 q = seq_of (g_bytes_get_data (got->pdata[i], NULL));
      g_assert_cmpuint (q, <, RACERS * RACER_CALLS);
      g_assert_true (sent[q]);
      sent[q] = FALSE; /* twice would fail here */
    }
  g_ptr_array_unref (got);
  g_free (sent);
  g_free (r);
  udp_close (&u);
}

/* ---- rule 21: references, messages, programming errors -------------------- */

static void
mark_freed (gpointer data)
{
  *(gboolean *) data = TRUE;
}

static gboolean addr_gone;

static void
addr_finalized (gpointer data, GObject *where)
{
  (void) data;
  (void) where;
  addr_gone = TRUE;
}

typedef struct
{
  Rec rec;
  gboolean *bytes_freed;
  gboolean bytes_freed_at_callback;
  gboolean addr_gone_at_callback;
} RefRec;

static void
on_done_refs (GObject *source, GAsyncResult *res, gpointer data)
{
  RefRec *r = data;
  r->bytes_freed_at_callback = *r->bytes_freed;
  r->addr_gone_at_callback = addr_gone;
  on_done (source, res, &r->rec);
}

static void
test_references (void)
{
  test_watchdog_arm (30);
  GSocket *rx = gt_udp_receiver (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *bound = gt_local_addr (rx);
  /* An address object of the test's own, so that its end is seen. */
  GSocketAddress *to = g_inet_socket_address_new (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (bound)),
                                                  g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  GSocket *tx = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  gboolean freed = FALSE;
  static guint8 payload[300];
  memset (payload, 0x5a, sizeof payload);
  GBytes *d = g_bytes_new_with_free_func (payload, sizeof payload, mark_freed, &freed);
  RefRec r = { { 0 }, &freed, FALSE, FALSE };
  addr_gone = FALSE;
  g_object_weak_ref (G_OBJECT (to), addr_finalized, NULL);

  gsend_socket_send_datagrams_async (tx, to, &d, 1, 0, G_PRIORITY_DEFAULT, NULL, on_done_refs, &r);
  g_bytes_unref (d);
  g_object_unref (to);
  /* The call holds its own references until it completes. */
  g_assert_false (freed);
  g_assert_false (addr_gone);
  run_until_called (NULL, &r.rec, 1);
  g_assert_cmpint (r.rec.result, ==, 1);
  g_assert_true (r.bytes_freed_at_callback);
  g_assert_true (r.addr_gone_at_callback);

  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), 1, 1000);
  g_assert_cmpuint (got->len, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (got->pdata[0], NULL), 300, payload, 300);
  g_ptr_array_unref (got);
  g_object_unref (bound);
  g_object_unref (tx);
  g_object_unref (rx);
  alarm (0);
}

/* The message function: bytes_sent filled, several vectors, sizes differ. */
static void
test_messages (void)
{
  Udp u = udp_open (30);
  GSocket *rx = u.rx, *tx = u.tx;
  GSocketAddress *to = u.to;
  static gchar head[] = "head:", body[] = "the body of it";
  GOutputVector v[3][2];
  GOutputMessage m[3];
  for (guint i = 0; i < 3; i++)
    {
      v[i][0] = (GOutputVector) { head, 5 };
      v[i][1] = (GOutputVector) { body, 4 + 5 * i };
      m[i] = (GOutputMessage) { to, v[i], 2, 777, NULL, 0 };
    }
  Rec rec = { 0 };
  rec.messages = TRUE;
  gsend_socket_send_messages_async (tx, m, 3, 0, G_PRIORITY_DEFAULT, NULL, on_done, &rec);
  g_assert_cmpuint (m[0].bytes_sent, ==, 777);
  run_until_called (NULL, &rec, 1);
  g_assert_no_error (rec.error);
  g_assert_cmpint (rec.result, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (m[i].bytes_sent, ==, 5 + 4 + 5 * i);
  GPtrArray *got = gt_recv_all_fd (g_socket_get_fd (rx), 3, 1000);
  g_assert_cmpuint (got->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      gsize len;
      const gchar *p = g_bytes_get_data (got->pdata[i], &len);
      g_assert_cmpuint (len, ==, 5 + 4 + 5 * i);
      g_assert_cmpmem (p, 5, head, 5);
      g_assert_cmpmem (p + 5, len - 5, body, len - 5);
    }
  g_ptr_array_unref (got);
  udp_close (&u);
}

static void
test_programming_errors (void)
{
  test_watchdog_arm (30);
  GSocket *tx = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  GObject *not_addr = g_object_new (G_TYPE_CANCELLABLE, NULL);
  GBytes *d = seq_bytes (1, 10);
  GBytes *arr_null[1] = { NULL };
  Rec rec = { 0 };

  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "*gsend_socket_send_datagrams_async*G_IS_SOCKET (socket)*");
  gsend_socket_send_datagrams_async (NULL, NULL, &d, 1, 0, 0, NULL, on_done, &rec);
  g_test_assert_expected_messages ();
  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "*num_messages == 0 || messages != NULL*");
  gsend_socket_send_datagrams_async (tx, NULL, NULL, 1, 0, 0, NULL, on_done, &rec);
  g_test_assert_expected_messages ();
  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "*datagrams[i] != NULL*");
  gsend_socket_send_datagrams_async (tx, NULL, arr_null, 1, 0, 0, NULL, on_done, &rec);
  g_test_assert_expected_messages ();
  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "*G_IS_SOCKET_ADDRESS (address)*");
  gsend_socket_send_datagrams_async (tx, (GSocketAddress *) not_addr, &d, 1, 0, 0, NULL, on_done, &rec);
  g_test_assert_expected_messages ();
  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "*gsend_socket_send_messages_async*G_IS_SOCKET (socket)*");
  gsend_socket_send_messages_async ((GSocket *) not_addr, NULL, 0, 0, 0, NULL, on_done, &rec);
  g_test_assert_expected_messages ();
  GOutputMessage bad = { NULL, NULL, 1, 0, NULL, 0 };
  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "*num_vectors == 0 || vectors != NULL*");
  gsend_socket_send_messages_async (tx, &bad, 1, 0, 0, NULL, on_done, &rec);
  g_test_assert_expected_messages ();

  /* The callback is never called for them. */
  spin (NULL, 50);
  g_assert_false (rec.called);

  /* A result of the other function is refused by finish. */
  Rec ok = { 0 };
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  gsend_socket_send_datagrams_async (a, NULL, &d, 1, 0, 0, NULL, on_done, &ok);
  run_until_called (NULL, &ok, 1);
  g_assert_cmpint (ok.result, ==, 1);

  g_bytes_unref (d);
  g_object_unref (not_addr);
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (tx);
  alarm (0);
}

static void
on_wrong_finish (GObject *source, GAsyncResult *res, gpointer data)
{
  Rec *r = data;
  GError *error = NULL;
  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "*gsend_socket_send_messages_finish*source_tag*");
  r->result = gsend_socket_send_messages_finish (G_SOCKET (source), res, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  r->called = TRUE;
}

static void
test_wrong_finish (void)
{
  test_watchdog_arm (30);
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  GBytes *d = seq_bytes (3, 10);
  Rec rec = { 0 };
  gsend_socket_send_datagrams_async (a, NULL, &d, 1, 0, 0, NULL, on_wrong_finish, &rec);
  run_until_called (NULL, &rec, 1);
  g_assert_cmpint (rec.result, ==, -1);
  g_bytes_unref (d);
  pair_close (a, b);
}

static const GtTest tests[] = {
  { "/rule19/async/one-batch", test_one_batch },
  { "/rule19/async/order-slow-receiver", test_order },
  { "/rule19/async/chain-from-callbacks", test_chain_from_callbacks },
  { "/rule19/async/mixed-flags", test_mixed_flags },
  { "/rule19/async/fd-passing", test_fd_passing },
  { "/rule19/async/threads-racing-cancel", test_threads_racing_cancel },
  { "/rule20/async/cancel-queued", test_cancel_queued },
  { "/rule20/async/cancel-waiting", test_cancel_waiting },
  { "/rule20/async/closed-queued", test_closed_queued },
  { "/rule20/async/closed-waiting", test_closed_waiting },
  { "/rule20/async/closed-waiting-fd-reused-writable", test_closed_waiting_reused_writable },
  { "/rule20/async/closed-waiting-other-thread", test_closed_waiting_other_thread },
  { "/rule20/async/timeout", test_timeout },
  { "/rule20/async/kernel-error", test_kernel_error },
  { "/rule18/async/many-sockets", test_many_sockets },
  { "/rule18/async/threads", test_threads },
  { "/rule18/async/idle-context-elsewhere", test_idle_context_elsewhere },
  { "/rule21/async/references", test_references },
  { "/rule21/async/messages", test_messages },
  { "/rule21/async/programming-errors", test_programming_errors },
  { "/rule21/async/wrong-finish", test_wrong_finish },
};

GT_TEST_MAIN (tests)
