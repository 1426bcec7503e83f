/* A program that knows nothing about gsend: built against GIO only, it
 * never includes gsend.h and never links libgsend. Run with
 * LD_PRELOAD=libgsend-preload.so it must be routed through gsend.
 *
 * The environment variable EXPECT says which implementation the run must
 * show: EXPECT=shim (under LD_PRELOAD) or EXPECT=gio (plain GIO). The same
 * binary runs both ways, so every check that proves the shim took effect
 * also shows it can fail.
 *
 *  - /preload/no-cap/batch-udp, /preload/no-cap/batch-unix: one
 *    g_socket_send_messages call with 3000 datagrams. GIO caps a call at
 *    1024 messages; gsend has none (docs/behaviour.md, "Differences from GIO"), so the call returns 3000
 *    under the shim and 1024 without.
 *  - /preload/rule05/epipe: g_socket_send_messages on a stream whose write
 *    side is shut down: gsend says G_IO_ERROR_CLOSED with "message 0" in
 *    the text (rules 5 and 14), GIO says G_IO_ERROR_BROKEN_PIPE; the
 *    single-message g_socket_send keeps BROKEN_PIPE in both.
 *  - /preload/rule02/datagram-based-timeout: g_datagram_based_send_messages
 *    on a socket with a timeout: gsend -1 with G_IO_ERROR_NOT_SUPPORTED,
 *    GIO 2.74 -1 without an error (and a GLib-GIO critical).
 *  - /preload/rule12/null-socket: g_socket_send_messages (NULL, ...) is a
 *    critical and -1 under the shim, worded as GIO words it (domain
 *    "GLib-GIO", g_socket_send_messages_with_timeout's check; GIO itself
 *    crashes: skipped without the shim).
 *  - one test per single-message name (g_socket_send_to, g_socket_send,
 *    g_socket_send_message, g_socket_send_message_with_timeout,
 *    g_socket_send_with_blocking) and g_datagram_based_send_messages: the
 *    payload arrives intact at a real loopback peer. The runners prove
 *    from LD_DEBUG=bindings (run-glib-tests.py --program) and gdb call
 *    counts (run-call-counts.py) that each name reached libgsend-preload.so.
 *
 * Real sockets only: UDP on 127.0.0.1 and AF_UNIX socketpairs.
 */
#define GSEND_TEST_GIO_ONLY /* this program never sees gsend.h */
#include "gsend-test.h"
#include <sys/socket.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#define N_BATCH 3000
#define RECV_TIMEOUT_S 5

/* TRUE when this run must show gsend (EXPECT=shim), FALSE for plain GIO. */
static gboolean
under_shim (void)
{
  const char *e = g_getenv ("EXPECT");
  g_assert_nonnull (e); /* the runner must say what it expects */
  g_assert_true (g_str_equal (e, "shim") || g_str_equal (e, "gio"));
  return g_str_equal (e, "shim");
}

static guint
expected_batch (void)
{
  return under_shim () ? N_BATCH : 1024; /* GIO's per-call cap */
}

typedef struct {
  GSocket *recv_sock;
  GCancellable *stop;      /* the sender stops a receive that waits on */
  gint arrived;            /* atomic */
  gboolean bad_payload;
} Receiver;

/* Counts datagrams until stopped, or the socket's timeout hits. */
static gpointer
receiver_thread (gpointer data)
{
  Receiver *r = data;
  gchar buf[64];

  for (;;)
    {
      GError *error = NULL;
      gssize n = g_socket_receive (r->recv_sock, buf, sizeof buf, r->stop, &error);
      if (n < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          g_clear_error (&error);
          break;
        }
      /* payload is the 4-byte little-endian message index, in order */
      guint32 idx;
      if (n != 4)
        r->bad_payload = TRUE;
      else
        {
          memcpy (&idx, buf, 4);
          if (GUINT32_FROM_LE (idx) != (guint32) g_atomic_int_get (&r->arrived))
            r->bad_payload = TRUE;
        }
      g_atomic_int_inc (&r->arrived);
    }
  return NULL;
}

