/* Huge batches honour their deadline and their cancellable even when the
 * socket never fills (docs/behaviour.md rules 4 and 6).
 *
 * 200,000 small datagrams in one call to a loopback UDP receiver, which
 * never makes the sender wait: with a 1 ms timeout, and cancelled 5 ms in
 * by another thread. The call must stop early (fewer than 200,000) and
 * report exactly what it sent: the receiver (a large buffer, drained by a
 * thread) gets exactly the returned count. Segmentation offload is off so
 * that the batch takes long enough (some 100 ms) for the stop to land
 * inside it. */

#include "stress-common.h"

#define N_HUGE 200000
#define LEN 32

typedef struct
{
  int fd;
  gint stop;
  guint64 got;
} Receiver;

static gpointer
receiver_thread (gpointer data)
{
  Receiver *r = data;
  enum { VLEN = 256 };
  static guint8 bufs[VLEN][64];
  struct mmsghdr mm[VLEN];
  struct iovec iov[VLEN];
  gint64 quiet_since = 0;
  for (;;)
    {
      struct pollfd p = { r->fd, POLLIN, 0 };
      int pr = poll (&p, 1, 20);
      if (pr <= 0)
        {
          /* Stop once told to and nothing came for 200 ms. */
          if (g_atomic_int_get (&r->stop))
            {
              if (quiet_since == 0)
                quiet_since = g_get_monotonic_time ();
              else if (g_get_monotonic_time () - quiet_since > 200000)
                return NULL;
            }
          continue;
        }
      quiet_since = 0;
      memset (mm, 0, sizeof mm);
      for (int i = 0; i < VLEN; i++)
        {
          iov[i].iov_base = bufs[i];
          iov[i].iov_len = sizeof bufs[i];
          mm[i].msg_hdr.msg_iov = &iov[i];
          mm[i].msg_hdr.msg_iovlen = 1;
        }
      int n = recvmmsg (r->fd, mm, VLEN, MSG_DONTWAIT, NULL);
      if (n > 0)
        {
          for (int i = 0; i < n; i++)
            g_assert_cmpuint (mm[i].msg_len, ==, LEN);
          r->got += (guint) n;
        }
    }
}

typedef enum
{
  VIA_MESSAGES,
  VIA_DATAGRAM_BASED,
  VIA_DATAGRAMS,
} Via;

static gpointer
cancel_later (gpointer data)
{
  g_usleep (5000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
run_huge (Via via, gboolean cancel)
{
  watchdog (60);
  GSocketAddress *addr;
  /* Room for all of them: nothing is dropped, so the count can be exact. */
  Receiver r = { gt_udp_receiver_fd (AF_INET, 256 * 1024 * 1024, &addr), 0, 0 };
  GError *error = NULL;
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  gsend_socket_set_gso (s, FALSE);
  static guint8 payload[LEN];
  memset (payload, 'h', sizeof payload);
  GOutputVector *vecs = g_new (GOutputVector, N_HUGE);
  GOutputMessage *msgs = g_new (GOutputMessage, N_HUGE);
  GBytes **bytes = via == VIA_DATAGRAMS ? g_new (GBytes *, N_HUGE) : NULL;
  GBytes *one = g_bytes_new_static (payload, LEN);
  for (guint i = 0; i < N_HUGE; i++)
    {
      vecs[i] = (GOutputVector) { payload, LEN };
      msgs[i] = (GOutputMessage) { addr, &vecs[i], 1, 0, NULL, 0 };
      if (bytes)
        bytes[i] = one;
    }
  GThread *rt = g_thread_new ("receiver", receiver_thread, &r);
  GCancellable *c = cancel ? g_cancellable_new () : NULL;
  /* The cancelling run has no deadline; the deadline run no cancellable. */
  gint64 timeout_us = cancel ? -1 : 1000;
  GThread *ct = cancel ? g_thread_new ("canceller", cancel_later, c) : NULL;
  gint n = -1;
  switch (via)
    {
    case VIA_MESSAGES:
      n = cancel ? gsend_socket_send_messages (s, msgs, N_HUGE, 0, c, &error)
                 : gsend_socket_send_messages_with_timeout (s, msgs, N_HUGE, 0, timeout_us, c, &error);
      break;
    case VIA_DATAGRAM_BASED:
      n = gsend_datagram_based_send_messages (G_DATAGRAM_BASED (s), msgs, N_HUGE, 0, timeout_us, c, &error);
      break;
    case VIA_DATAGRAMS:
      n = gsend_socket_send_datagrams (s, addr, bytes, N_HUGE, 0, timeout_us, c, &error);
      break;
    }
  if (ct)
    g_thread_join (ct);
  g_atomic_int_set (&r.stop, 1);
  g_thread_join (rt);
  g_test_message ("FIGURE huge batch (%s, via %d): %d of %d sent, %" G_GUINT64_FORMAT " received",
                  cancel ? "cancelled 5 ms in" : "1 ms timeout", (int) via, n, N_HUGE, r.got);
  /* Some went (the first chunk is sent before any check), not all. */
  g_assert_no_error (error);
  g_assert_cmpint (n, >, 0);
  g_assert_cmpint (n, <, N_HUGE);
  g_assert_cmpuint (r.got, ==, (guint64) n);
  for (guint i = 0; i < (guint) n && via != VIA_DATAGRAMS; i++)
    g_assert_cmpuint (msgs[i].bytes_sent, ==, LEN);
  if (via != VIA_DATAGRAMS)
    g_assert_cmpuint (msgs[n].bytes_sent, ==, 0);
  g_bytes_unref (one);
  g_free (bytes);
  g_free (msgs);
  g_free (vecs);
  g_clear_object (&c);
  g_object_unref (s);
  g_object_unref (addr);
  close (r.fd);
  alarm (0);
}

static void
test_timeout (gconstpointer via)
{
  run_huge (GPOINTER_TO_INT (via), FALSE);
}

static void
test_cancel (gconstpointer via)
{
  run_huge (GPOINTER_TO_INT (via), TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *names[] = { "send-messages", "datagram-based", "send-datagrams" };
  for (int v = 0; v < 3; v++)
    {
      gt_add_data_test (GINT_TO_POINTER (v), test_timeout, "/huge-batch/timeout-1ms/%s", names[v]);
      gt_add_data_test (GINT_TO_POINTER (v), test_cancel, "/huge-batch/cancel-5ms/%s", names[v]);
    }
  return g_test_run ();
}
