/* GLib 2.88's ECN control messages (GIPTosMessage, GIPv6TclassMessage)
 * through every gsend function that takes control messages, compared with
 * GIO's: the same batch is sent once by GIO and once by the gsend twin to
 * a loopback receiver that reads each datagram's TOS (IP_RECVTOS) or
 * traffic class (IPV6_RECVTCLASS); the return value, bytes_sent and what
 * arrived (bytes and TOS/TCLASS per datagram) must be the same, and the
 * values must be the ones asked for.
 *
 * The types are looked up at run time (their constructors with dlsym): the
 * headers gsend builds against may be older than 2.88. On an older GLib
 * every test skips, saying so. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <gsend.h>

#include "gsend-test.h"

typedef GSocketControlMessage *(*NewFn) (guint8 dscp, int ecn);


enum { VIA_MESSAGES, VIA_DATAGRAM_BASED, VIA_MESSAGE, VIA_MESSAGE_WITH_TIMEOUT, N_VIA };
static const char *via_names[] = { "send_messages", "datagram_based_send_messages", "send_message",
                                   "send_message_with_timeout" };

#define N_DGRAMS 6
/* Per datagram: DSCP and ECN codepoint (0 not-ECT, 1 ECT(1), 2 ECT(0),
 * 3 CE); dscp < 0: no control message at all (the socket's default, 0). */
static const int dscps[N_DGRAMS] = { 10, 10, -1, 46, 0, 10 };
static const int ecns[N_DGRAMS] = { 2, 2, 0, 1, 3, 2 };

typedef struct {
  int ret;
  gboolean error;
  guint bytes_sent[N_DGRAMS];
  int n_got;
  int tos[N_DGRAMS];
  gsize len[N_DGRAMS];
} Outcome;

static NewFn
lookup (const char *type_name, const char *ctor)
{
  NewFn f = (NewFn) dlsym (RTLD_DEFAULT, ctor);
  if (f == NULL)
    {
      char *msg = g_strdup_printf ("GLib %u.%u has no %s (new in 2.88)", glib_major_version, glib_minor_version,
                                   type_name);
      g_test_skip (msg);
      g_free (msg);
    }
  return f;
}

static GSocket *
udp (GSocketFamily family)
{
  GError *error = NULL;
  GSocket *s = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  return s;
}

static int
read_tos (struct msghdr *mh)
{
  struct cmsghdr *c;
  for (c = CMSG_FIRSTHDR (mh); c != NULL; c = CMSG_NXTHDR (mh, c))
    {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
        return *(unsigned char *) CMSG_DATA (c);
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)
        {
          int v;
          memcpy (&v, CMSG_DATA (c), sizeof v);
          return v;
        }
    }
  return -1;
}

