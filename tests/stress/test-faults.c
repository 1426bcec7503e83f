/* Faults from the system: a descriptor closed behind GSocket's back, a peer
 * that went away, a datagram too large in the middle of a batch, a tiny
 * send buffer. Rules: 1 (count vs error), 3 (non-blocking), 7 (bytes_sent),
 * 14 (error codes as g_io_error_from_errno, message names the index). */

#include "stress-common.h"

#include <fcntl.h>

static void
set_msg (GOutputMessage *m, GOutputVector *v, guint8 *buf, GSocketAddress *addr,
         guint32 id, guint32 seq, guint32 len)
{
  make_payload (buf, id, seq, len);
  v->buffer = buf;
  v->size = len;
  m->address = addr;
  m->vectors = v;
  m->num_vectors = 1;
  m->bytes_sent = 0xdeadbeef;
  m->control_messages = NULL;
  m->num_control_messages = 0;
}

static void
assert_error_names (GError *error, guint index, int err)
{
  char *want = g_strdup_printf ("Error sending message %u: %s", index, g_strerror (err));
  if (!strstr (error->message, want))
    g_error ("error message \"%s\" lacks \"%s\"", error->message, want);
  g_free (want);
}

/* Rule 14: the descriptor closed behind the GSocket's back → the errno
 * mapping of EBADF, for the batch twin and the single-message twins. The
 * fd number is re-occupied (by /dev/null) right after, before anything else
 * can reuse it, so the GSocket's finalize closes something harmless. */
static void
run_fd_closed (gboolean gso)
{
  GSocketAddress *addr;
  int rfd = gt_udp_receiver_fd (AF_INET, 8 * 1024 * 1024, &addr);
  GSocket *s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  gsend_socket_set_gso (s, gso);
  int fd = g_socket_get_fd (s);
  int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (devnull, >=, 0);
  GError *error = NULL;
  guint8 bufs[4][256];
  GOutputVector vecs[4];
  GOutputMessage msgs[4];
  for (guint i = 0; i < 4; i++)
    set_msg (&msgs[i], &vecs[i], bufs[i], addr, 0, i, 100);

  g_assert_cmpint (close (fd), ==, 0);

  gint r = gsend_socket_send_messages (s, msgs, 4, 0, NULL, &error);
  gint r0 = gsend_socket_send_messages_with_timeout (s, msgs, 4, 0, 0, NULL, NULL);
  GError *e2 = NULL, *e3 = NULL, *e4 = NULL;
  gssize r2 = gsend_socket_send_to (s, addr, (const gchar *) bufs[0], 100, NULL, &e2);
  gssize r3 = gsend_socket_send_message (s, addr, vecs, 1, NULL, 0, 0, NULL, &e3);
  gsize written = 12345;
  GPollableReturn pr = gsend_socket_send_message_with_timeout (s, addr, vecs, 1, NULL, 0, 0,
                                                               -1, &written, NULL, &e4);

  /* Put something harmless on the number again. */
  g_assert_cmpint (dup2 (devnull, fd), ==, fd);
  close (devnull);

  GIOErrorEnum want = g_io_error_from_errno (EBADF);
  g_test_message ("EMSGSIZE maps to %d", g_io_error_from_errno (EMSGSIZE));
  g_test_message ("EBADF maps to G_IO_ERROR code %d; gsend said %d \"%s\"", want,
                  error ? error->code : -1, error ? error->message : "(none)");
  g_assert_cmpint (r, ==, -1);
  g_assert_error (error, G_IO_ERROR, (gint) want);
  assert_error_names (error, 0, EBADF);
  g_assert_cmpint (r0, ==, -1);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);
  g_assert_cmpint (r2, ==, -1);
  g_assert_error (e2, G_IO_ERROR, (gint) want);
  g_assert_cmpint (r3, ==, -1);
  g_assert_error (e3, G_IO_ERROR, (gint) want);
  g_assert_cmpint (pr, ==, G_POLLABLE_RETURN_FAILED);
  g_assert_error (e4, G_IO_ERROR, (gint) want);

  /* Nothing arrived. */
  Tracker t;
  tracker_init (&t, 1, 16);
  drain_into (rfd, &t, 50);
  g_assert_cmpuint (t.total, ==, 0);
  tracker_clear (&t);

  g_clear_error (&error);
  g_clear_error (&e2);
  g_clear_error (&e3);
  g_clear_error (&e4);
  g_object_unref (s);
  g_object_unref (addr);
  close (rfd);
}

static void
test_fd_closed_gso (void)
{
  run_fd_closed (TRUE);
}

