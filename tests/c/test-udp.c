/* UDP on loopback (IPv4 and IPv6) through gsend's C ABI. */
#include "gsend-test.h"
#include <poll.h>

#define SENTINEL_UDP 8888888

static void
batch_per_message_addresses (GSocketFamily family)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (family);
  GSocket *rx1 = gt_udp_bound (family);
  GSocket *rx2 = gt_udp_bound (family);
  GSocketAddress *a1 = gt_local_addr (rx1), *a2 = gt_local_addr (rx2);

  enum { N = 6 };
  gchar payload[N][32];
  GOutputVector v[N];
  GOutputMessage m[N];
  memset (m, 0, sizeof m);
  for (int i = 0; i < N; i++)
    {
      g_snprintf (payload[i], sizeof payload[i], "message-%d-%s", i, i % 2 ? "odd" : "even");
      v[i].buffer = payload[i];
      v[i].size = strlen (payload[i]);
      m[i].address = (i % 2) ? a2 : a1;
      m[i].vectors = &v[i];
      m[i].num_vectors = 1;
      m[i].bytes_sent = 12345;
    }

  gint r = gsend_socket_send_messages (tx, m, N, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, N);
  for (int i = 0; i < N; i++)
    g_assert_cmpuint (m[i].bytes_sent, ==, strlen (payload[i]));

  for (int i = 0; i < N; i++)
    {
      gchar buf[64];
      gssize n = gt_recv_bounded ((i % 2) ? rx2 : rx1, buf, sizeof buf);
      g_assert_cmpint (n, ==, (gssize) strlen (payload[i]));
      g_assert_cmpmem (buf, n, payload[i], strlen (payload[i]));
    }
  g_assert_true (gt_nothing_pending (rx1));
  g_assert_true (gt_nothing_pending (rx2));

  g_object_unref (a1);
  g_object_unref (a2);
  g_object_unref (rx1);
  g_object_unref (rx2);
  g_object_unref (tx);
}

static void
test_rule07_ipv4_batch (void)
{
  batch_per_message_addresses (G_SOCKET_FAMILY_IPV4);
}

static void
test_rule07_ipv6_batch (void)
{
  if (gt_skip_without_ipv6 ())
    return;
  batch_per_message_addresses (G_SOCKET_FAMILY_IPV6);
}

/* rule 8: NULL address → the connected peer. */
static void
connected_null_address (GSocketFamily family)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (family);
  GSocket *rx = gt_udp_bound (family);
  GSocketAddress *ra = gt_local_addr (rx);
  g_assert_true (g_socket_connect (tx, ra, NULL, &error));
  g_assert_no_error (error);

  gchar a[] = "first", b[] = "second-part";
  GOutputVector v[2] = { { a, 5 }, { b, 11 } };
  GOutputMessage m[3];
  memset (m, 0, sizeof m);
  m[0].vectors = &v[0]; m[0].num_vectors = 1;
  m[1].vectors = &v[0]; m[1].num_vectors = 2;
  m[2].vectors = &v[1]; m[2].num_vectors = 1;
  gint r = gsend_socket_send_messages (tx, m, 3, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, 3);
  g_assert_cmpuint (m[0].bytes_sent, ==, 5);
  g_assert_cmpuint (m[1].bytes_sent, ==, 16);
  g_assert_cmpuint (m[2].bytes_sent, ==, 11);

  gchar buf[64];
  gssize n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "first", 5);
  n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "firstsecond-part", 16);
  n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "second-part", 11);

  /* The single-message twins too. */
  g_assert_cmpint (gsend_socket_send (tx, "abc", 3, NULL, &error), ==, 3);
  g_assert_no_error (error);
  n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "abc", 3);
  g_assert_cmpint (gsend_socket_send_to (tx, NULL, "defg", 4, NULL, &error), ==, 4);
  g_assert_no_error (error);
  n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "defg", 4);
  g_assert_cmpint (gsend_socket_send_message (tx, NULL, v, 2, NULL, 0, 0, NULL, &error), ==, 16);
  g_assert_no_error (error);
  n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "firstsecond-part", 16);
  g_assert_cmpint (gsend_socket_send_with_blocking (tx, "hij", 3, FALSE, NULL, &error), ==, 3);
  g_assert_no_error (error);
  n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "hij", 3);
  gsize written = 0;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (tx, NULL, v, 1, NULL, 0, 0, -1, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, 5);
  n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "first", 5);
  g_assert_true (gt_nothing_pending (rx));

  g_object_unref (ra);
  g_object_unref (rx);
  g_object_unref (tx);
}

