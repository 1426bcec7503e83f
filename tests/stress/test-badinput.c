/* Bad input: programming errors are refused with a critical in log domain
 * "GSend" and -1 / G_POLLABLE_RETURN_FAILED, nothing sent, nothing crashed
 * (rule 12); sizes whose sum overflows → INVALID_ARGUMENT (rule 13); huge
 * batches (no 1024 cap); addresses of the wrong kind → a GError.
 *
 * One test per (twin, fault) row. The sender is one end of an AF_UNIX
 * datagram pair; after each refused call the other end must be empty. */

#include "stress-common.h"

#include <gio/gunixsocketaddress.h>

typedef enum
{
  TWIN_DATAGRAM_BASED,
  TWIN_SEND_MESSAGES,
  TWIN_SEND_MESSAGES_TIMEOUT,
  TWIN_SEND_MESSAGE,
  TWIN_SEND_MESSAGE_TIMEOUT,
  TWIN_SEND_TO,
  TWIN_SEND,
  TWIN_SEND_WITH_BLOCKING,
  TWIN_SEND_DATAGRAMS,
  N_TWINS
} Twin;

static const char *twin_names[N_TWINS] = {
  "datagram-based-send-messages",
  "socket-send-messages",
  "socket-send-messages-with-timeout",
  "socket-send-message",
  "socket-send-message-with-timeout",
  "socket-send-to",
  "socket-send",
  "socket-send-with-blocking",
  "socket-send-datagrams",
};

typedef enum
{
  FAULT_NULL_SOCKET,
  FAULT_WRONG_TYPE_SOCKET,
  FAULT_NULL_MESSAGES,      /* messages / datagrams / vectors / buffer NULL, n > 0 */
  FAULT_ERROR_ALREADY_SET,
  FAULT_NULL_VECTORS,       /* a message's vectors NULL with num_vectors > 0 */
  FAULT_WRONG_CANCELLABLE,  /* some other GObject passed as the GCancellable */
  N_FAULTS
} Fault;

static const char *fault_names[N_FAULTS] = {
  "null-socket",
  "wrong-type-socket",
  "null-messages",
  "error-already-set",
  "null-vectors",
  "wrong-type-cancellable",
};

typedef struct
{
  Twin twin;
  Fault fault;
} Row;

/* Whether a row makes sense for a twin. */
static gboolean
row_applies (Twin twin, Fault fault)
{
  switch (fault)
    {
    case FAULT_NULL_VECTORS:
      /* A message's vectors: the batch twins and the single-message ones
       * that take vectors. */
      return twin == TWIN_DATAGRAM_BASED || twin == TWIN_SEND_MESSAGES ||
             twin == TWIN_SEND_MESSAGES_TIMEOUT || twin == TWIN_SEND_MESSAGE ||
             twin == TWIN_SEND_MESSAGE_TIMEOUT;
    case FAULT_NULL_MESSAGES:
      /* For send_message(_with_timeout) this is NULL vectors with a count
       * (covered by FAULT_NULL_VECTORS); for send/send_with_blocking a NULL
       * buffer. send_to with a NULL buffer is no programming error in GIO
       * (it reaches the kernel: EFAULT), see test_null_buffer_efault. */
      return twin != TWIN_SEND_MESSAGE && twin != TWIN_SEND_MESSAGE_TIMEOUT &&
             twin != TWIN_SEND_TO;
    default:
      return TRUE;
    }
}

/* Call the twin; returns its result as a gssize (-1 for
 * G_POLLABLE_RETURN_FAILED, so every refusal compares with -1). */
