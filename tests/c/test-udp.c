/* UDP on loopback (IPv4 and IPv6) through gsend's C ABI. */
#include "common.h"

static void
batch_per_message_addresses (GSocketFamily family)
{
  GError *error = NULL;
  GSocket *tx = udp_bound (family);
  GSocket *rx1 = udp_bound (family);
  GSocket *rx2 = udp_bound (family);
  GSocketAddress *a1 = local_addr (rx1), *a2 = local_addr (rx2);

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
      gssize n = recv_bounded ((i % 2) ? rx2 : rx1, buf, sizeof buf);
      g_assert_cmpint (n, ==, (gssize) strlen (payload[i]));
      g_assert_cmpmem (buf, n, payload[i], strlen (payload[i]));
    }
  g_assert_true (nothing_pending (rx1));
  g_assert_true (nothing_pending (rx2));

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
  GInetAddress *lo6 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  GSocket *probe = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  GSocketAddress *a = g_inet_socket_address_new (lo6, 0);
  gboolean ok = probe && g_socket_bind (probe, a, FALSE, NULL);
  g_object_unref (a);
  g_object_unref (lo6);
  g_clear_object (&probe);
  if (!ok)
    {
      g_test_skip ("no IPv6 loopback here");
      return;
    }
  batch_per_message_addresses (G_SOCKET_FAMILY_IPV6);
}

/* rule 8: NULL address → the connected peer. */
static void
connected_null_address (GSocketFamily family)
{
  GError *error = NULL;
  GSocket *tx = udp_bound (family);
  GSocket *rx = udp_bound (family);
  GSocketAddress *ra = local_addr (rx);
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
  gssize n = recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "first", 5);
  n = recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "firstsecond-part", 16);
  n = recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "second-part", 11);

  /* The single-message twins too. */
  g_assert_cmpint (gsend_socket_send (tx, "abc", 3, NULL, &error), ==, 3);
  g_assert_no_error (error);
  n = recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "abc", 3);
  g_assert_cmpint (gsend_socket_send_to (tx, NULL, "defg", 4, NULL, &error), ==, 4);
  g_assert_no_error (error);
  n = recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "defg", 4);
  g_assert_cmpint (gsend_socket_send_message (tx, NULL, v, 2, NULL, 0, 0, NULL, &error), ==, 16);
  g_assert_no_error (error);
  n = recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "firstsecond-part", 16);
  g_assert_cmpint (gsend_socket_send_with_blocking (tx, "hij", 3, FALSE, NULL, &error), ==, 3);
  g_assert_no_error (error);
  n = recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "hij", 3);
  gsize written = 0;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (tx, NULL, v, 1, NULL, 0, 0, -1, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, 5);
  n = recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "first", 5);
  g_assert_true (nothing_pending (rx));

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
  GSocket *probe = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  GInetAddress *lo6 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  GSocketAddress *a = g_inet_socket_address_new (lo6, 0);
  gboolean ok = probe && g_socket_bind (probe, a, FALSE, NULL);
  g_object_unref (a);
  g_object_unref (lo6);
  g_clear_object (&probe);
  if (!ok)
    {
      g_test_skip ("no IPv6 loopback here");
      return;
    }
  connected_null_address (G_SOCKET_FAMILY_IPV6);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rule07/udp-ipv4/batch-per-message-addresses", test_rule07_ipv4_batch);
  g_test_add_func ("/rule07/udp-ipv6/batch-per-message-addresses", test_rule07_ipv6_batch);
  g_test_add_func ("/rule08/udp-ipv4/connected-null-address", test_rule08_ipv4_connected_null_address);
  g_test_add_func ("/rule08/udp-ipv6/connected-null-address", test_rule08_ipv6_connected_null_address);
  return g_test_run ();
}
