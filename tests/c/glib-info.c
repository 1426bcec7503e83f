/* Prints which GLib this program runs on and what gsend's GSocketPrivate
 * layout probe decided there, for the GLib compatibility matrix
 * (scripts/glib-matrix.sh reads these lines):
 *
 *   glib-compiled 2.74.6
 *   glib-running 2.74.6
 *   libgio /usr/lib/x86_64-linux-gnu/libgio-2.0.so.0
 *   direct-reads accepted|refused|switched off (GSEND_DIRECT_READS=0)
 *
 * The probe runs at gsend's first send; its verdict is a debug message in
 * the "GSend" log domain, caught here by a handler. Exits 1 if a send
 * fails or no verdict was logged. Also a test of suite 'c': the verdict
 * must be "accepted" unless GSEND_DIRECT_READS=0 or
 * GSEND_EXPECT_DIRECT_READS says otherwise. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <gsend.h>

static char verdict[128];

static void
on_log (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  const char *key = "GSocketPrivate layout probe: direct reads ";
  (void) domain;
  (void) level;
  (void) data;
  if (g_str_has_prefix (message, key))
    g_strlcpy (verdict, message + strlen (key), sizeof verdict);
}

int
main (void)
{
  Dl_info info;
  GError *error = NULL;
  GSocket *a, *b;
  GInetAddress *lo;
  GSocketAddress *bind_addr, *addr;
  const char *expect;

  g_log_set_handler ("GSend", G_LOG_LEVEL_DEBUG, on_log, NULL);

  printf ("glib-compiled %d.%d.%d\n", GLIB_MAJOR_VERSION, GLIB_MINOR_VERSION, GLIB_MICRO_VERSION);
  printf ("glib-running %u.%u.%u\n", glib_major_version, glib_minor_version, glib_micro_version);
  if (dladdr ((void *) g_socket_new, &info) && info.dli_fname)
    printf ("libgio %s\n", info.dli_fname);

  lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  bind_addr = g_inet_socket_address_new (lo, 0);
  a = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  b = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  if (!g_socket_bind (b, bind_addr, FALSE, &error))
    g_error ("bind: %s", error->message);
  addr = g_socket_get_local_address (b, &error);
  g_assert_no_error (error);
  if (gsend_socket_send_to (a, addr, "x", 1, NULL, &error) != 1)
    {
      printf ("send failed: %s\n", error ? error->message : "?");
      return 1;
    }
  printf ("direct-reads %s\n", verdict[0] ? verdict : "(no verdict logged)");

  g_object_unref (addr);
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (bind_addr);
  g_object_unref (lo);

  if (!verdict[0])
    return 1;
  expect = g_getenv ("GSEND_EXPECT_DIRECT_READS");
  if (expect == NULL)
    expect = g_strcmp0 (g_getenv ("GSEND_DIRECT_READS"), "0") == 0 ? "switched off" : "accepted";
  if (!g_str_has_prefix (verdict, expect))
    {
      printf ("expected the verdict '%s'\n", expect);
      return 1;
    }
  return 0;
}
