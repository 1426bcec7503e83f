/* Reproduction of three GSO differences found by the differential tests
 * (tests/diff: udp4-msg-more*, udp4-udp-cork-option,
 * udp4-user-udp-segment-option); fixed in a1e6d4c, kept as a standalone
 * check (the differential tests cover the same cases). Not built by meson.
 * Build and run:
 *
 *   cc -Iinclude tests/diff/repro/gso-cork.c -o /tmp/gso-cork \
 *      $(pkg-config --cflags --libs gio-2.0) -L<builddir> -lgsend
 *   LD_LIBRARY_PATH=<builddir> /tmp/gso-cork       # differed before a1e6d4c
 *   GSEND_GSO=0 LD_LIBRARY_PATH=<builddir> /tmp/gso-cork   # always identical
 *
 * Each case sends 4 x 100 bytes to one UDP address on 127.0.0.1 through
 * g_socket_send_messages and through gsend_socket_send_messages, then
 * prints the sizes of the datagrams the receiver got. */
#include <gio/gio.h>
#include <gsend.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

typedef typeof (&g_socket_send_messages) SendMessages;

enum { CASE_MSG_MORE, CASE_UDP_CORK, CASE_UDP_SEGMENT };

static void
run (const char *name, SendMessages f, int c)
{
  static const char *case_names[] = { "flags MSG_MORE", "UDP_CORK=1", "UDP_SEGMENT=50" };
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *any = g_inet_socket_address_new (lo, 0);
  GSocket *tx = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  GSocket *rx = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_socket_bind (rx, any, FALSE, NULL);
  GSocketAddress *dst = g_socket_get_local_address (rx, NULL);
  if (c == CASE_UDP_CORK)
    g_socket_set_option (tx, IPPROTO_UDP, UDP_CORK, 1, NULL);
  if (c == CASE_UDP_SEGMENT)
    g_socket_set_option (tx, IPPROTO_UDP, UDP_SEGMENT, 50, NULL);
  static char buf[4096];
  memset (buf, 'a', sizeof buf);
  GOutputVector v = { buf, 100 };
  GOutputMessage m[4];
  memset (m, 0, sizeof m);
  for (int i = 0; i < 4; i++)
    {
      m[i].address = dst;
      m[i].vectors = &v;
      m[i].num_vectors = 1;
    }
  gint r = f (tx, m, 4, c == CASE_MSG_MORE ? MSG_MORE : 0, NULL, NULL);
  if (c == CASE_UDP_CORK)
    g_socket_set_option (tx, IPPROTO_UDP, UDP_CORK, 0, NULL);   /* flush */
  if (c == CASE_MSG_MORE)
    g_socket_send_to (tx, dst, "END", 3, NULL, NULL);           /* flush */
  g_print ("%s %-15s 4 x 100 -> ret %d; received:", name, case_names[c], r);
  g_socket_set_blocking (rx, FALSE);
  for (;;)
    {
      gssize k = g_socket_receive (rx, buf, sizeof buf, NULL, NULL);
      if (k < 0)
        break;
      g_print (" %zd", k);
    }
  g_print ("\n");
  g_object_unref (tx);
  g_object_unref (rx);
  g_object_unref (dst);
  g_object_unref (any);
  g_object_unref (lo);
}

int
main (void)
{
  for (int c = CASE_MSG_MORE; c <= CASE_UDP_SEGMENT; c++)
    {
      run ("GIO  ", g_socket_send_messages, c);
      run ("gsend", gsend_socket_send_messages, c);
    }
  return 0;
}