static gssize
call_twin (Twin twin, gpointer sock, GOutputMessage *msgs, guint n, GOutputVector *vecs,
           gint nvecs, const gchar *buf, gsize size, GBytes **dgrams, GCancellable *canc,
           GError **error)
{
  switch (twin)
    {
    case TWIN_DATAGRAM_BASED:
      return gsend_datagram_based_send_messages (sock, msgs, n, 0, -1, canc, error);
    case TWIN_SEND_MESSAGES:
      return gsend_socket_send_messages (sock, msgs, n, 0, canc, error);
    case TWIN_SEND_MESSAGES_TIMEOUT:
      return gsend_socket_send_messages_with_timeout (sock, msgs, n, 0, -1, canc, error);
    case TWIN_SEND_MESSAGE:
      return gsend_socket_send_message (sock, NULL, vecs, nvecs, NULL, 0, 0, canc, error);
    case TWIN_SEND_MESSAGE_TIMEOUT:
      {
        gsize written = 777;
        GPollableReturn r = gsend_socket_send_message_with_timeout (sock, NULL, vecs, nvecs, NULL,
                                                                    0, 0, -1, &written, canc, error);
        if (r == G_POLLABLE_RETURN_FAILED)
          {
            return -1;
          }
        return r == G_POLLABLE_RETURN_OK ? (gssize) written : -2;
      }
    case TWIN_SEND_TO:
      return gsend_socket_send_to (sock, NULL, buf, size, canc, error);
    case TWIN_SEND:
      return gsend_socket_send (sock, buf, size, canc, error);
    case TWIN_SEND_WITH_BLOCKING:
      return gsend_socket_send_with_blocking (sock, buf, size, TRUE, canc, error);
    case TWIN_SEND_DATAGRAMS:
      return gsend_socket_send_datagrams (sock, NULL, dgrams, n, 0, -1, canc, error);
    default:
      g_assert_not_reached ();
    }
}