static void
test_fd_closed_plain (void)
{
  run_fd_closed (FALSE);
}

/* Rules 14 + 1: a connected UDP socket whose peer port is closed. The ICMP
 * error arrives after a send; the next call whose first datagram meets it
 * reports G_IO_ERROR_CONNECTION_REFUSED with nothing counted; the socket
 * keeps working afterwards and the counts stay consistent. */
static void
run_peer_gone (gboolean gso)
{
  GError *error = NULL;
  GSocketAddress *dead;
  int tmp = gt_udp_receiver_fd (AF_INET, 8 * 1024 * 1024, &dead);
  close (tmp); /* nobody listens on that port now */

  GSocket *s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  gsend_socket_set_gso (s, gso);
  g_assert_true (g_socket_connect (s, dead, NULL, &error));
  g_assert_no_error (error);

  guint8 bufs[8][256];
  GOutputVector vecs[8];
  GOutputMessage msgs[8];
  guint refused = 0, counted = 0, calls = 0;
  for (guint round = 0; round < 40 && refused < 3; round++)
    {
      for (guint i = 0; i < 8; i++)
        set_msg (&msgs[i], &vecs[i], bufs[i], NULL, 0, i, 100);
      gint r = gsend_socket_send_messages (s, msgs, 8, 0, NULL, &error);
      calls++;
      if (r < 0)
        {
          g_assert_error (error, G_IO_ERROR, (gint) g_io_error_from_errno (ECONNREFUSED));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
          assert_error_names (error, 0, ECONNREFUSED);
          g_clear_error (&error);
          for (guint i = 0; i < 8; i++)
            g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);
          refused++;
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpint (r, >=, 1);
          g_assert_cmpint (r, <=, 8);
          for (gint i = 0; i < r; i++)
            g_assert_cmpuint (msgs[i].bytes_sent, ==, 100);
          for (guint i = (guint) r; i < 8; i++)
            g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);
          counted += (guint) r;
        }
      g_usleep (5000); /* let the ICMP port-unreachable come back */
    }
  g_test_message ("peer gone (GSO %s): %u calls, %u refused, %u datagrams counted",
                  gso ? "on" : "off", calls, refused, counted);
  g_assert_cmpuint (refused, >, 0);
  g_assert_cmpuint (counted, >, 0);

  /* Single-message twin maps it the same way. */
  gssize rr = -2;
  for (guint round = 0; round < 40; round++)
    {
      rr = gsend_socket_send (s, (const gchar *) bufs[0], 100, NULL, &error);
      if (rr < 0)
        break;
      g_usleep (5000);
    }
  g_assert_cmpint (rr, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);

  g_object_unref (s);
  g_object_unref (dead);
}

static void
test_peer_gone_gso (void)
{
  run_peer_gone (TRUE);
}

static void
test_peer_gone_plain (void)
{
  run_peer_gone (FALSE);
}

/* Rules 1 + 14: EMSGSIZE at index k of a batch → k is returned (error
 * dropped) and exactly k datagrams arrive; the next call starting at the
 * oversized one → -1 with the EMSGSIZE mapping, nothing more arrives. */
static void
run_emsgsize (gboolean gso, guint k)
{
  enum { N = 6, BIG = 70000 };
  GSocketAddress *addr;
  int rfd = gt_udp_receiver_fd (AF_INET, 8 * 1024 * 1024, &addr);
  GSocket *s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  gsend_socket_set_gso (s, gso);
  GError *error = NULL;
  static guint8 bufs[N][BIG];
  GOutputVector vecs[N];
  GOutputMessage msgs[N];
  for (guint i = 0; i < N; i++)
    set_msg (&msgs[i], &vecs[i], bufs[i], addr, 0, i, i == k ? BIG : 200);

  gint r = gsend_socket_send_messages (s, msgs, N, 0, NULL, &error);
  if (k == 0)
    {
      g_assert_cmpint (r, ==, -1);
      g_assert_error (error, G_IO_ERROR, (gint) g_io_error_from_errno (EMSGSIZE));
      assert_error_names (error, 0, EMSGSIZE);
      g_clear_error (&error);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_cmpint (r, ==, (gint) k);
    }
  for (guint i = 0; i < k; i++)
    g_assert_cmpuint (msgs[i].bytes_sent, ==, 200);
  for (guint i = k; i < N; i++)
    g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);

  /* Resume at the oversized one, as a caller would. */
  if (k > 0)
    {
      gint r2 = gsend_socket_send_messages (s, msgs + k, N - k, 0, NULL, &error);
      g_assert_cmpint (r2, ==, -1);
      g_assert_error (error, G_IO_ERROR, (gint) g_io_error_from_errno (EMSGSIZE));
      assert_error_names (error, 0, EMSGSIZE);
      g_clear_error (&error);
      for (guint i = k; i < N; i++)
        g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);
    }
  /* Then skip it: the rest goes out. */
  gint r3 = gsend_socket_send_messages (s, msgs + k + 1, N - k - 1, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r3, ==, (gint) (N - k - 1));

  Tracker t;
  tracker_init (&t, 1, N);
  drain_into (rfd, &t, 100);
  guint32 counts[1] = { N };
  guint64 missing, beyond;
  tracker_check (&t, counts, &missing, &beyond);
  g_assert_cmpuint (t.bad, ==, 0);
  g_assert_cmpuint (t.dups, ==, 0);
  g_assert_cmpuint (t.total, ==, N - 1);
  g_assert_cmpuint (missing, ==, 1);
  g_assert_cmpuint (t.seen[k], ==, 0);
  tracker_clear (&t);

  g_object_unref (s);
  g_object_unref (addr);
  close (rfd);
}

