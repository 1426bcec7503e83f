/* send-batch: sends a batch of datagrams through gsend on loopback and
 * prints what the receiver got.
 *
 * Build: cc send-batch.c $(pkg-config --cflags --libs gsend-1) -o send-batch
 */
#include <gsend.h>
#include <stdio.h>
#include <string.h>

#define N_MESSAGES 8

int
main (void)
{
  GError *error = NULL;
  GSocket *receiver, *sender;
  GInetAddress *loopback;
  GSocketAddress *bind_addr, *dest;
  GOutputVector vectors[N_MESSAGES][2];
  GOutputMessage messages[N_MESSAGES];
  char headers[N_MESSAGES][32];
  const char *body = "hello from gsend";
  gint sent;
  int i;

  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  bind_addr = g_inet_socket_address_new (loopback, 0);
  receiver = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                           G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_bind (receiver, bind_addr, TRUE, &error);
  g_assert_no_error (error);
  dest = g_socket_get_local_address (receiver, &error);
  g_assert_no_error (error);

  sender = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);

  /* Each datagram is gathered from two buffers: a numbered header and a
   * shared body. */
  for (i = 0; i < N_MESSAGES; i++)
    {
      g_snprintf (headers[i], sizeof headers[i], "datagram %d: ", i);
      vectors[i][0].buffer = headers[i];
      vectors[i][0].size = strlen (headers[i]);
      vectors[i][1].buffer = body;
      vectors[i][1].size = strlen (body);
      messages[i].address = dest;
      messages[i].vectors = vectors[i];
      messages[i].num_vectors = 2;
      messages[i].bytes_sent = 0;
      messages[i].control_messages = NULL;
      messages[i].num_control_messages = 0;
    }

  sent = gsend_socket_send_messages (sender, messages, N_MESSAGES, 0, NULL, &error);
  if (sent < 0)
    {
      g_printerr ("send failed: %s\n", error->message);
      return 1;
    }
  g_print ("gsend_socket_send_messages sent %d of %d datagrams to %s\n",
           sent, N_MESSAGES,
           g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (dest))));

  g_socket_set_timeout (receiver, 2);
  for (i = 0; i < sent; i++)
    {
      char buf[256];
      gssize got = g_socket_receive (receiver, buf, sizeof buf - 1, NULL, &error);
      if (got < 0)
        {
          g_printerr ("receive failed: %s\n", error->message);
          return 1;
        }
      buf[got] = '\0';
      g_print ("  received %2" G_GSSIZE_FORMAT " bytes (bytes_sent %u): %s\n",
               got, messages[i].bytes_sent, buf);
    }

  g_object_unref (sender);
  g_object_unref (receiver);
  g_object_unref (dest);
  g_object_unref (bind_addr);
  g_object_unref (loopback);
  return 0;
}
