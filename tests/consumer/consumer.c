/* A program that uses an installed gsend the way any project would: only
 * <gsend.h> and `pkg-config --cflags --libs gsend-1`, nothing from the
 * source tree. It sends datagrams through gsend on loopback, checks what
 * arrives, and checks that the libgsend.so.1 it runs with is the one in the
 * prefix given as argv[1].
 *
 *   cc consumer.c $(pkg-config --cflags --libs gsend-1) -o consumer
 *   ./consumer <prefix-libdir>/libgsend.so.1
 */
#define _GNU_SOURCE
#include <gsend.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { g_printerr ("consumer: " __VA_ARGS__); g_printerr ("\n"); return 1; } while (0)

static int
receive_expect (GSocket *receiver, const char *expected, gsize len)
{
  char buf[2048];
  GError *error = NULL;
  gssize got = g_socket_receive (receiver, buf, sizeof buf, NULL, &error);

  if (got < 0)
    FAIL ("receive failed: %s", error->message);
  if ((gsize) got != len || memcmp (buf, expected, len) != 0)
    FAIL ("received %" G_GSSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT " (\"%.*s\")",
          got, len, (int) len, expected);
  return 0;
}

int
main (int argc, char **argv)
{
  const char *texts[] = { "first datagram", "", "third, a little longer datagram" };
  GError *error = NULL;
  GSocket *receiver, *sender;
  GInetAddress *loopback;
  GSocketAddress *any, *dest;
  GBytes *datagrams[3];
  GOutputVector vectors[2];
  GOutputMessage messages[2];
  Dl_info info;
  char expected_path[PATH_MAX], loaded_path[PATH_MAX];
  gint sent;
  int i;

  if (argc != 2)
    FAIL ("usage: %s <expected path of libgsend.so.1>", argv[0]);

  /* The installed header and library are one release. */
  if (gsend_check_version (GSEND_MAJOR_VERSION, GSEND_MINOR_VERSION, GSEND_MICRO_VERSION) != NULL)
    FAIL ("gsend_check_version: %s", gsend_check_version (GSEND_MAJOR_VERSION, GSEND_MINOR_VERSION, GSEND_MICRO_VERSION));
  if (gsend_get_major_version () != GSEND_MAJOR_VERSION || gsend_get_minor_version () != GSEND_MINOR_VERSION ||
      gsend_get_micro_version () != GSEND_MICRO_VERSION)
    FAIL ("library version %u.%u.%u, header version %d.%d.%d", gsend_get_major_version (), gsend_get_minor_version (),
          gsend_get_micro_version (), GSEND_MAJOR_VERSION, GSEND_MINOR_VERSION, GSEND_MICRO_VERSION);

  /* The library really is the installed one. */
  if (!dladdr ((void *) gsend_socket_send_datagrams, &info) || info.dli_fname == NULL)
    FAIL ("dladdr found no library for gsend_socket_send_datagrams");
  if (!realpath (argv[1], expected_path) || !realpath (info.dli_fname, loaded_path))
    FAIL ("cannot resolve %s or %s", argv[1], info.dli_fname);
  if (strcmp (expected_path, loaded_path) != 0)
    FAIL ("running with %s, expected %s", loaded_path, expected_path);

  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  any = g_inet_socket_address_new (loopback, 0);
  receiver = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (!receiver || !g_socket_bind (receiver, any, TRUE, &error))
    FAIL ("receiver: %s", error->message);
  g_socket_set_timeout (receiver, 5);
  dest = g_socket_get_local_address (receiver, &error);
  if (!dest)
    FAIL ("local address: %s", error->message);
  sender = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (!sender)
    FAIL ("sender: %s", error->message);

  /* The binding-friendly batch: one GBytes per datagram. */
  for (i = 0; i < 3; i++)
    datagrams[i] = g_bytes_new_static (texts[i], strlen (texts[i]));
  sent = gsend_socket_send_datagrams (sender, dest, datagrams, 3, 0, -1, NULL, &error);
  if (sent != 3)
    FAIL ("gsend_socket_send_datagrams returned %d: %s", sent, error ? error->message : "no error");
  for (i = 0; i < 3; i++)
    if (receive_expect (receiver, texts[i], strlen (texts[i])) != 0)
      return 1;

  /* The GIO twin, with gathered vectors. */
  vectors[0].buffer = "gathered ";
  vectors[0].size = strlen ("gathered ");
  vectors[1].buffer = "from two vectors";
  vectors[1].size = strlen ("from two vectors");
  for (i = 0; i < 2; i++)
    {
      messages[i].address = dest;
      messages[i].vectors = vectors;
      messages[i].num_vectors = 2 - i;
      messages[i].bytes_sent = 0;
      messages[i].control_messages = NULL;
      messages[i].num_control_messages = 0;
    }
  sent = gsend_socket_send_messages (sender, messages, 2, 0, NULL, &error);
  if (sent != 2)
    FAIL ("gsend_socket_send_messages returned %d: %s", sent, error ? error->message : "no error");
  if (messages[0].bytes_sent != 25 || messages[1].bytes_sent != 9)
    FAIL ("bytes_sent %u and %u, expected 25 and 9", messages[0].bytes_sent, messages[1].bytes_sent);
  if (receive_expect (receiver, "gathered from two vectors", 25) != 0 ||
      receive_expect (receiver, "gathered ", 9) != 0)
    return 1;

  /* Errors come back as GErrors. */
  g_socket_close (sender, NULL);
  sent = gsend_socket_send_datagrams (sender, dest, datagrams, 1, 0, -1, NULL, &error);
  if (sent != -1 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    FAIL ("send on a closed socket returned %d, %s", sent, error ? error->message : "no error");
  g_clear_error (&error);

  for (i = 0; i < 3; i++)
    g_bytes_unref (datagrams[i]);
  g_object_unref (sender);
  g_object_unref (receiver);
  g_object_unref (dest);
  g_object_unref (any);
  g_object_unref (loopback);
  g_print ("consumer: ok, running with %s\n", loaded_path);
  return 0;
}
