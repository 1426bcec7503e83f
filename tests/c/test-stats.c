/* Statistics and debug messages (docs/behaviour.md "Statistics and
 * debugging"): gsend_socket_get_stats() after known batches on UDP
 * loopback with segmentation offload on and off, a wait counted on a full
 * AF_UNIX pair, NULL for the process totals; GSEND_STATS=1 printing the
 * totals at exit (libgsend and the preload shim), and the debug lines of
 * G_MESSAGES_DEBUG=GSend, each checked in a child process's stderr.
 *
 * The child modes (argv[1]): "send-gsend" sends with gsend_socket_send_to
 * and gsend batches; "send-gio" sends with GIO's g_socket_send_to (which
 * the preload shim takes over when it is loaded). */
#include "gsend-test.h" /* first: it sets _GNU_SOURCE; GLib 2.66 fallbacks */

#define N 64
#define SIZE 1200

static GSocket *
udp_socket (void)
{
  GError *error = NULL;
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  return s;
}

/* A receiver bound on 127.0.0.1 with room for a few batches. */
static GSocket *
receiver (GSocketAddress **addr)
{
  GError *error = NULL;
  GSocket *r = udp_socket ();
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (r, any, FALSE, &error));
  g_assert_no_error (error);
  g_socket_set_option (r, SOL_SOCKET, SO_RCVBUF, 4 << 20, NULL);
  *addr = g_socket_get_local_address (r, &error);
  g_assert_no_error (error);
  g_object_unref (any);
  g_object_unref (lo);
  return r;
}

static guint
drain (GSocket *r)
{
  char buf[65536];
  guint n = 0;
  while (g_socket_receive_with_blocking (r, buf, sizeof buf, FALSE, NULL, NULL) >= 0)
    n++;
  return n;
}

/* N equal datagrams to addr in one gsend_socket_send_messages call. */
static void
send_batch (GSocket *s, GSocketAddress *addr, gint flags)
{
  static char payload[SIZE];
  GOutputVector v = { payload, SIZE };
  GOutputMessage m[N];
  GError *error = NULL;
  for (guint i = 0; i < N; i++)
    m[i] = (GOutputMessage) { addr, &v, 1, 0, NULL, 0 };
  g_assert_cmpint (gsend_socket_send_messages (s, m, N, flags, NULL, &error), ==, N);
  g_assert_no_error (error);
}

static void
test_udp_batches (void)
{
  GSocketAddress *addr;
  GSocket *r = receiver (&addr);
  GSocket *s = udp_socket ();
  GSendStats st, total_before, total_after;
  GError *error = NULL;
  gboolean gso;

  memset (&st, 0xff, sizeof st);
  gsend_socket_get_stats (s, &st);
  g_assert_cmpuint (st.datagrams_sent, ==, 0);
  g_assert_cmpuint (st.send_calls, ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (st.reserved); i++)
    g_assert_cmpuint (st.reserved[i], ==, 0);
  gsend_socket_get_stats (NULL, &total_before);

  gso = gsend_socket_get_gso (s);
  send_batch (s, addr, 0);
  gsend_socket_get_stats (s, &st);
  g_assert_cmpuint (st.datagrams_sent, ==, N);
  /* Runs of 54 and 10 (65507 bytes at most per segmented send) go in one
   * sendmmsg; without offload 64 headers also go in one. */
  g_assert_cmpuint (st.send_calls, ==, 1);
  g_assert_cmpuint (st.gso_datagrams, ==, gso ? N : 0);
  g_assert_cmpuint (st.gso_refusals, ==, 0);
  g_assert_cmpuint (st.waits, ==, 0);
  g_assert_cmpuint (st.async_queued, ==, 0);

  /* Offload off for the socket: the datagrams count, the runs do not. */
  gsend_socket_set_gso (s, FALSE);
  send_batch (s, addr, 0);
  /* One datagram through the fast path. */
  g_assert_cmpint (gsend_socket_send_to (s, addr, "x", 1, NULL, &error), ==, 1);
  g_assert_no_error (error);
  gsend_socket_get_stats (s, &st);
  g_assert_cmpuint (st.datagrams_sent, ==, 2 * N + 1);
  g_assert_cmpuint (st.send_calls, ==, 3);
  g_assert_cmpuint (st.gso_datagrams, ==, gso ? N : 0);
  g_assert_cmpuint (drain (r), ==, 2 * N + 1);

  /* NULL: the process totals hold this socket's counts. */
  gsend_socket_get_stats (NULL, &total_after);
  g_assert_cmpuint (total_after.datagrams_sent - total_before.datagrams_sent, >=, 2 * N + 1);
  g_assert_cmpuint (total_after.send_calls - total_before.send_calls, >=, 3);
  g_assert_cmpuint (total_after.gso_datagrams - total_before.gso_datagrams, >=, gso ? N : 0);

  /* A socket gone keeps counting in the totals. */
  g_object_unref (s);
  gsend_socket_get_stats (NULL, &st);
  g_assert_cmpuint (st.datagrams_sent, >=, total_after.datagrams_sent);
  g_object_unref (addr);
  g_object_unref (r);
}

