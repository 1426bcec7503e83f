/* A GIO-only program (no gsend header, no libgsend) that makes each of the
 * send functions' argument checks fail and expects exactly GIO's critical:
 * log domain "GLib-GIO" and the text g_return_val_if_fail gives in GIO,
 * which names the GIO function making the check (for g_socket_send_messages
 * that is its private g_socket_send_messages_with_timeout, for
 * g_socket_send_message g_socket_send_message_with_timeout, for
 * g_socket_send g_socket_send_with_timeout). Run twice: plainly (GIO itself
 * must pass it, so the expectations are GIO's own) and with
 * LD_PRELOAD=libgsend-preload.so, where EXPECT=shim makes the program also
 * check that the send names really resolve to the shim. The texts are the
 * same in GIO 2.66, 2.74, 2.84 and 2.88; the GLib matrix runs this
 * against each.
 *
 * Only checks GIO survives are made: GIO reads socket->priv before its
 * checks in g_socket_send_messages, g_socket_send_message, g_socket_send
 * and g_socket_send_to, so a NULL socket is only passed to the functions
 * that check it first; g_socket_send_message also sums the vectors before
 * its checks. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include <gio/gio.h>

#define GSEND_TEST_GIO_ONLY /* this program never sees gsend.h */
#include "gsend-test.h"

#define EXPECT_GIO(func, expr) \
  g_test_expect_message ("GLib-GIO", G_LOG_LEVEL_CRITICAL, func ": assertion '" expr "' failed")

static void
test_send_messages (void)
{
  GSocket *s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  GOutputVector v = { "x", 1 };
  GOutputMessage m = { NULL, &v, 1, 0, NULL, 0 };
  GError *set = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "already set");
  GObject *not_cancellable = g_object_new (G_TYPE_OBJECT, NULL);

  EXPECT_GIO ("g_socket_send_messages_with_timeout", "num_messages == 0 || messages != NULL");
  g_assert_cmpint (g_socket_send_messages (s, NULL, 1, 0, NULL, NULL), ==, -1);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_socket_send_messages_with_timeout", "cancellable == NULL || G_IS_CANCELLABLE (cancellable)");
  g_assert_cmpint (g_socket_send_messages (s, &m, 1, 0, (GCancellable *) not_cancellable, NULL), ==, -1);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_socket_send_messages_with_timeout", "error == NULL || *error == NULL");
  g_assert_cmpint (g_socket_send_messages (s, &m, 1, 0, NULL, &set), ==, -1);
  g_test_assert_expected_messages ();

  g_error_free (set);
  g_object_unref (not_cancellable);
  g_object_unref (s);
}

static void
test_datagram_based (void)
{
  GSocket *s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  GOutputVector v = { "x", 1 };
  GOutputMessage m = { NULL, &v, 1, 0, NULL, 0 };
  GError *set = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "already set");

  EXPECT_GIO ("g_datagram_based_send_messages", "G_IS_DATAGRAM_BASED (datagram_based)");
  g_assert_cmpint (g_datagram_based_send_messages (NULL, &m, 1, 0, 0, NULL, NULL), ==, -1);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_datagram_based_send_messages", "num_messages == 0 || messages != NULL");
  g_assert_cmpint (g_datagram_based_send_messages (G_DATAGRAM_BASED (s), NULL, 1, 0, 0, NULL, NULL), ==, -1);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_datagram_based_send_messages", "error == NULL || *error == NULL");
  g_assert_cmpint (g_datagram_based_send_messages (G_DATAGRAM_BASED (s), &m, 1, 0, 0, NULL, &set), ==, -1);
  g_test_assert_expected_messages ();

  g_error_free (set);
  g_object_unref (s);
}

static void
test_send_message (void)
{
  GSocket *s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);
  GOutputVector v = { "x", 1 };
  GObject *not_address = g_object_new (G_TYPE_OBJECT, NULL);
  GError *set = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "already set");
  gsize written = 99;

  EXPECT_GIO ("g_socket_send_message_with_timeout", "G_IS_SOCKET (socket)");
  g_assert_cmpint (g_socket_send_message_with_timeout (NULL, NULL, &v, 1, NULL, 0, 0, 0, &written, NULL, NULL),
                   ==, G_POLLABLE_RETURN_FAILED);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_socket_send_message_with_timeout", "address == NULL || G_IS_SOCKET_ADDRESS (address)");
  g_assert_cmpint (g_socket_send_message (s, (GSocketAddress *) not_address, &v, 1, NULL, 0, 0, NULL, NULL), ==, -1);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_socket_send_message_with_timeout", "num_vectors == 0 || vectors != NULL");
  /* (g_socket_send_message reads the vectors before any check.) */
  g_assert_cmpint (g_socket_send_message_with_timeout (s, NULL, NULL, 1, NULL, 0, 0, 0, &written, NULL, NULL),
                   ==, G_POLLABLE_RETURN_FAILED);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_socket_send_message_with_timeout", "num_messages == 0 || messages != NULL");
  g_assert_cmpint (g_socket_send_message (s, NULL, &v, 1, NULL, 1, 0, NULL, NULL), ==, -1);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_socket_send_message_with_timeout", "error == NULL || *error == NULL");
  g_assert_cmpint (g_socket_send_to (s, NULL, "x", 1, NULL, &set), ==, -1);
  g_test_assert_expected_messages ();

  g_error_free (set);
  g_object_unref (not_address);
  g_object_unref (s);
}

static void
test_send (void)
{
  GSocket *s = gt_udp_socket (G_SOCKET_FAMILY_IPV4);

  EXPECT_GIO ("g_socket_send_with_timeout", "G_IS_SOCKET (socket) && buffer != NULL");
  g_assert_cmpint (g_socket_send_with_blocking (NULL, "x", 1, TRUE, NULL, NULL), ==, -1);
  g_test_assert_expected_messages ();

  EXPECT_GIO ("g_socket_send_with_timeout", "G_IS_SOCKET (socket) && buffer != NULL");
  g_assert_cmpint (g_socket_send (s, NULL, 1, NULL, NULL), ==, -1);
  g_test_assert_expected_messages ();

  g_object_unref (s);
}

/* Under EXPECT=shim: every name used above resolves to the preloaded
 * shim, so the expectations were met by gsend, not by GIO. */
static void
test_bound_to_shim (void)
{
  const char *names[] = { "g_socket_send_messages", "g_datagram_based_send_messages", "g_socket_send_message",
                          "g_socket_send_message_with_timeout", "g_socket_send_to", "g_socket_send",
                          "g_socket_send_with_blocking" };
  gsize i;

  if (g_strcmp0 (g_getenv ("EXPECT"), "shim") != 0)
    {
      g_test_skip ("GIO itself (EXPECT is not 'shim')");
      return;
    }
  for (i = 0; i < G_N_ELEMENTS (names); i++)
    {
      Dl_info info;
      void *p = dlsym (RTLD_DEFAULT, names[i]);
      g_assert_nonnull (p);
      g_assert_true (dladdr (p, &info) != 0);
      if (strstr (info.dli_fname, "libgsend-preload") == NULL)
        g_error ("%s resolves to %s, not the shim", names[i], info.dli_fname);
    }
}

static const GtTest tests[] = {
  { "/gio-criticals/bound-to-shim", test_bound_to_shim },
  { "/gio-criticals/send-messages", test_send_messages },
  { "/gio-criticals/datagram-based", test_datagram_based },
  { "/gio-criticals/send-message", test_send_message },
  { "/gio-criticals/send", test_send },
};

GT_TEST_MAIN (tests)