static void
test_rule08_ipv4_connected_null_address (void)
{
  connected_null_address (G_SOCKET_FAMILY_IPV4);
}

static void
test_rule08_ipv6_connected_null_address (void)
{
  if (gt_skip_without_ipv6 ())
    return;
  connected_null_address (G_SOCKET_FAMILY_IPV6);
}


static gboolean
gso_env_off (void)
{
  return g_strcmp0 (g_getenv ("GSEND_GSO"), "0") == 0;
}

/* §3: GBytes batches to an address, to the connected peer, empty ones. */
static void
test_rule08_send_datagrams (void)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4), *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *ra = gt_local_addr (rx);
  GBytes *d[4] = {
    g_bytes_new ("alpha", 5), g_bytes_new ("", 0), g_bytes_new ("gamma-ray", 9), g_bytes_new ("d", 1),
  };
  g_assert_cmpint (gsend_socket_send_datagrams (tx, ra, d, 4, 0, -1, NULL, &error), ==, 4);
  g_assert_no_error (error);
  for (int i = 0; i < 4; i++)
    {
      gchar buf[32];
      gsize len;
      const gchar *want = g_bytes_get_data (d[i], &len);
      gssize n = gt_recv_bounded (rx, buf, sizeof buf);
      g_assert_cmpint (n, ==, (gssize) len);
      if (len)
        g_assert_cmpmem (buf, n, want, len);
    }
  g_assert_cmpint (gsend_socket_send_datagrams (tx, ra, NULL, 0, 0, -1, NULL, &error), ==, 0);
  g_assert_no_error (error);
  /* Connected, NULL address, zero timeout. */
  g_assert_true (g_socket_connect (tx, ra, NULL, &error));
  g_assert_cmpint (gsend_socket_send_datagrams (tx, NULL, d, 4, 0, 0, NULL, &error), ==, 4);
  g_assert_no_error (error);
  g_assert_cmpuint (gt_drain (rx), ==, 4);
  /* Unconnected with NULL: the system's error. */
  GSocket *tx2 = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  g_assert_cmpint (gsend_socket_send_datagrams (tx2, NULL, d, 4, 0, -1, NULL, &error), ==, -1);
  gint code = g_io_error_from_errno (EDESTADDRREQ);
  gt_assert_error_clear (error, G_IO_ERROR, code);
  g_assert_true (gt_nothing_pending (rx));
  for (int i = 0; i < 4; i++)
    g_bytes_unref (d[i]);
  g_object_unref (tx2);
  g_object_unref (ra);
  g_object_unref (tx);
  g_object_unref (rx);
}

/* §5: gsend_socket_set_gso / gsend_socket_get_gso. */
static void
test_gso_set_get (void)
{
  GSocket *u = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  g_assert_true (gsend_socket_get_gso (u) == !gso_env_off ());
  gsend_socket_set_gso (u, FALSE);
  g_assert_false (gsend_socket_get_gso (u));
  gsend_socket_set_gso (u, TRUE);
  g_assert_true (gsend_socket_get_gso (u) == !gso_env_off ());
  /* Per socket: another UDP socket is not affected. */
  GSocket *u2 = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  gsend_socket_set_gso (u, FALSE);
  g_assert_true (gsend_socket_get_gso (u2) == !gso_env_off ());
  /* Not UDP: never. */
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  g_assert_false (gsend_socket_get_gso (a));
  gsend_socket_set_gso (a, TRUE);
  g_assert_false (gsend_socket_get_gso (a));
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (u2);
  g_object_unref (u);
}

/* Runs that may be coalesced (rule 7, §5): the receiver sees exactly the
 * datagrams sent, in order, and every bytes_sent is its own size. Sizes:
 * [count, size] runs, alternating between two destinations when asked. */
