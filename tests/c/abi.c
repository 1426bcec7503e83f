/* The C ABI of gsend.h (docs/behaviour.md, "The functions at a glance"): every twin has exactly the type of
 * its GIO counterpart, every function in the header links and is callable. */
#include "gsend-test.h"

#define SAME_TYPE(ours, gios)                                                        \
  _Static_assert (__builtin_types_compatible_p (__typeof__ (&ours), __typeof__ (&gios)), \
                  #ours " must have the type of " #gios)

SAME_TYPE (gsend_datagram_based_send_messages, g_datagram_based_send_messages);
SAME_TYPE (gsend_socket_send_messages, g_socket_send_messages);
SAME_TYPE (gsend_socket_send_message, g_socket_send_message);
SAME_TYPE (gsend_socket_send_message_with_timeout, g_socket_send_message_with_timeout);
SAME_TYPE (gsend_socket_send_to, g_socket_send_to);
SAME_TYPE (gsend_socket_send, g_socket_send);
SAME_TYPE (gsend_socket_send_with_blocking, g_socket_send_with_blocking);

/* GIO keeps this one private; its documented type: */
typedef gint (*SendMessagesWithTimeout) (GSocket *, GOutputMessage *, guint, gint, gint64, GCancellable *, GError **);
/* §3 */
typedef gint (*SendDatagrams) (GSocket *, GSocketAddress *, GBytes **, guint, gint, gint64, GCancellable *, GError **);
typedef void (*SetGso) (GSocket *, gboolean);
typedef gboolean (*GetGso) (GSocket *);
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_socket_send_messages_with_timeout), SendMessagesWithTimeout), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_socket_send_datagrams), SendDatagrams), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_socket_set_gso), SetGso), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_socket_get_gso), GetGso), "");

/* The asynchronous functions (docs/behaviour.md rules 18-21), GIO's
 * _async/_finish shapes. */
typedef void (*SendDatagramsAsync) (GSocket *, GSocketAddress *, GBytes **, guint, gint, int, GCancellable *,
                                    GAsyncReadyCallback, gpointer);
typedef void (*SendMessagesAsync) (GSocket *, GOutputMessage *, guint, gint, int, GCancellable *, GAsyncReadyCallback,
                                   gpointer);
typedef gint (*SendFinish) (GSocket *, GAsyncResult *, GError **);
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_socket_send_datagrams_async), SendDatagramsAsync), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_socket_send_messages_async), SendMessagesAsync), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_socket_send_datagrams_finish), SendFinish), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_socket_send_messages_finish), SendFinish), "");

/* The version functions (GLib's style). */
typedef guint (*GetVersion) (void);
typedef const gchar *(*CheckVersion) (guint, guint, guint);
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_get_major_version), GetVersion), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_get_minor_version), GetVersion), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_get_micro_version), GetVersion), "");
_Static_assert (__builtin_types_compatible_p (__typeof__ (&gsend_check_version), CheckVersion), "");
_Static_assert (GSEND_MAJOR_VERSION >= 0 && GSEND_MINOR_VERSION >= 0 && GSEND_MICRO_VERSION >= 0, "");

/* Assignments too: these fail to build with -Werror=incompatible-pointer-types
 * if a signature drifts. */
static __typeof__ (&g_datagram_based_send_messages) p_db = gsend_datagram_based_send_messages;
static __typeof__ (&g_socket_send_messages) p_msgs = gsend_socket_send_messages;
static __typeof__ (&g_socket_send_message) p_msg = gsend_socket_send_message;
static __typeof__ (&g_socket_send_message_with_timeout) p_msg_t = gsend_socket_send_message_with_timeout;
static __typeof__ (&g_socket_send_to) p_to = gsend_socket_send_to;
static __typeof__ (&g_socket_send) p_send = gsend_socket_send;
static __typeof__ (&g_socket_send_with_blocking) p_blk = gsend_socket_send_with_blocking;
static SendMessagesWithTimeout p_msgs_t = gsend_socket_send_messages_with_timeout;
static SendDatagrams p_dgrams = gsend_socket_send_datagrams;
static SetGso p_set = gsend_socket_set_gso;
static GetGso p_get = gsend_socket_get_gso;

/* Every function of the header resolves to a distinct non-NULL address in
 * libgsend (not to GIO's function of the same shape). */
