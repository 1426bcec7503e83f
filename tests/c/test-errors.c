/* Counts and errors (rules 1, 14) and batches beyond 1024 (§3). */
#include "gsend-test.h"

#define SENTINEL 515151
#define BIG 70000

/* Two loopback IPv4 UDP sockets; returns the receiver's address. */
static GSocketAddress *
udp4_pair (GSocket **tx, GSocket **rx)
{
  *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  return gt_local_addr (*rx);
}

static void
udp4_pair_free (GSocket *tx, GSocket *rx, GSocketAddress *ra)
{
  g_object_unref (ra);
  g_object_unref (tx);
  g_object_unref (rx);
}

/* @n messages of 16 bytes to @address, message i carrying i (4 bytes,
 * host order) then zeros, in @payload; bytes_sent SENTINEL. */
static void
numbered_batch (GOutputMessage *m, GOutputVector *v, gchar (*payload)[16], guint32 n, GSocketAddress *address)
{
  memset (m, 0, sizeof *m * n);
  for (guint32 i = 0; i < n; i++)
    {
      memset (payload[i], 0, 16);
      memcpy (payload[i], &i, 4);
      v[i].buffer = payload[i];
      v[i].size = 16;
      m[i].address = address;
      m[i].vectors = &v[i];
      m[i].num_vectors = 1;
      m[i].bytes_sent = SENTINEL;
    }
}

/* rule 1: an oversized UDP datagram at index k > 0: the count k, no error;
 * bytes_sent set for 0..k-1 only. */