static GSocketFamily runs_family = G_SOCKET_FAMILY_IPV4;

static void
send_runs (const guint (*runs)[2], guint n_runs, gboolean two_dest, gboolean gso)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (runs_family);
  GSocket *rx1 = gt_udp_bound (runs_family), *rx2 = gt_udp_bound (runs_family);
  gt_rcvbuf (rx1, 32 * 1024 * 1024, 32 * 1024 * 1024);
  gt_rcvbuf (rx2, 32 * 1024 * 1024, 32 * 1024 * 1024);
  gsend_socket_set_gso (tx, gso);
  GSocketAddress *a1 = gt_local_addr (rx1), *a2 = gt_local_addr (rx2);
  guint total = 0;
  for (guint r = 0; r < n_runs; r++)
    total += runs[r][0];
  GOutputMessage *m = g_new0 (GOutputMessage, total);
  GOutputVector *v = g_new0 (GOutputVector, total);
  guint8 *data = g_malloc (65536 + 128);
  for (guint i = 0; i < 65536 + 128; i++)
    data[i] = (guint8) (i * 131 + 7);
  guint k = 0;
  for (guint r = 0; r < n_runs; r++)
    for (guint j = 0; j < runs[r][0]; j++, k++)
      {
        /* Each datagram starts at its own offset: contents differ. */
        v[k].buffer = data + (k % 97);
        v[k].size = runs[r][1];
        m[k].address = (two_dest && r % 2) ? a2 : a1;
        m[k].vectors = &v[k];
        m[k].num_vectors = 1;
        m[k].bytes_sent = SENTINEL_UDP;
      }
  gint sent = gsend_socket_send_messages (tx, m, total, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sent, ==, (gint) total);
  guint8 *buf = g_malloc (70000);
  for (k = 0; k < total; k++)
    {
      g_assert_cmpuint (m[k].bytes_sent, ==, v[k].size);
      GSocket *rx = m[k].address == a2 ? rx2 : rx1;
      gssize n = gt_recv_bounded (rx, (gchar *) buf, 70000);
      g_assert_cmpint (n, ==, (gssize) v[k].size);
      g_assert_cmpmem (buf, n, v[k].buffer, v[k].size);
    }
  g_assert_true (gt_nothing_pending (rx1));
  g_assert_true (gt_nothing_pending (rx2));
  g_free (buf);
  g_free (data);
  g_free (m);
  g_free (v);
  g_object_unref (a1);
  g_object_unref (a2);
  g_object_unref (tx);
  g_object_unref (rx1);
  g_object_unref (rx2);
}

static const guint runs_one_dest[][2] = { { 64, 1200 }, { 1, 600 }, { 100, 1000 }, { 1, 1 }, { 60, 1400 }, { 3, 100 } };
static const guint runs_mixed[][2] = { { 10, 1200 }, { 5, 300 }, { 10, 1200 }, { 1, 0 }, { 70, 64 }, { 2, 65507 } };

static void
test_rule07_runs_one_dest (void)
{
  send_runs (runs_one_dest, G_N_ELEMENTS (runs_one_dest), FALSE, TRUE);
  send_runs (runs_one_dest, G_N_ELEMENTS (runs_one_dest), FALSE, FALSE);
}

static void
test_rule07_runs_two_dest (void)
{
  send_runs (runs_mixed, G_N_ELEMENTS (runs_mixed), TRUE, TRUE);
  send_runs (runs_mixed, G_N_ELEMENTS (runs_mixed), FALSE, TRUE);
  send_runs (runs_mixed, G_N_ELEMENTS (runs_mixed), TRUE, FALSE);
}

/* The same over IPv6 (other header sizes and limits). */
static const guint runs_v6[][2] = { { 64, 1200 }, { 40, 1600 }, { 2, 65507 }, { 1, 65527 }, { 3, 7 } };

static void
test_rule07_runs_ipv6 (void)
{
  if (gt_skip_without_ipv6 ())
    return;
  runs_family = G_SOCKET_FAMILY_IPV6;
  send_runs (runs_one_dest, G_N_ELEMENTS (runs_one_dest), FALSE, TRUE);
  send_runs (runs_mixed, G_N_ELEMENTS (runs_mixed), TRUE, TRUE);
  send_runs (runs_v6, G_N_ELEMENTS (runs_v6), FALSE, TRUE);
  send_runs (runs_v6, G_N_ELEMENTS (runs_v6), TRUE, FALSE);
  runs_family = G_SOCKET_FAMILY_IPV4;
}