static Outcome
run_once (const GtImpl *impl, int via, GSocketFamily family, NewFn new_msg)
{
  Outcome o = { 0 };
  GError *error = NULL;
  GSocket *rx = udp (family), *tx = udp (family);
  GInetAddress *lo = g_inet_address_new_loopback (family);
  GSocketAddress *any = g_inet_socket_address_new (lo, 0);
  GSocketAddress *dest;
  GOutputVector v[N_DGRAMS];
  GOutputMessage m[N_DGRAMS];
  GSocketControlMessage *cm[N_DGRAMS][1];
  char payload[N_DGRAMS][16];
  int i;

  g_assert_true (g_socket_bind (rx, any, FALSE, &error));
  g_assert_no_error (error);
  dest = g_socket_get_local_address (rx, &error);
  g_assert_no_error (error);
  if (family == G_SOCKET_FAMILY_IPV4)
    g_assert_true (g_socket_set_option (rx, IPPROTO_IP, IP_RECVTOS, 1, &error));
  else
    g_assert_true (g_socket_set_option (rx, IPPROTO_IPV6, IPV6_RECVTCLASS, 1, &error));
  g_assert_no_error (error);

  for (i = 0; i < N_DGRAMS; i++)
    {
      /* Same-size datagrams to one address: a batch gsend could segment,
       * but not across different control messages. */
      g_snprintf (payload[i], sizeof payload[i], "ecn-%d-%08d", i, i * 7);
      v[i].buffer = payload[i];
      v[i].size = strlen (payload[i]);
      cm[i][0] = dscps[i] >= 0 ? new_msg ((guint8) dscps[i], ecns[i]) : NULL;
      m[i] = (GOutputMessage) { dest, &v[i], 1, 0, dscps[i] >= 0 ? cm[i] : NULL, dscps[i] >= 0 ? 1 : 0 };
    }

  switch (via)
    {
    case VIA_MESSAGES:
      o.ret = impl->send_messages (tx, m, N_DGRAMS, 0, NULL, &error);
      break;
    case VIA_DATAGRAM_BASED:
      o.ret = impl->dgb_send_messages (G_DATAGRAM_BASED (tx), m, N_DGRAMS, 0, -1, NULL, &error);
      break;
    default:
      for (i = 0; i < N_DGRAMS; i++)
        {
          gssize r;
          if (via == VIA_MESSAGE)
            r = impl->send_message (tx, dest, &v[i], 1, m[i].control_messages, m[i].num_control_messages, 0, NULL,
                                    &error);
          else
            {
              gsize written = 0;
              GPollableReturn pr = impl->send_message_with_timeout (tx, dest, &v[i], 1, m[i].control_messages,
                                                                    m[i].num_control_messages, 0, -1, &written,
                                                                    NULL, &error);
              r = pr == G_POLLABLE_RETURN_OK ? (gssize) written : -1;
            }
          if (r < 0)
            break;
          m[i].bytes_sent = (guint) r;
          o.ret++;
        }
    }
  o.error = error != NULL;
  if (error != NULL)
    g_printerr ("# %s %s: %s\n", impl->name, via_names[via], error->message);
  g_clear_error (&error);
  for (i = 0; i < N_DGRAMS; i++)
    o.bytes_sent[i] = m[i].bytes_sent;

  /* Receive what arrived (bounded wait: loopback delivers at once). */
  for (i = 0; i < N_DGRAMS; i++)
    {
      struct pollfd pfd = { g_socket_get_fd (rx), POLLIN, 0 };
      char buf[64], cbuf[256];
      struct iovec iov = { buf, sizeof buf };
      struct msghdr mh = { 0 };
      ssize_t n;
      if (poll (&pfd, 1, i < o.ret ? 2000 : 50) <= 0)
        break;
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      mh.msg_control = cbuf;
      mh.msg_controllen = sizeof cbuf;
      n = recvmsg (pfd.fd, &mh, 0);
      g_assert_cmpint (n, >=, 0);
      o.len[i] = (gsize) n;
      o.tos[i] = read_tos (&mh);
      o.n_got++;
    }

  for (i = 0; i < N_DGRAMS; i++)
    if (cm[i][0] != NULL)
      g_object_unref (cm[i][0]);
  g_object_unref (dest);
  g_object_unref (any);
  g_object_unref (lo);
  g_object_unref (tx);
  g_object_unref (rx);
  return o;
}

static void
compare (int via, GSocketFamily family, NewFn new_msg)
{
  Outcome a = run_once (gt_gio_impl (), via, family, new_msg);
  Outcome b = run_once (gt_gsend_impl (), via, family, new_msg);
  int i;

  g_test_message ("%s: GIO %d sent, %d received; gsend %d sent, %d received", via_names[via], a.ret, a.n_got, b.ret,
                  b.n_got);
  g_assert_cmpint (a.ret, ==, b.ret);
  g_assert_cmpint (a.error, ==, b.error);
  g_assert_cmpint (a.n_got, ==, b.n_got);
  for (i = 0; i < N_DGRAMS; i++)
    {
      g_assert_cmpuint (a.bytes_sent[i], ==, b.bytes_sent[i]);
      g_assert_cmpuint (a.len[i], ==, b.len[i]);
      g_assert_cmpint (a.tos[i], ==, b.tos[i]);
    }
  /* And both did what was asked: every datagram, with its TOS/TCLASS. */
  g_assert_cmpint (b.ret, ==, N_DGRAMS);
  g_assert_cmpint (b.n_got, ==, N_DGRAMS);
  for (i = 0; i < N_DGRAMS; i++)
    {
      int want = dscps[i] >= 0 ? (dscps[i] << 2) | ecns[i] : 0;
      g_assert_cmpint (b.tos[i], ==, want);
    }
}

static void
test_tos (gconstpointer data)
{
  NewFn f = lookup ("GIPTosMessage", "g_ip_tos_message_new");
  if (f != NULL)
    compare (GPOINTER_TO_INT (data), G_SOCKET_FAMILY_IPV4, f);
}

static void
test_tclass (gconstpointer data)
{
  NewFn f = lookup ("GIPv6TclassMessage", "g_ipv6_tclass_message_new");
  if (f != NULL)
    compare (GPOINTER_TO_INT (data), G_SOCKET_FAMILY_IPV6, f);
}

int
main (int argc, char **argv)
{
  int via;
  g_test_init (&argc, &argv, NULL);
  for (via = 0; via < N_VIA; via++)
    {
      gt_add_data_test (GINT_TO_POINTER (via), test_tos, "/ecn/ip-tos/%s", via_names[via]);
      gt_add_data_test (GINT_TO_POINTER (via), test_tclass, "/ecn/ipv6-tclass/%s", via_names[via]);
    }
  return g_test_run ();
}