static void
test_emsgsize_mid_gso (void)
{
  run_emsgsize (TRUE, 3);
}

static void
test_emsgsize_mid_plain (void)
{
  run_emsgsize (FALSE, 3);
}

static void
test_emsgsize_first (void)
{
  run_emsgsize (TRUE, 0);
}

static void
test_emsgsize_last (void)
{
  run_emsgsize (FALSE, 5);
}

/* Rules 3 + 1 + 7: non-blocking UDP with the smallest send buffer, large
 * batches. Each call returns a count or WOULD_BLOCK; the counted datagrams
 * all arrive, once each, none beyond. */
typedef struct
{
  int fd;
  Tracker t;
  gint stop;
} Rx;

static gpointer
rx_thread (gpointer data)
{
  Rx *rx = data;
  while (!g_atomic_int_get (&rx->stop))
    receive_round (rx->fd, &rx->t, 20, 64);
  drain_into (rx->fd, &rx->t, 200);
  return NULL;
}

static void
run_tiny_sndbuf (gboolean gso, guint32 len, gboolean unix_pair_)
{
  enum { BATCH = 500 };
  guint32 total = scaled (20000, 1000);
  GSocketAddress *addr = NULL;
  Rx rx = { 0 };
  GSocket *s;
  if (unix_pair_)
    s = unix_pair (&rx.fd);
  else
    {
      rx.fd = gt_udp_receiver_fd (AF_INET, 8 * 1024 * 1024, &addr);
      s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
      gsend_socket_set_gso (s, gso);
    }
  g_socket_set_blocking (s, FALSE);
  int one = 1;
  g_assert_cmpint (setsockopt (g_socket_get_fd (s), SOL_SOCKET, SO_SNDBUF, &one, sizeof one), ==, 0);
  int got = 0;
  socklen_t gl = sizeof got;
  getsockopt (g_socket_get_fd (s), SOL_SOCKET, SO_SNDBUF, &got, &gl);

  static guint8 bufs[BATCH][2048];
  static GOutputVector vecs[BATCH];
  static GOutputMessage msgs[BATCH];
  guint32 seq = 0;
  guint calls = 0, would_block = 0, partial = 0;

  watchdog (60);
  tracker_init (&rx.t, 1, total);
  GThread *rt = g_thread_new ("rx", rx_thread, &rx);
  while (seq < total)
    {
      guint k = MIN (BATCH, total - seq);
      for (guint i = 0; i < k; i++)
        set_msg (&msgs[i], &vecs[i], bufs[i], addr, 0, seq + i, len);
      GError *error = NULL;
      gint r = gsend_socket_send_messages (s, msgs, k, 0, NULL, &error);
      calls++;
      if (r < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          g_clear_error (&error);
          for (guint i = 0; i < k; i++)
            g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);
          would_block++;
          g_socket_condition_timed_wait (s, G_IO_OUT, 100000, NULL, NULL);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint (r, >=, 1); /* 0 only with an error */
      g_assert_cmpint (r, <=, (gint) k);
      for (gint i = 0; i < r; i++)
        g_assert_cmpuint (msgs[i].bytes_sent, ==, len);
      for (guint i = (guint) r; i < k; i++)
        g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);
      if ((guint) r < k)
        partial++;
      seq += (guint32) r;
      /* Keep the receiver's buffer from overflowing (loopback drops then). */
      while (rx.t.total + 2000 < seq)
        g_usleep (200);
    }
  g_atomic_int_set (&rx.stop, 1);
  g_thread_join (rt);

  guint32 counts[1] = { seq };
  guint64 missing, beyond;
  tracker_check (&rx.t, counts, &missing, &beyond);
  g_test_message ("FIGURE tiny SO_SNDBUF (%d) non-blocking %s, GSO %s, %u-byte datagrams: "
                  "%u counted in %u calls (%u partial, %u WOULD_BLOCK), %" G_GUINT64_FORMAT
                  " received; dups %" G_GUINT64_FORMAT ", missing %" G_GUINT64_FORMAT
                  ", beyond %" G_GUINT64_FORMAT,
                  got, unix_pair_ ? "AF_UNIX pair" : "UDP", gso ? "on" : "off", len, seq, calls, partial, would_block, rx.t.total,
                  rx.t.dups, missing, beyond);
  g_assert_cmpuint (rx.t.bad, ==, 0);
  g_assert_cmpuint (rx.t.dups, ==, 0);
  g_assert_cmpuint (missing, ==, 0);
  g_assert_cmpuint (beyond, ==, 0);
  g_assert_cmpuint (rx.t.total, ==, total);
  tracker_clear (&rx.t);
  g_object_unref (s);
  g_clear_object (&addr);
  close (rx.fd);
  alarm (0);
}