/* rule 8: many distinct address objects (more than any cache would keep),
 * created fresh and dropped, in batches crossing the 1024 chunk: every
 * datagram goes to the address its own message names. */
static void
test_rule08_address_churn (void)
{
  GError *error = NULL;
  enum { R = 3, M = 1500 };
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocket *rx[R];
  guint16 port[R];
  for (int i = 0; i < R; i++)
    {
      rx[i] = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
      gt_rcvbuf (rx[i], 32 * 1024 * 1024, 32 * 1024 * 1024);
      GSocketAddress *a = gt_local_addr (rx[i]);
      port[i] = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a));
      g_object_unref (a);
    }
  static guint32 payload[M];
  static GOutputVector v[M];
  static GOutputMessage m[M];
  for (int round = 0; round < 3; round++)
    {
      memset (m, 0, sizeof m);
      for (guint32 i = 0; i < M; i++)
        {
          payload[i] = i;
          v[i].buffer = &payload[i];
          v[i].size = 4;
          /* Round 0: receivers in turn; 1: in runs of 7; 2: pseudo-random. */
          guint which = round == 0 ? i % R : round == 1 ? (i / 7) % R : (i * 2654435761u >> 7) % R;
          m[i].address = g_inet_socket_address_new_from_string ("127.0.0.1", port[which]);
          m[i].vectors = &v[i];
          m[i].num_vectors = 1;
        }
      gint r = gsend_socket_send_messages (tx, m, M, 0, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (r, ==, M);
      for (guint32 i = 0; i < M; i++)
        {
          guint which = round == 0 ? i % R : round == 1 ? (i / 7) % R : (i * 2654435761u >> 7) % R;
          guint32 got = G_MAXUINT32;
          g_assert_cmpint (gt_recv_bounded (rx[which], (gchar *) &got, sizeof got), ==, 4);
          g_assert_cmpuint (got, ==, i);
          g_object_unref (m[i].address);
        }
      for (int k = 0; k < R; k++)
        g_assert_true (gt_nothing_pending (rx[k]));
    }
  for (int i = 0; i < R; i++)
    g_object_unref (rx[i]);
  g_object_unref (tx);
}

/* rule 8: the same address object reused across calls while a different
 * object with another value is swapped in between: no stale destination. */
static void
test_rule08_address_reuse_across_calls (void)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocket *rx1 = gt_udp_bound (G_SOCKET_FAMILY_IPV4), *rx2 = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *a1 = gt_local_addr (rx1);
  GSocketAddress *a2 = gt_local_addr (rx2);
  guint16 p2 = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a2));
  g_object_unref (a2);
  gchar x[] = "x";
  GOutputVector v = { x, 1 };
  for (int i = 0; i < 200; i++)
    {
      /* A fresh object each time (its memory may be reused by the next one). */
      GSocketAddress *fresh = g_inet_socket_address_new_from_string ("127.0.0.1", p2);
      GOutputMessage m[2] = { { a1, &v, 1, 0, NULL, 0 }, { fresh, &v, 1, 0, NULL, 0 } };
      if (i % 2)
        {
          m[0].address = fresh;
          m[1].address = a1;
        }
      g_assert_cmpint (gsend_socket_send_messages (tx, m, 2, 0, NULL, &error), ==, 2);
      g_assert_no_error (error);
      g_object_unref (fresh);
      gchar buf[4];
      g_assert_cmpint (gt_recv_bounded (rx1, buf, sizeof buf), ==, 1);
      g_assert_cmpint (gt_recv_bounded (rx2, buf, sizeof buf), ==, 1);
      g_assert_true (gt_nothing_pending (rx1));
      g_assert_true (gt_nothing_pending (rx2));
    }
  g_object_unref (a1);
  g_object_unref (tx);
  g_object_unref (rx1);
  g_object_unref (rx2);
}