static void
assert_empty (int fd)
{
  guint8 b[64];
  ssize_t r = recv (fd, b, sizeof b, MSG_DONTWAIT);
  g_assert_cmpint (r, ==, -1);
  g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
test_row (gconstpointer data)
{
  const Row *row = data;
  /* NULL vectors would be read if the check were missing: guarded, so a
   * crash fails this row by name. */
  if (row->fault == FAULT_NULL_VECTORS &&
      !test_guarded (30, RUNNING_ON_VALGRIND, "NULL vectors were not refused before they were read"))
    return;
  int rfd;
  GSocket *s = unix_pair (&rfd);
  GCancellable *real_canc = g_cancellable_new ();
  GObject *other = g_object_new (G_TYPE_OBJECT, NULL);
  guint8 payload[32] = "bad input must not go out";
  GOutputVector vec = { payload, sizeof payload };
  GOutputVector vecs[2] = { { payload, 10 }, { payload + 10, 10 } };
  GOutputMessage msg = { NULL, vecs, 2, 0xdeadbeef, NULL, 0 };
  GBytes *bytes = g_bytes_new_static (payload, sizeof payload);
  GBytes *dgrams[1] = { bytes };
  GError *error = NULL;
  GError *preset = NULL;

  gpointer sock = s;
  GOutputMessage *msgs = &msg;
  guint n = 1;
  GOutputVector *v = &vec;
  gint nv = 1;
  const gchar *buf = (const gchar *) payload;
  gsize size = sizeof payload;
  GBytes **dg = dgrams;
  GCancellable *canc = real_canc;

  switch (row->fault)
    {
    case FAULT_NULL_SOCKET:
      sock = NULL;
      break;
    case FAULT_WRONG_TYPE_SOCKET:
      sock = real_canc; /* a GObject that is no GSocket nor GDatagramBased */
      break;
    case FAULT_NULL_MESSAGES:
      msgs = NULL;
      n = 3;
      buf = NULL;
      dg = NULL;
      break;
    case FAULT_ERROR_ALREADY_SET:
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_EXISTS, "set before the call");
      preset = error;
      break;
    case FAULT_NULL_VECTORS:
      msg.vectors = NULL;
      msg.num_vectors = 2;
      v = NULL;
      nv = 2;
      break;
    case FAULT_WRONG_CANCELLABLE:
      canc = (GCancellable *) other;
      break;
    default:
      g_assert_not_reached ();
    }

  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "*");
  gssize r = call_twin (row->twin, sock, msgs, n, v, nv, buf, size, dg, canc, &error);
  g_test_assert_expected_messages ();

  g_assert_cmpint (r, ==, -1);
  if (preset)
    {
      /* The caller's error is left as it was. */
      g_assert_true (error == preset);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
      g_assert_cmpstr (error->message, ==, "set before the call");
    }
  else
    g_assert_no_error (error);
  g_assert_cmpuint (msg.bytes_sent, ==, 0xdeadbeef);
  assert_empty (rfd);

  /* The process and the socket are fine: a correct call still works. */
  g_clear_error (&error);
  vecs[0] = (GOutputVector) { payload, 10 };
  vecs[1] = (GOutputVector) { payload + 10, 10 };
  GOutputMessage ok = { NULL, vecs, 2, 0, NULL, 0 };
  g_assert_cmpint (gsend_socket_send_messages (s, &ok, 1, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (ok.bytes_sent, ==, 20);

  g_bytes_unref (bytes);
  g_object_unref (other);
  g_object_unref (real_canc);
  g_object_unref (s);
  close (rfd);
}

/* A NULL buffer with a size inside a vector (or given to send_to) is not
 * checked by GIO: the kernel says EFAULT. gsend must give the mapped error,
 * send nothing and not crash. */
static void
test_null_buffer_efault (void)
{
  if (RUNNING_ON_VALGRIND)
    {
      /* memcheck rightly flags the NULL buffer handed to the kernel. */
      g_test_skip ("deliberately passes a NULL buffer to sendmsg; not under valgrind");
      return;
    }
  int rfd;
  GSocket *s = unix_pair (&rfd);
  GError *error = NULL;
  GOutputVector v = { NULL, 32 };
  GOutputMessage m = { NULL, &v, 1, 0xdeadbeef, NULL, 0 };

  gssize r = gsend_socket_send_to (s, NULL, NULL, 32, NULL, &error);
  g_assert_cmpint (r, ==, -1);
  g_assert_error (error, G_IO_ERROR, (gint) g_io_error_from_errno (EFAULT));
  g_clear_error (&error);

  gint n = gsend_socket_send_messages (s, &m, 1, 0, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, (gint) g_io_error_from_errno (EFAULT));
  g_assert_true (strstr (error->message, "message 0") != NULL);
  g_assert_cmpuint (m.bytes_sent, ==, 0xdeadbeef);
  g_clear_error (&error);
  assert_empty (rfd);
  g_object_unref (s);
  close (rfd);
}

/* Rule 13: two vectors of G_MAXSIZE/2+1 bytes overflow the sum. */
static void
test_overflow (gconstpointer data)
{
  Twin twin = GPOINTER_TO_INT (data);
  int rfd;
  GSocket *s = unix_pair (&rfd);
  guint8 payload[16] = { 0 };
  GOutputVector vecs[2] = { { payload, G_MAXSIZE / 2 + 1 }, { payload, G_MAXSIZE / 2 + 1 } };
  GOutputMessage msg = { NULL, vecs, 2, 0xdeadbeef, NULL, 0 };
  GError *error = NULL;
  gssize r = call_twin (twin, s, &msg, 1, vecs, 2, NULL, 0, NULL, NULL, &error);
  g_assert_cmpint (r, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (msg.bytes_sent, ==, 0xdeadbeef);
  g_clear_error (&error);
  assert_empty (rfd);
  g_object_unref (s);
  close (rfd);
}

/* Overflow in the second message of a batch: nothing of the batch goes out
 * (rule 13 says nothing sent), or, if the first is sent, the count is 1 and
 * the overflowing one never leaves. */
static void
test_overflow_second_message (void)
{
  int rfd;
  GSocket *s = unix_pair (&rfd);
  guint8 payload[16] = "ok";
  GOutputVector good = { payload, 16 };
  GOutputVector bad[2] = { { payload, G_MAXSIZE / 2 + 1 }, { payload, G_MAXSIZE / 2 + 1 } };
  GOutputMessage msgs[2] = { { NULL, &good, 1, 0xdeadbeef, NULL, 0 },
                             { NULL, bad, 2, 0xdeadbeef, NULL, 0 } };
  GError *error = NULL;
  gint r = gsend_socket_send_messages (s, msgs, 2, 0, NULL, &error);
  g_test_message ("overflow at index 1: returned %d (%s)", r, error ? error->message : "no error");
  if (r == -1)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_cmpuint (msgs[0].bytes_sent, ==, 0xdeadbeef);
      assert_empty (rfd);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_cmpint (r, ==, 1);
      g_assert_cmpuint (msgs[0].bytes_sent, ==, 16);
      guint8 b[64];
      g_assert_cmpint (recv (rfd, b, sizeof b, MSG_DONTWAIT), ==, 16);
      assert_empty (rfd);
    }
  g_assert_cmpuint (msgs[1].bytes_sent, ==, 0xdeadbeef);
  g_clear_error (&error);
  g_object_unref (s);
  close (rfd);
}

/* 100,000 messages in one call (GIO would stop at 1024): on an AF_UNIX pair
 * drained by a thread, all are sent (blocking) and arrive exactly once. */
typedef struct
{
  int fd;
  Tracker t;
  guint64 want;
} Drain;

static gpointer
drain_thread (gpointer data)
{
  Drain *d = data;
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (d->t.total + d->t.bad + d->t.dups < d->want && g_get_monotonic_time () < deadline)
    receive_round (d->fd, &d->t, 100, 64);
  drain_into (d->fd, &d->t, 100);
  return NULL;
}

static void
run_huge_batch (gboolean udp)
{
  guint n = scaled (100000, 5000);
  GOutputMessage *msgs = g_new0 (GOutputMessage, n);
  GOutputVector *vecs = g_new0 (GOutputVector, n);
  guint8 *bufs = g_malloc ((gsize) n * 32);
  GSocketAddress *addr = NULL;
  Drain d = { 0 };
  GSocket *s;
  GError *error = NULL;

  watchdog (120);
  if (udp)
    {
      /* Blocking UDP can drop at the receiver; pacing inside one call is
       * impossible, so give the receiver the biggest buffer and accept only
       * what the count says: every counted datagram is either received or
       * the test reports the loss figure (no duplicates, nothing beyond). */
      d.fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      int big = 64 * 1024 * 1024;
      if (setsockopt (d.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt (d.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
      struct sockaddr_in sin = { .sin_family = AF_INET };
      sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      g_assert_cmpint (bind (d.fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
      socklen_t sl = sizeof sin;
      getsockname (d.fd, (struct sockaddr *) &sin, &sl);
      addr = g_socket_address_new_from_native (&sin, sizeof sin);
      s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
      g_assert_no_error (error);
    }
  else
    s = unix_pair (&d.fd);

  for (guint i = 0; i < n; i++)
    {
      make_payload (bufs + (gsize) i * 32, 0, i, 32);
      vecs[i] = (GOutputVector) { bufs + (gsize) i * 32, 32 };
      msgs[i] = (GOutputMessage) { addr, &vecs[i], 1, 0xdeadbeef, NULL, 0 };
    }
  tracker_init (&d.t, 1, n);
  d.want = n;
  GThread *t = g_thread_new ("drain", drain_thread, &d);
  gint64 t0 = g_get_monotonic_time ();
  gint r = gsend_socket_send_messages (s, msgs, n, 0, NULL, &error);
  gint64 dt = g_get_monotonic_time () - t0;
  g_assert_no_error (error);
  if (r < (gint) n)
    d.want = (guint) MAX (r, 0);
  g_thread_join (t);

  guint32 counts[1] = { (guint32) MAX (r, 0) };
  guint64 missing, beyond;
  tracker_check (&d.t, counts, &missing, &beyond);
  g_test_message ("FIGURE %u messages in one call on %s: returned %d in %.2f s; %"
                  G_GUINT64_FORMAT " received, missing %" G_GUINT64_FORMAT ", dups %"
                  G_GUINT64_FORMAT ", beyond %" G_GUINT64_FORMAT,
                  n, udp ? "UDP" : "AF_UNIX", r, dt / 1e6, d.t.total, missing, d.t.dups, beyond);
  g_assert_cmpint (r, ==, (gint) n); /* blocking: all of them */
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (msgs[i].bytes_sent, ==, 32);
  g_assert_cmpuint (d.t.bad, ==, 0);
  g_assert_cmpuint (d.t.dups, ==, 0);
  g_assert_cmpuint (beyond, ==, 0);
  if (!udp)
    g_assert_cmpuint (missing, ==, 0);
  else if (missing)
    g_test_message ("UDP receiver dropped %" G_GUINT64_FORMAT " (receive buffer overflow, not a send error)", missing);

  tracker_clear (&d.t);
  g_free (msgs);
  g_free (vecs);
  g_free (bufs);
  g_clear_object (&addr);
  g_object_unref (s);
  close (d.fd);
  alarm (0);
}

static void
test_huge_batch_unix (void)
{
  run_huge_batch (FALSE);
}

static void
test_huge_batch_udp (void)
{
  run_huge_batch (TRUE);
}

/* An IPv6 destination on an IPv4 socket: a GError, not a crash; nothing
 * sent. Same for a GUnixSocketAddress on a UDP socket. Batch and single. */
static void
run_wrong_family (GSocketAddress *addr)
{
  GError *error = NULL;
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  guint8 payload[16] = "wrong family";
  GOutputVector v = { payload, sizeof payload };
  GOutputMessage m[2] = { { addr, &v, 1, 0xdeadbeef, NULL, 0 }, { addr, &v, 1, 0xdeadbeef, NULL, 0 } };

  gint r = gsend_socket_send_messages (s, m, 2, 0, NULL, &error);
  g_test_message ("batch: %d, %s", r, error ? error->message : "(no error)");
  g_assert_cmpint (r, ==, -1);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_cmpuint (m[0].bytes_sent, ==, 0xdeadbeef);
  g_assert_cmpuint (m[1].bytes_sent, ==, 0xdeadbeef);
  g_clear_error (&error);

  gssize r2 = gsend_socket_send_to (s, addr, (const gchar *) payload, sizeof payload, NULL, &error);
  g_test_message ("send_to: %" G_GSSIZE_FORMAT ", %s", r2, error ? error->message : "(no error)");
  g_assert_cmpint (r2, ==, -1);
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* The socket still works for a proper destination afterwards. */
  GSocketAddress *ok;
  struct sockaddr_in sin = { .sin_family = AF_INET };
  int rfd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (rfd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  socklen_t sl = sizeof sin;
  getsockname (rfd, (struct sockaddr *) &sin, &sl);
  ok = g_socket_address_new_from_native (&sin, sizeof sin);
  m[0].address = ok;
  m[1].address = addr; /* second one still wrong: count 1, error dropped */
  r = gsend_socket_send_messages (s, m, 2, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, 1);
  g_assert_cmpuint (m[0].bytes_sent, ==, sizeof payload);
  g_assert_cmpuint (m[1].bytes_sent, ==, 0xdeadbeef);
  guint8 b[64];
  g_assert_cmpint (recv (rfd, b, sizeof b, MSG_DONTWAIT), ==, sizeof payload);
  g_assert_cmpint (recv (rfd, b, sizeof b, MSG_DONTWAIT), ==, -1);

  close (rfd);
  g_object_unref (ok);
  g_object_unref (s);
}

static void
test_ipv6_on_ipv4 (void)
{
  GInetAddress *a = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  GSocketAddress *addr = g_inet_socket_address_new (a, 9);
  run_wrong_family (addr);
  g_object_unref (addr);
  g_object_unref (a);
}

static void
test_unix_address_on_udp (void)
{
  GSocketAddress *addr = g_unix_socket_address_new ("/tmp/gsend-no-such-socket");
  run_wrong_family (addr);
  g_object_unref (addr);
}

/* Rules 10 + 14 + 1: a message with more vectors than the kernel takes
 * (IOV_MAX, 1024): 1024 one-byte vectors gather into one datagram; 1025
 * fail with the EMSGSIZE mapping; in the middle of a batch the count of
 * the messages before it is returned. */
static void
test_iov_max (void)
{
  int rfd;
  GSocket *s = unix_pair (&rfd);
  int big = 1 << 20;
  setsockopt (rfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt (g_socket_get_fd (s), SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  static guint8 bytes[2048];
  for (guint i = 0; i < sizeof bytes; i++)
    bytes[i] = (guint8) (i * 7 + 1);
  GOutputVector *v = g_new0 (GOutputVector, 1025);
  for (guint i = 0; i < 1025; i++)
    v[i] = (GOutputVector) { bytes + i, 1 };
  GOutputVector one = { bytes, 10 };
  GError *error = NULL;
  guint8 rb[4096];

  GOutputMessage m = { NULL, v, 1024, 0xdeadbeef, NULL, 0 };
  g_assert_cmpint (gsend_socket_send_messages (s, &m, 1, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (m.bytes_sent, ==, 1024);
  g_assert_cmpint (recv (rfd, rb, sizeof rb, MSG_DONTWAIT), ==, 1024);
  g_assert_cmpmem (rb, 1024, bytes, 1024);

  m = (GOutputMessage) { NULL, v, 1025, 0xdeadbeef, NULL, 0 };
  g_assert_cmpint (gsend_socket_send_messages (s, &m, 1, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, (gint) g_io_error_from_errno (EMSGSIZE));
  g_clear_error (&error);
  g_assert_cmpuint (m.bytes_sent, ==, 0xdeadbeef);
  assert_empty (rfd);

  g_assert_cmpint (gsend_socket_send_message (s, NULL, v, 1025, NULL, 0, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, (gint) g_io_error_from_errno (EMSGSIZE));
  g_clear_error (&error);
  assert_empty (rfd);

  GOutputMessage batch[3] = { { NULL, &one, 1, 0xdeadbeef, NULL, 0 },
                              { NULL, v, 1025, 0xdeadbeef, NULL, 0 },
                              { NULL, &one, 1, 0xdeadbeef, NULL, 0 } };
  g_assert_cmpint (gsend_socket_send_messages (s, batch, 3, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (batch[0].bytes_sent, ==, 10);
  g_assert_cmpuint (batch[1].bytes_sent, ==, 0xdeadbeef);
  g_assert_cmpuint (batch[2].bytes_sent, ==, 0xdeadbeef);
  g_assert_cmpint (recv (rfd, rb, sizeof rb, MSG_DONTWAIT), ==, 10);
  assert_empty (rfd);

  g_free (v);
  g_object_unref (s);
  close (rfd);
}

static const GtTest tests[] = {
  { "/rule13/socket-send-messages/overflow-in-second-message", test_overflow_second_message },
  { "/rule14/null-buffer-with-size-efault", test_null_buffer_efault },
  { "/rule10/more-vectors-than-iov-max", test_iov_max },
  { "/rule01/100000-messages-one-call-unix", test_huge_batch_unix },
  { "/rule01/100000-messages-one-call-udp", test_huge_batch_udp },
  { "/rule14/ipv6-address-on-ipv4-socket", test_ipv6_on_ipv4 },
  { "/rule14/unix-address-on-udp-socket", test_unix_address_on_udp },
};

int
main (int argc, char **argv)
{
  static Row rows[N_TWINS * N_FAULTS];
  guint nrows = 0;

  stress_test_init (&argc, &argv);

  for (int t = 0; t < N_TWINS; t++)
    for (int f = 0; f < N_FAULTS; f++)
      if (row_applies (t, f))
        {
          rows[nrows] = (Row) { t, f };
          gt_add_data_test (&rows[nrows], test_row, "/rule12/%s/%s", twin_names[t], fault_names[f]);
          nrows++;
        }
  for (int t = TWIN_DATAGRAM_BASED; t <= TWIN_SEND_MESSAGE_TIMEOUT; t++)
    {
      gt_add_data_test (GINT_TO_POINTER (t), test_overflow, "/rule13/%s/vector-sizes-overflow", twin_names[t]);
    }
  GT_ADD_TESTS (tests);

  return g_test_run ();
}