static void
test_wait_on_full_socket (void)
{
  int fds[2];
  GError *error = NULL;
  GSendStats st;
  GSocket *a, *b;
  char buf[512] = { 0 };

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_DGRAM, 0, fds), ==, 0);
  a = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  b = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  /* Fill without waiting (bounded). */
  for (guint i = 0; i < 100000; i++)
    if (gsend_socket_send_with_blocking (a, buf, sizeof buf, FALSE, NULL, &error) < 0)
      break;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  gsend_socket_get_stats (a, &st);
  g_assert_cmpuint (st.waits, ==, 0);
  /* A blocking send with the socket's 1 s timeout waits once, then times out. */
  g_socket_set_timeout (a, 1);
  g_assert_cmpint (gsend_socket_send (a, buf, sizeof buf, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  gsend_socket_get_stats (a, &st);
  g_assert_cmpuint (st.waits, ==, 1);
  /* The sends that filled it, the EAGAIN that ended the filling, and the
   * calls before and after the wait. */
  g_assert_cmpuint (st.send_calls, >=, st.datagrams_sent + 2);
  g_object_unref (a);
  g_object_unref (b);
}

/* Runs this program in child mode `mode` with `env` added; returns what it
 * printed: stdout (where GLib writes debug messages) then stderr. */
static gchar *
child_stderr (const char *mode, const char *const *env_add)
{
  const char *self = g_test_get_filename (G_TEST_BUILT, "c-test-stats", NULL);
  gchar **env = g_get_environ ();
  gchar *argv[] = { (gchar *) self, (gchar *) mode, NULL };
  gchar *out = NULL, *err = NULL, *both;
  gint status = 0;
  GError *error = NULL;
  env = g_environ_unsetenv (env, "GSEND_STATS");
  env = g_environ_unsetenv (env, "G_MESSAGES_DEBUG");
  env = g_environ_unsetenv (env, "LD_PRELOAD");
  for (guint i = 0; env_add[i] != NULL; i += 2)
    env = g_environ_setenv (env, env_add[i], env_add[i + 1], TRUE);
  /* g_spawn_sync waits for the child, which has its own bound: it only
   * sends on loopback without blocking. */
  g_assert_true (g_spawn_sync (NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_strfreev (env);
  both = g_strconcat (out, err, NULL);
  g_free (out);
  g_free (err);
  return both;
}

static guint
count_lines (const char *text, const char *needle)
{
  guint n = 0;
  for (const char *p = text; (p = strstr (p, needle)) != NULL; p += strlen (needle))
    n++;
  return n;
}

static void
test_stats_at_exit (void)
{
  const char *none[] = { NULL };
  const char *on[] = { "GSEND_STATS", "1", NULL };
  gchar *err = child_stderr ("send-gsend", none);
  g_assert_cmpstr (err, ==, "");
  g_free (err);
  err = child_stderr ("send-gsend", on);
  g_test_message ("child: %s", err);
  /* 5 batches of N and one datagram (the corked MSG_MORE batches take
   * more than one call each). */
  g_assert_nonnull (strstr (err, "gsend["));
  g_assert_nonnull (strstr (err, "]: 321 datagrams sent in "));
  g_assert_cmpuint (count_lines (err, "datagrams sent"), ==, 1);
  g_free (err);
}

static void
test_preload_stats_at_exit (void)
{
  const char *preload = g_getenv ("GSEND_PRELOAD_LIB");
  if (preload == NULL)
    {
      g_test_skip ("GSEND_PRELOAD_LIB not set");
      return;
    }
  const char *on[] = { "GSEND_STATS", "1", "LD_PRELOAD", preload, NULL };
  gchar *err = child_stderr ("send-gio", on);
  g_test_message ("child: %s", err);
  /* Three datagrams through GIO's g_socket_send_to, taken by the shim;
   * libgsend (linked, unused here) reports its own zero totals. */
  g_assert_nonnull (strstr (err, "gsend-preload["));
  g_assert_nonnull (strstr (err, "]: 3 datagrams sent in 3 kernel send calls"));
  g_free (err);
}

static void
test_debug_messages (void)
{
  const char *none[] = { NULL };
  const char *on[] = { "G_MESSAGES_DEBUG", "GSend", NULL };
  gchar *err = child_stderr ("send-gsend", none);
  g_assert_cmpstr (err, ==, "");
  g_free (err);
  err = child_stderr ("send-gsend", on);
  g_test_message ("child: %s", err);
  if (g_strcmp0 (g_getenv ("GSEND_GSO"), "0") != 0)
    g_assert_cmpuint (count_lines (err, "segmentation offload used for the first time"), ==, 1);
  else
    g_assert_cmpuint (count_lines (err, "segmentation offload used for the first time"), ==, 0);
  g_assert_cmpuint (count_lines (err, "segmentation offload turned off (gsend_socket_set_gso)"), ==, 1);
  if (g_strcmp0 (g_getenv ("GSEND_GSO"), "0") != 0)
    {
      /* Three MSG_MORE batches in a row: at most one line a second (two if
       * the calls straddle a second's end). */
      guint more = count_lines (err, "batch not coalesced: the flags carry MSG_MORE");
      g_assert_cmpuint (more, >=, 1);
      g_assert_cmpuint (more, <=, 2);
    }
  g_free (err);
}

static int
child (const char *mode)
{
  GSocketAddress *addr;
  GSocket *r = receiver (&addr);
  GSocket *s = udp_socket ();
  GError *error = NULL;
  if (g_str_equal (mode, "send-gio"))
    {
      for (int i = 0; i < 3; i++)
        if (g_socket_send_to (s, addr, "abc", 3, NULL, &error) != 3)
          return 1;
    }
  else
    {
      send_batch (s, addr, 0);
      send_batch (s, addr, 0);
      /* Kept apart by MSG_MORE (corked into one datagram on arrival). */
      send_batch (s, addr, MSG_MORE);
      send_batch (s, addr, MSG_MORE);
      send_batch (s, addr, MSG_MORE);
      gsend_socket_set_gso (s, FALSE);
      if (gsend_socket_send_to (s, addr, "x", 1, NULL, &error) != 1)
        return 1;
    }
  g_object_unref (s);
  g_object_unref (addr);
  g_object_unref (r);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc > 1 && g_str_has_prefix (argv[1], "send-"))
    return child (argv[1]);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stats/udp-batches", test_udp_batches);
  g_test_add_func ("/stats/wait-on-full-socket", test_wait_on_full_socket);
  g_test_add_func ("/stats/gsend-stats-at-exit", test_stats_at_exit);
  g_test_add_func ("/stats/preload-stats-at-exit", test_preload_stats_at_exit);
  g_test_add_func ("/stats/debug-messages", test_debug_messages);
  return g_test_run ();
}