static void
make_udp_pair (GSocket **sender, GSocket **receiver, GSocketAddress **dest)
{
  *receiver = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  /* Room for a burst; the receive thread drains concurrently. SO_RCVBUFFORCE
   * works as root, plain SO_RCVBUF is capped by rmem_max otherwise. */
  gt_rcvbuf (*receiver, 16 << 20, 16 << 20);
  g_socket_set_timeout (*receiver, RECV_TIMEOUT_S);
  *dest = gt_local_addr (*receiver);
  *sender = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
}

static void
make_unix_pair (GSocket **sender, GSocket **receiver)
{
  gt_unix_pair (SOCK_DGRAM | SOCK_CLOEXEC, sender, receiver);
  g_socket_set_timeout (*receiver, RECV_TIMEOUT_S);
}

/* One g_socket_send_messages call with N_BATCH 4-byte datagrams. */
static void
send_batch (GSocket *sender, GSocket *receiver, GSocketAddress *dest,
            gboolean lossless, const char *what)
{
  GError *error = NULL;
  GOutputMessage *msgs = g_new0 (GOutputMessage, N_BATCH);
  GOutputVector *vecs = g_new0 (GOutputVector, N_BATCH);
  guint32 *payload = g_new (guint32, N_BATCH);
  guint want = expected_batch ();
  Receiver r = { receiver, g_cancellable_new (), 0, FALSE };
  GThread *t;
  gint sent;
  gint64 deadline;

  for (guint i = 0; i < N_BATCH; i++)
    {
      payload[i] = GUINT32_TO_LE (i);
      vecs[i].buffer = &payload[i];
      vecs[i].size = 4;
      msgs[i].address = dest;
      msgs[i].vectors = &vecs[i];
      msgs[i].num_vectors = 1;
    }

  t = g_thread_new ("receiver", receiver_thread, &r);
  sent = g_socket_send_messages (sender, msgs, N_BATCH, 0, NULL, &error);
  g_assert_no_error (error);
  /* wait (bounded) for what the call reported, then stop the receiver */
  deadline = g_get_monotonic_time () + RECV_TIMEOUT_S * G_USEC_PER_SEC;
  while (g_atomic_int_get (&r.arrived) < sent && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_cancellable_cancel (r.stop);
  g_thread_join (t);
  g_object_unref (r.stop);

  g_printerr ("%s: one g_socket_send_messages call of %d messages returned %d; "
              "%d arrived; expected %u\n", what, N_BATCH, sent, r.arrived, want);
  g_test_message ("%s: call returned %d, %d arrived", what, sent, r.arrived);

  g_assert_cmpint (sent, ==, (gint) want);
  for (gint i = 0; i < sent; i++)
    g_assert_cmpuint (msgs[i].bytes_sent, ==, 4);
  if (lossless)
    {
      g_assert_cmpint (r.arrived, ==, sent);
      g_assert_false (r.bad_payload);
    }
  else
    g_assert_cmpint (r.arrived, >, 0);

  g_free (payload);
  g_free (vecs);
  g_free (msgs);
}

static void
test_batch_udp (void)
{
  GSocket *s, *r;
  GSocketAddress *dest;

  make_udp_pair (&s, &r, &dest);
  /* UDP may drop on a full receive queue, so arrivals are reported, and
   * checked exactly only on the AF_UNIX pair below. */
  send_batch (s, r, dest, FALSE, "udp 127.0.0.1");
  g_object_unref (dest);
  g_object_unref (s);
  g_object_unref (r);
}

static void
test_batch_unix (void)
{
  GSocket *s, *r;

  make_unix_pair (&s, &r);
  /* AF_UNIX datagrams are never dropped: the blocking sender waits for the
   * receiver, so every datagram the call reports must arrive, in order. */
  send_batch (s, r, NULL, TRUE, "unix socketpair");
  g_object_unref (s);
  g_object_unref (r);
}

/* Receives one datagram and checks it is `expect`. */
static void
assert_received (GSocket *receiver, const char *expect)
{
  GError *error = NULL;
  gchar buf[256];
  gssize n = g_socket_receive (receiver, buf, sizeof buf - 1, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (n, ==, (gssize) strlen (expect));
  buf[n] = '\0';
  g_assert_cmpstr (buf, ==, expect);
}

/* A loopback UDP sender and receiver (make_udp_pair) for one call of a
 * single-message name; the sender is connected when the name has no
 * address argument. */
typedef struct
{
  GSocket *s, *r;
  GSocketAddress *dest;
  GError *error;
} UdpCase;

static void
udp_case_open (UdpCase *c, gboolean connect)
{
  make_udp_pair (&c->s, &c->r, &c->dest);
  c->error = NULL;
  if (connect)
    {
      g_assert_true (g_socket_connect (c->s, c->dest, NULL, &c->error));
      g_assert_no_error (c->error);
    }
}

/* The call made no error and each of the @n datagrams @expect arrived, in
 * order; then the case is freed. */
static void
udp_case_close (UdpCase *c, const char *const *expect, guint n)
{
  g_assert_no_error (c->error);
  for (guint i = 0; i < n; i++)
    assert_received (c->r, expect[i]);
  g_object_unref (c->dest);
  g_object_unref (c->s);
  g_object_unref (c->r);
}

static void
test_send_to (void)
{
  UdpCase c;
  const char *p = "via g_socket_send_to";

  udp_case_open (&c, FALSE);
  g_assert_cmpint (g_socket_send_to (c.s, c.dest, p, strlen (p), NULL, &c.error), ==, strlen (p));
  udp_case_close (&c, &p, 1);
}

static void
test_send (void)
{
  UdpCase c;
  const char *p = "via g_socket_send";

  udp_case_open (&c, TRUE);
  g_assert_cmpint (g_socket_send (c.s, p, strlen (p), NULL, &c.error), ==, strlen (p));
  udp_case_close (&c, &p, 1);
}

static void
test_send_with_blocking (void)
{
  UdpCase c;
  const char *p = "via g_socket_send_with_blocking";

  udp_case_open (&c, TRUE);
  g_assert_cmpint (g_socket_send_with_blocking (c.s, p, strlen (p), FALSE, NULL, &c.error), ==, strlen (p));
  udp_case_close (&c, &p, 1);
}

static void
test_send_message (void)
{
  UdpCase c;
  GOutputVector v[2] = { { "via g_socket_", 13 }, { "send_message", 12 } };
  const char *p = "via g_socket_send_message";

  udp_case_open (&c, FALSE);
  g_assert_cmpint (g_socket_send_message (c.s, c.dest, v, 2, NULL, 0, 0, NULL, &c.error), ==, 25);
  udp_case_close (&c, &p, 1);
}

static void
test_send_message_with_timeout (void)
{
  UdpCase c;
  const char *p = "via g_socket_send_message_with_timeout";
  GOutputVector v = { p, strlen (p) };
  gsize written = 0;

  udp_case_open (&c, FALSE);
  g_assert_cmpint (g_socket_send_message_with_timeout (c.s, c.dest, &v, 1, NULL, 0, 0, G_USEC_PER_SEC, &written,
                                                       NULL, &c.error),
                   ==, G_POLLABLE_RETURN_OK);
  g_assert_no_error (c.error);
  g_assert_cmpuint (written, ==, strlen (p));
  udp_case_close (&c, &p, 1);
}

static void
test_datagram_based_send_messages (void)
{
  UdpCase c;
  const char *p[2] = { "via g_datagram_based_send_messages #1", "via g_datagram_based_send_messages #2" };
  GOutputVector v[2] = { { p[0], strlen (p[0]) }, { p[1], strlen (p[1]) } };
  GOutputMessage m[2] = { { NULL, &v[0], 1, 0, NULL, 0 }, { NULL, &v[1], 1, 0, NULL, 0 } };

  udp_case_open (&c, FALSE);
  m[0].address = m[1].address = c.dest;
  g_assert_cmpint (g_datagram_based_send_messages (G_DATAGRAM_BASED (c.s), m, 2, 0, -1, NULL, &c.error), ==, 2);
  g_assert_no_error (c.error);
  g_assert_cmpuint (m[0].bytes_sent, ==, strlen (p[0]));
  g_assert_cmpuint (m[1].bytes_sent, ==, strlen (p[1]));
  udp_case_close (&c, p, 2);
}

static void
test_rule05_epipe (void)
{
  GError *error = NULL;
  int fds[2];
  GSocket *a, *b;
  GOutputVector v = { "x", 1 };
  GOutputMessage m = { NULL, &v, 1, 0, NULL, 0 };
  gint r;
  gssize n;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  a = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  b = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  g_assert_cmpint (shutdown (fds[0], SHUT_WR), ==, 0);

  r = g_socket_send_messages (a, &m, 1, 0, NULL, &error);
  g_assert_cmpint (r, ==, -1);
  g_assert_nonnull (error);
  g_test_message ("send_messages after SHUT_WR: %s (code %d)", error->message, error->code);
  if (under_shim ())
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      g_assert_nonnull (strstr (error->message, "message 0"));
    }
  else
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_clear_error (&error);

  /* the single-message names keep GIO's mapping either way */
  n = g_socket_send (a, "x", 1, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_clear_error (&error);

  g_object_unref (a);
  g_object_unref (b);
}

static void
test_rule02_datagram_based_timeout (void)
{
  GError *error = NULL;
  GSocket *s, *r;
  GOutputVector v = { "x", 1 };
  GOutputMessage m = { NULL, &v, 1, 0, NULL, 0 };
  gint ret;

  make_unix_pair (&s, &r);
  g_socket_set_timeout (s, 5);
  if (!under_shim ())
    g_test_expect_message ("GLib-GIO", G_LOG_LEVEL_CRITICAL, "*child_error*");
  ret = g_datagram_based_send_messages (G_DATAGRAM_BASED (s), &m, 1, 0, -1, NULL, &error);
  g_assert_cmpint (ret, ==, -1);
  if (under_shim ())
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  else
    {
      g_test_assert_expected_messages ();
      g_assert_no_error (error); /* GIO 2.74: -1 but no error */
    }
  g_clear_error (&error);
  g_object_unref (s);
  g_object_unref (r);
}

static void
test_rule12_null_socket (void)
{
  GOutputVector v = { "x", 1 };
  GOutputMessage m = { NULL, &v, 1, 0, NULL, 0 };
  GError *error = NULL;

  if (!under_shim ())
    {
      g_test_skip ("GIO 2.74 crashes on a NULL socket here");
      return;
    }
  /* GIO's own domain and text (its private
   * g_socket_send_messages_with_timeout makes the check). */
  g_test_expect_message ("GLib-GIO", G_LOG_LEVEL_CRITICAL,
                         "g_socket_send_messages_with_timeout: assertion 'G_IS_SOCKET (socket)' failed");
  g_assert_cmpint (g_socket_send_messages (NULL, &m, 1, 0, NULL, &error), ==, -1);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
}

static const GtTest tests[] = {
  { "/preload/no-cap/batch-udp", test_batch_udp },
  { "/preload/no-cap/batch-unix", test_batch_unix },
  { "/preload/rule05/epipe", test_rule05_epipe },
  { "/preload/rule02/datagram-based-timeout", test_rule02_datagram_based_timeout },
  { "/preload/rule12/null-socket", test_rule12_null_socket },
  { "/preload/send-to", test_send_to },
  { "/preload/send", test_send },
  { "/preload/send-with-blocking", test_send_with_blocking },
  { "/preload/send-message", test_send_message },
  { "/preload/send-message-with-timeout", test_send_message_with_timeout },
  { "/preload/datagram-based-send-messages", test_datagram_based_send_messages },
};

GT_TEST_MAIN (tests)