static void
test_abi_addresses (void)
{
  gpointer volatile all[] = {
    (gpointer) p_db, (gpointer) p_msgs, (gpointer) p_msg, (gpointer) p_msg_t, (gpointer) p_to, (gpointer) p_send,
    (gpointer) p_blk, (gpointer) p_msgs_t, (gpointer) p_dgrams, (gpointer) p_set, (gpointer) p_get,
  };
  gpointer gio[] = {
    (gpointer) g_datagram_based_send_messages, (gpointer) g_socket_send_messages, (gpointer) g_socket_send_message,
    (gpointer) g_socket_send_message_with_timeout, (gpointer) g_socket_send_to, (gpointer) g_socket_send,
    (gpointer) g_socket_send_with_blocking,
  };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      g_assert_nonnull (all[i]);
      for (guint j = 0; j < i; j++)
        g_assert_true (all[i] != all[j]);
      for (guint j = 0; j < G_N_ELEMENTS (gio); j++)
        g_assert_true (all[i] != gio[j]);
    }
}

/* One send through each pointer, over a connected UDP pair. */
static void
test_abi_calls (void)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4), *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *ra = gt_local_addr (rx);
  g_assert_true (g_socket_connect (tx, ra, NULL, &error));
  gchar data[] = "abi";
  GOutputVector v = { data, 3 };
  GOutputMessage m = { NULL, &v, 1, 0, NULL, 0 };
  GBytes *d = g_bytes_new_static (data, 3);
  gsize written = 0;
  g_assert_cmpint (p_db (G_DATAGRAM_BASED (tx), &m, 1, 0, -1, NULL, &error), ==, 1);
  g_assert_cmpint (p_msgs (tx, &m, 1, 0, NULL, &error), ==, 1);
  g_assert_cmpint (p_msgs_t (tx, &m, 1, 0, -1, NULL, &error), ==, 1);
  g_assert_cmpint (p_msg (tx, NULL, &v, 1, NULL, 0, 0, NULL, &error), ==, 3);
  g_assert_cmpint (p_msg_t (tx, NULL, &v, 1, NULL, 0, 0, -1, &written, NULL, &error), ==, G_POLLABLE_RETURN_OK);
  g_assert_cmpint (p_to (tx, ra, data, 3, NULL, &error), ==, 3);
  g_assert_cmpint (p_send (tx, data, 3, NULL, &error), ==, 3);
  g_assert_cmpint (p_blk (tx, data, 3, TRUE, NULL, &error), ==, 3);
  g_assert_cmpint (p_dgrams (tx, NULL, &d, 1, 0, -1, NULL, &error), ==, 1);
  g_assert_no_error (error);
  p_set (tx, FALSE);
  g_assert_false (p_get (tx));
  for (int i = 0; i < 9; i++)
    {
      gchar buf[8];
      gssize n = gt_recv_bounded (rx, buf, sizeof buf);
      g_assert_cmpmem (buf, n, "abi", 3);
    }
  g_assert_true (gt_nothing_pending (rx));
  g_bytes_unref (d);
  g_object_unref (ra);
  g_object_unref (tx);
  g_object_unref (rx);
}

/* The library's version is the header's; gsend_check_version() accepts
 * it and anything older of the same major version, refuses newer ones and
 * other major versions with a message. */
static void
test_abi_version (void)
{
  g_assert_cmpuint (gsend_get_major_version (), ==, GSEND_MAJOR_VERSION);
  g_assert_cmpuint (gsend_get_minor_version (), ==, GSEND_MINOR_VERSION);
  g_assert_cmpuint (gsend_get_micro_version (), ==, GSEND_MICRO_VERSION);
  g_assert_null (gsend_check_version (GSEND_MAJOR_VERSION, GSEND_MINOR_VERSION, GSEND_MICRO_VERSION));
  g_assert_null (gsend_check_version (GSEND_MAJOR_VERSION, 0, 0));
  g_assert_nonnull (gsend_check_version (GSEND_MAJOR_VERSION, GSEND_MINOR_VERSION, GSEND_MICRO_VERSION + 1));
  g_assert_nonnull (gsend_check_version (GSEND_MAJOR_VERSION, GSEND_MINOR_VERSION + 1, 0));
  const gchar *other = gsend_check_version (GSEND_MAJOR_VERSION + 1, 0, 0);
  g_assert_nonnull (other);
  g_assert_nonnull (strstr (other, "major"));
  /* Static: the same pointer every time. */
  g_assert_true (other == gsend_check_version (GSEND_MAJOR_VERSION + 1, 0, 0));
}

static const GtTest tests[] = {
  { "/abi/addresses", test_abi_addresses },
  { "/abi/calls", test_abi_calls },
  { "/abi/version", test_abi_version },
};

GT_TEST_MAIN (tests)