static void
test_tiny_sndbuf_gso (void)
{
  run_tiny_sndbuf (TRUE, 1400, FALSE);
}

static void
test_tiny_sndbuf_plain (void)
{
  run_tiny_sndbuf (FALSE, 1400, FALSE);
}

/* Same on an AF_UNIX pair, whose queue really fills: partial counts and
 * WOULD_BLOCK happen, and still nothing is lost or doubled. */
static void
test_tiny_sndbuf_unix (void)
{
  run_tiny_sndbuf (FALSE, 1400, TRUE);
}

/* Rules 14 + 5: the peer of an AF_UNIX datagram pair closed. Whatever errno
 * the kernel gives a plain send() on an identical pair, gsend reports its
 * mapping (EPIPE → CLOSED in the *_send_messages functions, rule 5), twice
 * in a row, nothing counted. */
static void
test_unix_peer_closed (void)
{
  int ref[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, ref), ==, 0);
  close (ref[1]);
  int rfd;
  GSocket *s = unix_pair (&rfd);
  close (rfd);

  for (guint round = 0; round < 2; round++)
    {
      errno = 0;
      ssize_t rr = send (ref[0], "x", 1, MSG_NOSIGNAL);
      int kerr = errno;
      g_assert_cmpint (rr, ==, -1);

      guint8 buf[64];
      GOutputVector v;
      GOutputMessage m;
      set_msg (&m, &v, buf, NULL, 0, 0, 32);
      GError *error = NULL;
      gint r = gsend_socket_send_messages (s, &m, 1, 0, NULL, &error);
      gint want = kerr == EPIPE ? G_IO_ERROR_CLOSED : (gint) g_io_error_from_errno (kerr);
      g_test_message ("round %u: kernel says %s; gsend: %d %s", round, g_strerror (kerr), r,
                      error ? error->message : "(no error)");
      g_assert_cmpint (r, ==, -1);
      g_assert_error (error, G_IO_ERROR, want);
      assert_error_names (error, 0, kerr);
      g_assert_cmpuint (m.bytes_sent, ==, 0xdeadbeef);
      g_clear_error (&error);
    }
  close (ref[0]);
  g_object_unref (s);
}

/* Rules 5 + 1 + 16: g_socket_close() from another thread while a thread
 * sends batches in a loop. Every call returns a count or an error (CLOSED,
 * or the EBADF mapping if the close landed between gsend's check and the
 * system call); once the close is done every call says CLOSED; nothing
 * crashes and the receiver got exactly the counted datagrams. */
typedef struct
{
  GSocket *sock;
  GSocketAddress *addr;
  gint closed;       /* set by the closer after g_socket_close returned */
  gint received;     /* receiver's progress, for pacing (loopback drops) */
  guint32 sent;
  guint calls, closed_errors, ebadf_errors, after_close_calls;
} CloseRun;