/* rule 16: threads with their own sockets sharing the same address objects
 * (more than any per-thread cache keeps), each thread exiting afterwards;
 * every datagram reaches the receiver its address names, and the address
 * objects are finalized once the threads are gone and the test drops them. */
enum { SH_THREADS = 4, SH_ADDRS = 300, SH_ROUNDS = 4 };

typedef struct
{
  GSocketAddress **addrs;
  guint tag;
  gint sent;
} SharedSender;

static gpointer
shared_sender (gpointer data)
{
  SharedSender *s = data;
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  static guint8 payload[SH_THREADS][SH_ADDRS][2];
  GOutputVector v[SH_ADDRS];
  GOutputMessage m[SH_ADDRS];
  memset (m, 0, sizeof m);
  for (guint i = 0; i < SH_ADDRS; i++)
    {
      payload[s->tag][i][0] = s->tag;
      payload[s->tag][i][1] = i % 3;
      v[i].buffer = payload[s->tag][i];
      v[i].size = 2;
      m[i].address = s->addrs[i];
      m[i].vectors = &v[i];
      m[i].num_vectors = 1;
    }
  s->sent = 0;
  for (int r = 0; r < SH_ROUNDS; r++)
    {
      GError *error = NULL;
      gint n = gsend_socket_send_messages (tx, m, SH_ADDRS, 0, NULL, &error);
      g_assert_no_error (error);
      s->sent += n;
    }
  g_object_unref (tx);
  return NULL;
}

static void
test_rule16_shared_addresses_threads (void)
{
  GSocket *rx[3];
  guint16 port[3];
  for (int i = 0; i < 3; i++)
    {
      rx[i] = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
      gt_rcvbuf (rx[i], 32 * 1024 * 1024, 32 * 1024 * 1024);
      GSocketAddress *a = gt_local_addr (rx[i]);
      port[i] = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a));
      g_object_unref (a);
    }
  GSocketAddress *addrs[SH_ADDRS];
  GWeakRef weak[SH_ADDRS];
  for (int i = 0; i < SH_ADDRS; i++)
    {
      addrs[i] = g_inet_socket_address_new_from_string ("127.0.0.1", port[i % 3]);
      g_weak_ref_init (&weak[i], addrs[i]);
    }
  SharedSender s[SH_THREADS];
  GThread *t[SH_THREADS];
  for (int i = 0; i < SH_THREADS; i++)
    {
      s[i].addrs = addrs;
      s[i].tag = i;
      t[i] = g_thread_new ("shared-sender", shared_sender, &s[i]);
    }
  for (int i = 0; i < SH_THREADS; i++)
    {
      g_thread_join (t[i]);
      g_assert_cmpint (s[i].sent, ==, SH_ADDRS * SH_ROUNDS);
    }
  /* Each receiver got exactly its share, each datagram marked for it. */
  for (int k = 0; k < 3; k++)
    {
      guint got = 0, wrong = 0;
      guint8 buf[8];
      ssize_t n;
      while ((n = recv (g_socket_get_fd (rx[k]), buf, sizeof buf, MSG_DONTWAIT)) >= 0)
        {
          if (n != 2 || buf[1] != k || buf[0] >= SH_THREADS)
            wrong++;
          got++;
        }
      g_assert_cmpuint (wrong, ==, 0);
      g_assert_cmpuint (got, ==, SH_THREADS * SH_ROUNDS * (SH_ADDRS / 3));
    }
  /* The sending threads are gone: nothing of theirs keeps the addresses. */
  for (int i = 0; i < SH_ADDRS; i++)
    g_object_unref (addrs[i]);
  guint alive = 0;
  for (int i = 0; i < SH_ADDRS; i++)
    {
      GObject *o = g_weak_ref_get (&weak[i]);
      if (o)
        {
          alive++;
          g_object_unref (o);
        }
      g_weak_ref_clear (&weak[i]);
    }
  g_assert_cmpuint (alive, ==, 0);
  for (int i = 0; i < 3; i++)
    g_object_unref (rx[i]);
}

