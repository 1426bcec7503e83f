/* fork() while other threads are inside gsend's first use (docs/behaviour.md
 * "Signals and fork").
 *
 * gsend sets some things up on first use: the check of GSocket's private
 * layout (which creates and closes a probe socket), cached GTypes and
 * quarks, the address cache's marks, the GSEND_GSO switch. A lock held by
 * one of those when another thread forks stays held forever in the child,
 * whose own first use would then wait for it.
 *
 * Every round is a fresh process (this program re-executes itself with
 * --round), so that every round is a first use: it starts threads that
 * each make their first gsend call, forks from the main thread while they
 * run, and the child sends two datagrams with gsend to a loopback UDP
 * receiver. The round waits at most 2 s for the child and fails on a hang
 * (the child is killed). GSEND_FORK_ROUNDS sets the number of rounds
 * (default 300); a round that hangs is reported with its number. */

#include "stress-common.h"

#include <sys/wait.h>
#include <time.h>

#define N_THREADS 4

typedef struct
{
  GSocket *socket;
  GSocketAddress *addr;
  GCancellable *cancellable;
  guint kind;
  gint *started;
} Job;

static gint go;

static gpointer
first_use (gpointer data)
{
  Job *j = data;
  guint8 buf[64] = { 0 };
  GOutputVector v = { buf, sizeof buf };
  GOutputMessage m[2] = { { j->addr, &v, 1, 0, NULL, 0 }, { j->addr, &v, 1, 0, NULL, 0 } };
  GError *error = NULL;
  g_atomic_int_inc (j->started);
  while (!g_atomic_int_get (&go))
    ;
  switch (j->kind)
    {
    case 0:
      gsend_socket_send_messages (j->socket, m, 2, 0, j->cancellable, &error);
      break;
    case 1:
      gsend_socket_send_to (j->socket, j->addr, (const gchar *) buf, sizeof buf, NULL, &error);
      break;
    case 2:
      gsend_datagram_based_send_messages (G_DATAGRAM_BASED (j->socket), m, 2, 0, -1, j->cancellable, &error);
      break;
    default:
      gsend_socket_send_message (j->socket, j->addr, &v, 1, NULL, 0, 0, j->cancellable, &error);
      break;
    }
  g_clear_error (&error);
  return NULL;
}

static GSocket *
udp_sender (void)
{
  GError *error = NULL;
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  return s;
}

/* The child: two datagrams through gsend's general path (an address
 * object, a cancellable, a batch), then exit. */
static void G_GNUC_NORETURN
child_main (GSocket *s, GSocketAddress *addr, GCancellable *c)
{
  guint8 buf[32];
  memset (buf, 'c', sizeof buf);
  GOutputVector v = { buf, sizeof buf };
  GOutputMessage m[2] = { { addr, &v, 1, 0, NULL, 0 }, { addr, &v, 1, 0, NULL, 0 } };
  int r = gsend_socket_send_messages (s, m, 2, 0, c, NULL);
  _exit (r == 2 ? 0 : 3);
}

/* One round in a fresh process. Exit status: 0 ok, 1 the child hung, 2 the
 * child failed or its datagrams did not arrive. */
static int
round_main (void)
{
  /* GLib's own types exist before the threads start (a hang inside
   * GLib's type system is not gsend's); gsend has not been called. */
  GSocketAddress *addr, *child_addr;
  int rfd = gt_udp_receiver_fd (AF_INET, 0, &addr);
  int child_rfd = gt_udp_receiver_fd (AF_INET, 0, &child_addr);
  GSocket *child_socket = udp_sender ();
  GCancellable *cancellable = g_cancellable_new ();
  Job jobs[N_THREADS];
  GThread *threads[N_THREADS];
  gint started = 0;
  for (guint i = 0; i < N_THREADS; i++)
    {
      jobs[i] = (Job) { udp_sender (), addr, cancellable, i, &started };
      threads[i] = g_thread_new ("first-use", first_use, &jobs[i]);
    }
  while (g_atomic_int_get (&started) < N_THREADS)
    ;
  g_atomic_int_set (&go, 1);
  /* Fork somewhere inside the threads' first calls: a few microseconds
   * in, varying with the process's pid. */
  guint spin = (guint) (getpid () * 2654435761u) % 20000u;
  for (volatile guint k = 0; k < spin; k++)
    ;
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    child_main (child_socket, child_addr, cancellable);

  int status = 0, code = 0;
  gint64 until = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  for (;;)
    {
      pid_t w = waitpid (pid, &status, WNOHANG);
      g_assert_cmpint (w, >=, 0);
      if (w == pid)
        break;
      if (g_get_monotonic_time () > until)
        {
          kill (pid, SIGKILL);
          waitpid (pid, &status, 0);
          code = 1;
          break;
        }
      g_usleep (1000);
    }
  if (code == 0)
    {
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        code = 2;
      else
        {
          guint got = 0;
          guint8 buf[64];
          struct pollfd p = { child_rfd, POLLIN, 0 };
          while (got < 2 && poll (&p, 1, 2000) > 0)
            if (recv (child_rfd, buf, sizeof buf, MSG_DONTWAIT) == 32)
              got++;
          if (got != 2)
            code = 2;
        }
    }
  for (guint i = 0; i < N_THREADS; i++)
    {
      g_thread_join (threads[i]);
      g_object_unref (jobs[i].socket);
    }
  g_object_unref (child_socket);
  g_object_unref (cancellable);
  g_object_unref (addr);
  g_object_unref (child_addr);
  close (rfd);
  close (child_rfd);
  return code;
}

static const char *self_path;

static void
test_fork_during_first_use (void)
{
  const char *env = g_getenv ("GSEND_FORK_ROUNDS");
  guint rounds = env ? (guint) atoi (env) : 300;
  guint hung = 0, failed = 0;
  watchdog (240);
  for (guint r = 0; r < rounds; r++)
    {
      const char *argv[] = { self_path, "--round", NULL };
      GError *error = NULL;
      GPid pid;
      /* The round bounds its own wait for the child (2 s); this wait is
       * bounded by the watchdog. */
      g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                                    &error));
      g_assert_no_error (error);
      int status;
      while (waitpid (pid, &status, 0) < 0)
        g_assert_cmpint (errno, ==, EINTR);
      g_spawn_close_pid (pid);
      int code = WIFEXITED (status) ? WEXITSTATUS (status) : 100 + WTERMSIG (status);
      if (code == 1)
        {
          hung++;
          g_test_message ("round %u: the forked child hung in gsend's first use", r);
        }
      else if (code != 0)
        {
          failed++;
          g_test_message ("round %u: failed with status %d", r, code);
        }
    }
  g_test_message ("FIGURE fork during first use: %u rounds, %u children hung, %u failed", rounds, hung, failed);
  g_assert_cmpuint (hung, ==, 0);
  g_assert_cmpuint (failed, ==, 0);
  alarm (0);
}

int
main (int argc, char **argv)
{
  if (argc == 2 && g_str_equal (argv[1], "--round"))
    return round_main ();
  self_path = argv[0];
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fork/during-first-use", test_fork_during_first_use);
  return g_test_run ();
}