static gpointer
close_sender (gpointer data)
{
  enum { K = 16 };
  CloseRun *c = data;
  guint8 bufs[K][256];
  GOutputVector vecs[K];
  GOutputMessage msgs[K];
  guint after = 0;
  while (after < 200)
    {
      while (!g_atomic_int_get (&c->closed) &&
             c->sent > (guint32) g_atomic_int_get (&c->received) + 2000)
        g_usleep (50);
      gboolean was_closed = g_atomic_int_get (&c->closed);
      for (guint i = 0; i < K; i++)
        set_msg (&msgs[i], &vecs[i], bufs[i], c->addr, 0, c->sent + i, 100);
      GError *error = NULL;
      gint r = gsend_socket_send_messages (c->sock, msgs, K, 0, NULL, &error);
      c->calls++;
      if (r >= 0)
        {
          g_assert_no_error (error);
          g_assert_false (was_closed);
          g_assert_cmpint (r, >=, 1);
          for (gint i = 0; i < r; i++)
            g_assert_cmpuint (msgs[i].bytes_sent, ==, 100);
          c->sent += (guint32) r;
        }
      else
        {
          g_assert_nonnull (error);
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
            c->closed_errors++;
          else if (!was_closed &&
                   g_error_matches (error, G_IO_ERROR, g_io_error_from_errno (EBADF)))
            c->ebadf_errors++;
          else
            g_error ("unexpected error around g_socket_close: %s", error->message);
          g_clear_error (&error);
          for (guint i = 0; i < K; i++)
            g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);
        }
      if (was_closed)
        {
          g_assert_cmpint (r, ==, -1);
          after++;
        }
    }
  c->after_close_calls = after;
  return NULL;
}

static void
test_close_from_other_thread (void)
{
  GError *error = NULL;
  GSocketAddress *addr;
  int rfd = gt_udp_receiver_fd (AF_INET, 8 * 1024 * 1024, &addr);
  GSocket *s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  CloseRun c = { .sock = s, .addr = addr };

  watchdog (60);
  Tracker t;
  tracker_init (&t, 1, 4 * 1024 * 1024);
  GThread *th = g_thread_new ("sender", close_sender, &c);
  /* Let it send for a while, draining so the receiver never overflows. */
  gint64 end = g_get_monotonic_time () + 50000;
  while (g_get_monotonic_time () < end)
    {
      receive_round (rfd, &t, 1, 64);
      g_atomic_int_set (&c.received, (gint) t.total);
    }
  g_assert_true (g_socket_close (s, &error));
  g_assert_no_error (error);
  g_atomic_int_set (&c.closed, 1);
  g_thread_join (th);
  drain_into (rfd, &t, 100);

  guint32 counts[1] = { c.sent };
  guint64 missing, beyond;
  tracker_check (&t, counts, &missing, &beyond);
  g_test_message ("FIGURE close from another thread: %u calls, %u datagrams counted, %"
                  G_GUINT64_FORMAT " received; %u CLOSED (%u after the close), %u EBADF; missing %"
                  G_GUINT64_FORMAT ", dups %" G_GUINT64_FORMAT ", beyond %" G_GUINT64_FORMAT,
                  c.calls, c.sent, t.total, c.closed_errors, c.after_close_calls, c.ebadf_errors,
                  missing, t.dups, beyond);
  g_assert_cmpuint (c.sent, >, 0);
  g_assert_cmpuint (c.after_close_calls, ==, 200);
  tracker_assert_exact (&t, missing, beyond);
  udp_case_end (&t, s, addr, rfd);
}

static const GtTest tests[] = {
  { "/rule14/fd-closed-behind-back-ebadf-gso", test_fd_closed_gso },
  { "/rule14/fd-closed-behind-back-ebadf-plain", test_fd_closed_plain },
  { "/rule14/peer-gone-connection-refused-gso", test_peer_gone_gso },
  { "/rule14/peer-gone-connection-refused-plain", test_peer_gone_plain },
  { "/rule14/unix-peer-closed-errno-mapping", test_unix_peer_closed },
  { "/rule05/g-socket-close-from-another-thread", test_close_from_other_thread },
  { "/rule01/emsgsize-mid-batch-count-then-error-gso", test_emsgsize_mid_gso },
  { "/rule01/emsgsize-mid-batch-count-then-error-plain", test_emsgsize_mid_plain },
  { "/rule14/emsgsize-first-message", test_emsgsize_first },
  { "/rule01/emsgsize-last-message", test_emsgsize_last },
  { "/rule03/tiny-sndbuf-nonblocking-exact-gso", test_tiny_sndbuf_gso },
  { "/rule03/tiny-sndbuf-nonblocking-exact-plain", test_tiny_sndbuf_plain },
  { "/rule03/tiny-sndbuf-nonblocking-exact-unix", test_tiny_sndbuf_unix },
};

STRESS_TEST_MAIN (tests)