static void
test_rule01_partial_then_error (void)
{
  GError *error = NULL;
  GSocket *tx, *rx;
  GSocketAddress *ra = udp4_pair (&tx, &rx);
  static gchar big[BIG];
  gchar small[100];
  memset (small, 's', sizeof small);

  for (guint k = 1; k <= 5; k += 2)
    {
      GOutputMessage m[8];
      GOutputVector v[8];
      gt_fill_messages (m, v, 8, small, sizeof small, ra, SENTINEL);
      v[k].buffer = big;
      v[k].size = BIG;
      gint r = gsend_socket_send_messages (tx, m, 8, 0, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (r, ==, (gint) k);
      for (guint i = 0; i < 8; i++)
        g_assert_cmpuint (m[i].bytes_sent, ==, i < k ? sizeof small : SENTINEL);
      for (guint i = 0; i < k; i++)
        {
          gchar buf[200];
          g_assert_cmpint (gt_recv_bounded (rx, buf, sizeof buf), ==, sizeof small);
        }
      g_assert_true (gt_nothing_pending (rx));

      /* Same with a timeout argument and through GDatagramBased. */
      gt_fill_messages (m, v, 8, small, sizeof small, ra, SENTINEL);
      v[k].buffer = big;
      v[k].size = BIG;
      r = gsend_datagram_based_send_messages (G_DATAGRAM_BASED (tx), m, 8, 0, 0, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (r, ==, (gint) k);
      g_assert_cmpuint (gt_drain (rx), <=, k);
    }

  /* GBytes batch: oversized third datagram. */
  GBytes *s = g_bytes_new_static (small, sizeof small), *b = g_bytes_new_static (big, BIG);
  GBytes *ds[4] = { s, s, b, s };
  g_assert_cmpint (gsend_socket_send_datagrams (tx, ra, ds, 4, 0, -1, NULL, &error), ==, 2);
  g_assert_no_error (error);
  g_bytes_unref (s);
  g_bytes_unref (b);

  udp4_pair_free (tx, rx, ra);
}

/* rules 1 and 14: failure at index 0: -1, the G_IO_ERROR code of the
 * errno, and a message naming message 0 and the system's text. */
static void
test_rule14_error_at_index0 (void)
{
  GError *error = NULL;
  GSocket *tx, *rx;
  GSocketAddress *ra = udp4_pair (&tx, &rx);
  static gchar big[BIG];
  gchar small[10] = "small";
  gint code = g_io_error_from_errno (EMSGSIZE);

  GOutputMessage m[3];
  GOutputVector v[3];
  gt_fill_messages (m, v, 3, small, 5, ra, SENTINEL);
  v[0].buffer = big;
  v[0].size = BIG;
  g_assert_cmpint (gsend_socket_send_messages (tx, m, 3, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, code);
  g_test_message ("error: %s", error->message);
  g_assert_nonnull (strstr (error->message, "message 0"));
  g_assert_nonnull (strstr (error->message, g_strerror (EMSGSIZE)));
  g_clear_error (&error);
  gt_assert_all_sent (m, 3, SENTINEL);
  g_assert_cmpint (gsend_socket_send_messages_with_timeout (tx, m, 3, 0, -1, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, code);
  g_assert_nonnull (strstr (error->message, "message 0"));
  g_clear_error (&error);
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (tx), m, 3, 0, -1, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, code);

  /* The single-message twins: same code, the system's text. */
  g_assert_cmpint (gsend_socket_send_to (tx, ra, big, BIG, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, code);
  g_assert_nonnull (strstr (error->message, g_strerror (EMSGSIZE)));
  g_clear_error (&error);
  g_assert_cmpint (gsend_socket_send_message (tx, ra, v, 1, NULL, 0, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, code);
  g_assert_nonnull (strstr (error->message, g_strerror (EMSGSIZE)));
  g_clear_error (&error);
  gsize written = SENTINEL;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (tx, ra, v, 1, NULL, 0, 0, -1, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_FAILED);
  gt_assert_error_clear (error, G_IO_ERROR, code);
  g_assert_true (gt_nothing_pending (rx));

  /* Another errno: no destination on an unconnected socket. */
  gint code2 = g_io_error_from_errno (EDESTADDRREQ);
  gt_fill_messages (m, v, 3, small, 5, NULL, SENTINEL);
  g_assert_cmpint (gsend_socket_send_messages (tx, m, 3, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, code2);
  g_assert_nonnull (strstr (error->message, "message 0"));
  g_assert_nonnull (strstr (error->message, g_strerror (EDESTADDRREQ)));
  g_clear_error (&error);
  g_assert_cmpint (gsend_socket_send (tx, small, 5, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, code2);

  /* And a unix path that does not exist (ENOENT). */
  GSocket *u = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  GSocketAddress *nowhere = g_unix_socket_address_new ("/nonexistent/gsend/ctest.sock");
  gt_fill_messages (m, v, 3, small, 5, nowhere, SENTINEL);
  gint code3 = g_io_error_from_errno (ENOENT);
  g_assert_cmpint (gsend_socket_send_messages (u, m, 3, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, code3);
  g_assert_nonnull (strstr (error->message, "message 0"));
  g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
  g_clear_error (&error);
  g_object_unref (nowhere);
  g_object_unref (u);

  udp4_pair_free (tx, rx, ra);
}

/* A reader thread that counts datagrams carrying a 4-byte sequence number
 * and checks they come in order. */
typedef struct
{
  GSocket *sock;
  guint expect;
  guint got;
  guint in_order;
} SeqReader;

static gpointer
seq_reader (gpointer data)
{
  SeqReader *r = data;
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  int fd = g_socket_get_fd (r->sock);
  while (r->got < r->expect && g_get_monotonic_time () < end)
    {
      if (!g_socket_condition_timed_wait (r->sock, G_IO_IN, 200 * 1000, NULL, NULL))
        continue;
      guint32 seq;
      char buf[64];
      ssize_t n;
      while ((n = recv (fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0)
        {
          if (n == 16)
            {
              memcpy (&seq, buf, 4);
              if (seq == r->got)
                r->in_order++;
            }
          r->got++;
        }
    }
  return NULL;
}

/* The batch of the beyond-1024 tests: M numbered datagrams of 16 bytes. */
enum { M = 3000 };
static gchar big_payload[M][16];
static GOutputVector big_v[M];
static GOutputMessage big_m[M];

/* Sends the batch (to @to) from @tx in one gsend_socket_send_messages call
 * while a thread reads it from @rx into @rd; every message reports its 16
 * bytes. Returns the reader thread, for the caller to join. */
static GThread *
send_beyond_1024 (GSocket *tx, GSocket *rx, GSocketAddress *to, SeqReader *rd)
{
  GError *error = NULL;
  numbered_batch (big_m, big_v, big_payload, M, to);
  *rd = (SeqReader) { rx, M, 0, 0 };
  GThread *t = g_thread_new ("reader", seq_reader, rd);
  gint r = gsend_socket_send_messages (tx, big_m, M, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, M);
  for (guint i = 0; i < M; i++)
    g_assert_cmpuint (big_m[i].bytes_sent, ==, 16);
  return t;
}

/* §3: more than 1024 messages in one call are all sent (AF_UNIX pair, a
 * reader draining; blocking socket). */
static void
test_rule02_beyond_1024_unix (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  SeqReader rd;
  GThread *t = send_beyond_1024 (a, b, NULL, &rd);
  g_thread_join (t);
  g_assert_cmpuint (rd.got, ==, M);
  g_assert_cmpuint (rd.in_order, ==, M);

  /* With a timeout argument of -1 and through GDatagramBased as well. */
  for (int variant = 0; variant < 2; variant++)
    {
      SeqReader rd2 = { b, M, 0, 0 };
      t = g_thread_new ("reader", seq_reader, &rd2);
      gint r = variant == 0
                 ? gsend_socket_send_messages_with_timeout (a, big_m, M, 0, -1, NULL, &error)
                 : gsend_datagram_based_send_messages (G_DATAGRAM_BASED (a), big_m, M, 0, -1, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (r, ==, M);
      g_thread_join (t);
      g_assert_cmpuint (rd2.got, ==, M);
      g_assert_cmpuint (rd2.in_order, ==, M);
    }
  g_object_unref (a);
  g_object_unref (b);
}

/* §3: 3000 UDP datagrams in one call to one destination and to several. */
static void
test_rule02_beyond_1024_udp (void)
{
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4), *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  /* Enough room to keep all of them (as root the limit can be forced). */
  int want = 64 * 1024 * 1024;
  gboolean big_buffer = setsockopt (g_socket_get_fd (rx), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) == 0;
  if (!big_buffer)
    setsockopt (g_socket_get_fd (rx), SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  GSocketAddress *ra = gt_local_addr (rx);
  SeqReader rd;
  GThread *t = send_beyond_1024 (tx, rx, ra, &rd);
  if (!big_buffer)
    rd.expect = 0; /* loopback may drop without a big buffer: stop the reader */
  g_thread_join (t);
  if (big_buffer)
    {
      g_assert_cmpuint (rd.got, ==, M);
      g_assert_cmpuint (rd.in_order, ==, M);
    }
  else
    g_test_message ("no SO_RCVBUFFORCE: only the count was checked");
  udp4_pair_free (tx, rx, ra);
}

static const GtTest tests[] = {
  { "/rule01/partial-then-error", test_rule01_partial_then_error },
  { "/rule14/error-at-index0", test_rule14_error_at_index0 },
  { "/rule02/beyond-1024/unix", test_rule02_beyond_1024_unix },
  { "/rule02/beyond-1024/udp", test_rule02_beyond_1024_udp },
};

GT_TEST_MAIN (tests)