/* rule 8, one datagram per call: send_to, send_message(_with_timeout) and
 * a batch of one, call after call on one socket, each to the address its
 * own call names. The address object is the same as the last call's,
 * another object of the same bytes (kept alive, or freed at once), or
 * another address; on a socket connected to a third receiver, an explicit
 * address goes where it says and NULL to the peer. The same script runs
 * through GIO and through gsend; both must deliver every datagram to the
 * receiver the script expects (the one-datagram path keeps converted
 * addresses from call to call: a stale one would show here). */
enum { ONE_RX = 3 };

/* Script letters: A, B the two receivers' address objects (kept); a, b a
 * new object of A's or B's bytes (kept until the script ends); x a new
 * object of A's bytes freed right after its call; n NULL (connected only). */
static const char one_script_unconnected[] = "AAABBBAaAaaBbBABABxAxBAAbbaB";
static const char one_script_connected[] = "AnnABnBaAnbBxnABnnAAnBBab";

static gint
one_expected (char c)
{
  return c == 'n' ? 2 : (c == 'B' || c == 'b') ? 1 : 0;
}

/* Sends @payload (@len bytes) to @to with function @k of four, through GIO
 * or gsend; returns the bytes sent. */
static gssize
one_send (gboolean gio, guint k, GSocket *tx, GSocketAddress *to, const gchar *payload, gsize len)
{
  GError *error = NULL;
  GOutputVector v = { payload, len };
  gssize r = -1;
  switch (k % 4)
    {
    case 0:
      r = gio ? g_socket_send_to (tx, to, payload, len, NULL, &error)
              : gsend_socket_send_to (tx, to, payload, len, NULL, &error);
      break;
    case 1:
      r = gio ? g_socket_send_message (tx, to, &v, 1, NULL, 0, 0, NULL, &error)
              : gsend_socket_send_message (tx, to, &v, 1, NULL, 0, 0, NULL, &error);
      break;
    case 2:
      {
        GOutputMessage m = { to, &v, 1, 0, NULL, 0 };
        gint n = gio ? g_socket_send_messages (tx, &m, 1, 0, NULL, &error)
                     : gsend_socket_send_messages (tx, &m, 1, 0, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpint (n, ==, 1);
        r = m.bytes_sent;
        break;
      }
    default:
      {
        gsize written = 0;
        GPollableReturn pr = gio ? g_socket_send_message_with_timeout (tx, to, &v, 1, NULL, 0, 0, -1, &written, NULL, &error)
                                 : gsend_socket_send_message_with_timeout (tx, to, &v, 1, NULL, 0, 0, -1, &written, NULL, &error);
        g_assert_cmpint (pr, ==, G_POLLABLE_RETURN_OK);
        r = written;
        break;
      }
    }
  g_assert_no_error (error);
  return r;
}

/* Which of the @n receivers got the one datagram just sent (waits at most
 * 5 s); checks its bytes and that no other receiver got anything. */
static gint
one_arrived_at (GSocket **rx, guint n, const gchar *want, gsize len)
{
  struct pollfd p[ONE_RX];
  gchar buf[64];
  gint at = -1;
  for (guint i = 0; i < n; i++)
    p[i] = (struct pollfd) { g_socket_get_fd (rx[i]), POLLIN, 0 };
  if (poll (p, n, 5000) <= 0)
    return -1;
  for (guint i = 0; i < n; i++)
    if (p[i].revents & POLLIN)
      {
        g_assert_cmpint (at, ==, -1);
        at = i;
        gssize r = recv (p[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        g_assert_cmpmem (buf, r, want, len);
      }
  for (guint i = 0; i < n; i++)
    g_assert_true (gt_nothing_pending (rx[i]));
  return at;
}

/* Runs @script on a new socket (connected to a third receiver if
 * @connected) through GIO or gsend; fills @where with the receiver of each
 * datagram (-1: none). */
static void
one_run_script (GSocketFamily family, const char *script, gboolean connected, gboolean gio, gint *where)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (family);
  GSocket *rx[ONE_RX];
  GSocketAddress *addr[ONE_RX];
  GPtrArray *kept = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < ONE_RX; i++)
    {
      rx[i] = gt_udp_bound (family);
      addr[i] = gt_local_addr (rx[i]);
    }
  if (connected)
    {
      g_assert_true (g_socket_connect (tx, addr[2], NULL, &error));
      g_assert_no_error (error);
    }
  for (guint k = 0; script[k]; k++)
    {
      char c = script[k];
      GSocketAddress *to = NULL;
      gchar payload[32];
      g_snprintf (payload, sizeof payload, "%s-%u-%c", gio ? "gio" : "gsend", k, c);
      gsize len = strlen (payload);
      if (c == 'A' || c == 'B')
        to = addr[one_expected (c)];
      else if (c != 'n')
        {
          GInetSocketAddress *same = G_INET_SOCKET_ADDRESS (addr[one_expected (c)]);
          to = g_inet_socket_address_new (g_inet_socket_address_get_address (same),
                                          g_inet_socket_address_get_port (same));
        }
      g_assert_cmpint (one_send (gio, k, tx, to, payload, len), ==, (gssize) len);
      if (c == 'a' || c == 'b')
        g_ptr_array_add (kept, to);
      else if (c == 'x')
        g_object_unref (to);
      where[k] = one_arrived_at (rx, ONE_RX, payload, len);
    }
  g_ptr_array_unref (kept);
  for (guint i = 0; i < ONE_RX; i++)
    {
      g_object_unref (addr[i]);
      g_object_unref (rx[i]);
    }
  g_object_unref (tx);
}

static void
one_datagram_addresses (GSocketFamily family)
{
  const char *scripts[] = { one_script_unconnected, one_script_connected };
  for (guint s = 0; s < G_N_ELEMENTS (scripts); s++)
    {
      const char *script = scripts[s];
      guint n = strlen (script);
      gint *by_gio = g_new (gint, n), *by_gsend = g_new (gint, n);
      one_run_script (family, script, s == 1, TRUE, by_gio);
      one_run_script (family, script, s == 1, FALSE, by_gsend);
      for (guint k = 0; k < n; k++)
        {
          if (by_gio[k] != one_expected (script[k]))
            g_error ("%s step %u ('%c'): GIO delivered to receiver %d, the script expects %d", script, k, script[k],
                     by_gio[k], one_expected (script[k]));
          if (by_gsend[k] != by_gio[k])
            g_error ("%s step %u ('%c', function %u): gsend delivered to receiver %d, GIO to %d", script, k,
                     script[k], k % 4, by_gsend[k], by_gio[k]);
        }
      g_free (by_gio);
      g_free (by_gsend);
    }
}

static void
test_rule08_one_datagram_addresses_ipv4 (void)
{
  one_datagram_addresses (G_SOCKET_FAMILY_IPV4);
}

static void
test_rule08_one_datagram_addresses_ipv6 (void)
{
  if (gt_skip_without_ipv6 ())
    return;
  one_datagram_addresses (G_SOCKET_FAMILY_IPV6);
}

static const GtTest tests[] = {
  { "/rule07/udp-ipv4/batch-per-message-addresses", test_rule07_ipv4_batch },
  { "/rule07/udp-ipv6/batch-per-message-addresses", test_rule07_ipv6_batch },
  { "/rule08/udp-ipv4/connected-null-address", test_rule08_ipv4_connected_null_address },
  { "/rule08/udp-ipv6/connected-null-address", test_rule08_ipv6_connected_null_address },
  { "/rule08/udp/send-datagrams", test_rule08_send_datagrams },
  { "/gso/set-get", test_gso_set_get },
  { "/rule07/udp/runs-one-destination", test_rule07_runs_one_dest },
  { "/rule07/udp/runs-two-destinations", test_rule07_runs_two_dest },
  { "/rule07/udp/runs-ipv6", test_rule07_runs_ipv6 },
  { "/rule08/udp/address-churn", test_rule08_address_churn },
  { "/rule08/udp/address-reuse-across-calls", test_rule08_address_reuse_across_calls },
  { "/rule16/udp/shared-addresses-threads", test_rule16_shared_addresses_threads },
  { "/rule08/udp-ipv4/one-datagram-addresses", test_rule08_one_datagram_addresses_ipv4 },
  { "/rule08/udp-ipv6/one-datagram-addresses", test_rule08_one_datagram_addresses_ipv6 },
};

GT_TEST_MAIN (tests)
