/* A socket closed while a send waits for room (docs/behaviour.md rule 5).
 *
 * Thread A sends 100 datagrams of 8 KiB through one send function on a
 * blocking AF_UNIX datagram pair; the queue fills and A blocks. The main
 * thread then closes the GSocket with g_socket_close, opens a new socket
 * pair that takes the closed descriptor's number (dup2 onto it if the
 * kernel gave another), and wakes A: (a) by draining the old peer, or (b)
 * with a signal whose handler does nothing (installed without SA_RESTART).
 * A must stop at once: the count sent before the close (as GIO returns
 * it), or G_IO_ERROR_CLOSED when that call sent nothing; nothing may reach
 * the new pair, and the old peer must hold exactly what A reports.
 *
 * The same scenario runs through GIO first (its functions looked up in
 * libgio itself) to get the expected count. For the single-datagram
 * functions A calls them in a loop, one datagram per call: the number of
 * calls that succeeded must equal GIO's, and the blocked call must fail.
 * There GIO's blocked call reports the EBADF of a system call on the
 * closed descriptor (G_IO_ERROR_FAILED); gsend says G_IO_ERROR_CLOSED, the
 * error GIO documents for a closed socket.
 *
 * With GSEND_CLOSE_RACE_PRELOAD=1 (meson runs it so with libgsend-preload.so
 * in LD_PRELOAD) "gsend" means GIO's own names, which the preload library
 * takes over; the two functions it does not export are skipped. */

#include "stress-common.h"

#include <dlfcn.h>
#include <sys/syscall.h>

#define N_MSGS 100
#define MSG_LEN 8192

typedef struct
{
  gint (*send_messages) (GSocket *, GOutputMessage *, guint, gint, GCancellable *, GError **);
  gint (*send_messages_with_timeout) (GSocket *, GOutputMessage *, guint, gint, gint64, GCancellable *,
                                      GError **);
  gint (*datagram_based_send_messages) (GDatagramBased *, GOutputMessage *, guint, gint, gint64,
                                        GCancellable *, GError **);
  gint (*send_datagrams) (GSocket *, GSocketAddress *, GBytes **, guint, gint, gint64, GCancellable *,
                          GError **);
  gssize (*send_message) (GSocket *, GSocketAddress *, GOutputVector *, gint, GSocketControlMessage **,
                          gint, gint, GCancellable *, GError **);
  GPollableReturn (*send_message_with_timeout) (GSocket *, GSocketAddress *, const GOutputVector *, gint,
                                                GSocketControlMessage **, gint, gint, gint64, gsize *,
                                                GCancellable *, GError **);
  gssize (*send_to) (GSocket *, GSocketAddress *, const gchar *, gsize, GCancellable *, GError **);
  gssize (*send) (GSocket *, const gchar *, gsize, GCancellable *, GError **);
  gssize (*send_with_blocking) (GSocket *, const gchar *, gsize, gboolean, GCancellable *, GError **);
} Api;

static Api gio_api, gsend_api;

typedef enum
{
  F_MESSAGES,
  F_MESSAGES_TIMEOUT,
  F_DATAGRAM_BASED,
  F_DATAGRAMS,
  F_MESSAGE,
  F_MESSAGE_TIMEOUT,
  F_SEND_TO,
  F_SEND,
  F_SEND_BLOCKING,
  N_FUNCS
} Func;

static const char *const func_names[N_FUNCS] = {
  "send_messages", "send_messages_with_timeout", "datagram_based_send_messages", "send_datagrams",
  "send_message", "send_message_with_timeout", "send_to", "send", "send_with_blocking",
};

static gboolean
is_batch (Func f)
{
  return f <= F_DATAGRAMS;
}

typedef struct
{
  const Api *api;
  Func func;
  GSocket *socket;
  guint8 (*bufs)[MSG_LEN];
  volatile gint tid;
  gint done;
  gint count;      /* batch: the return value; single: calls that succeeded */
  GError *error;   /* of the failing call, if one failed */
} Sender;

static gpointer
sender_thread (gpointer data)
{
  Sender *s = data;
  const Api *api = s->api;
  GError *error = NULL;
  g_atomic_int_set (&s->tid, (gint) syscall (SYS_gettid));
  if (is_batch (s->func))
    {
      GOutputVector vecs[N_MSGS];
      GOutputMessage msgs[N_MSGS];
      GBytes *bytes[N_MSGS];
      for (guint i = 0; i < N_MSGS; i++)
        {
          vecs[i].buffer = s->bufs[i];
          vecs[i].size = MSG_LEN;
          msgs[i] = (GOutputMessage) { NULL, &vecs[i], 1, 0, NULL, 0 };
          bytes[i] = g_bytes_new_static (s->bufs[i], MSG_LEN);
        }
      gint r = -1;
      switch (s->func)
        {
        case F_MESSAGES:
          r = api->send_messages (s->socket, msgs, N_MSGS, 0, NULL, &error);
          break;
        case F_MESSAGES_TIMEOUT:
          r = api->send_messages_with_timeout (s->socket, msgs, N_MSGS, 0, 30 * G_USEC_PER_SEC, NULL, &error);
          break;
        case F_DATAGRAM_BASED:
          r = api->datagram_based_send_messages (G_DATAGRAM_BASED (s->socket), msgs, N_MSGS, 0, -1, NULL,
                                                 &error);
          break;
        case F_DATAGRAMS:
          r = api->send_datagrams (s->socket, NULL, bytes, N_MSGS, 0, -1, NULL, &error);
          break;
        default:
          g_assert_not_reached ();
        }
      for (guint i = 0; i < N_MSGS; i++)
        g_bytes_unref (bytes[i]);
      s->count = r;
    }
  else
    {
      gint ok = 0;
      for (guint i = 0; i < N_MSGS; i++)
        {
          const gchar *buf = (const gchar *) s->bufs[i];
          GOutputVector v = { buf, MSG_LEN };
          gboolean sent = FALSE;
          switch (s->func)
            {
            case F_MESSAGE:
              sent = api->send_message (s->socket, NULL, &v, 1, NULL, 0, 0, NULL, &error) == MSG_LEN;
              break;
            case F_MESSAGE_TIMEOUT:
              {
                gsize written = 0;
                sent = api->send_message_with_timeout (s->socket, NULL, &v, 1, NULL, 0, 0, 30 * G_USEC_PER_SEC,
                                                       &written, NULL, &error) == G_POLLABLE_RETURN_OK
                       && written == MSG_LEN;
                break;
              }
            case F_SEND_TO:
              sent = api->send_to (s->socket, NULL, buf, MSG_LEN, NULL, &error) == MSG_LEN;
              break;
            case F_SEND:
              sent = api->send (s->socket, buf, MSG_LEN, NULL, &error) == MSG_LEN;
              break;
            case F_SEND_BLOCKING:
              sent = api->send_with_blocking (s->socket, buf, MSG_LEN, TRUE, NULL, &error) == MSG_LEN;
              break;
            default:
              g_assert_not_reached ();
            }
          if (!sent)
            break;
          ok++;
        }
      s->count = ok;
    }
  s->error = error;
  g_atomic_int_set (&s->done, 1);
  return NULL;
}

/* Whether thread `tid` is blocked in poll (or ppoll). */
static gboolean
in_poll (gint tid)
{
  char path[64], *text = NULL;
  gboolean yes = FALSE;
  g_snprintf (path, sizeof path, "/proc/self/task/%d/syscall", tid);
  if (g_file_get_contents (path, &text, NULL, NULL))
    {
      long nr = strtol (text, NULL, 10);
#ifdef SYS_poll
      yes = nr == SYS_poll;
#endif
#ifdef SYS_ppoll
      yes = yes || nr == SYS_ppoll;
#endif
      g_free (text);
    }
  return yes;
}

static guint
count_pending (int fd)
{
  guint n = 0;
  guint8 buf[MSG_LEN];
  while (recv (fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
    n++;
  return n;
}

/* Receives everything queued at fd, checking that datagram k carries
 * sequence number *next (then increments it). */
static void
drain_in_order (int fd, guint32 *next)
{
  guint8 buf[MSG_LEN + 1];
  ssize_t r;
  while ((r = recv (fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0)
    {
      StressHdr h;
      g_assert_cmpint (r, ==, MSG_LEN);
      memcpy (&h, buf, sizeof h);
      g_assert_cmpuint (h.magic, ==, STRESS_MAGIC);
      g_assert_cmpuint (h.seq, ==, *next);
      (*next)++;
    }
  g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
noop_handler (int sig)
{
  (void) sig;
}

typedef struct
{
  gint count;
  GError *error;
} Outcome;

/* A new AF_UNIX datagram pair of which one end has the number @old_fd
 * (just closed), as another thread's socket reusing the number would. */
static void
pair_on_fd_number (int old_fd, int pair[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  if (pair[0] != old_fd && pair[1] != old_fd)
    {
      g_assert_cmpint (dup2 (pair[0], old_fd), ==, old_fd);
      close (pair[0]);
      pair[0] = old_fd;
    }
}

/* One round: A sends through api's `func`, B closes, reuses, wakes. */
static Outcome
run_round (const Api *api, Func func, gboolean by_signal, const char *who)
{
  static guint8 bufs[N_MSGS][MSG_LEN];
  for (guint i = 0; i < N_MSGS; i++)
    make_payload (bufs[i], 1, i, MSG_LEN);
  int rfd;
  GSocket *socket = unix_pair (&rfd);
  int old_fd = g_socket_get_fd (socket);
  Sender s = { api, func, socket, bufs, 0, 0, 0, NULL };
  GThread *th = g_thread_new ("sender", sender_thread, &s);

  /* Wait (bounded) until A blocks in poll. */
  gint64 until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (g_atomic_int_get (&s.tid) == 0 || !in_poll (g_atomic_int_get (&s.tid)))
    {
      if (g_atomic_int_get (&s.done))
        g_error ("%s %s: the sender returned (%d) without blocking", who, func_names[func], s.count);
      if (g_get_monotonic_time () > until)
        g_error ("%s %s: the sender never blocked", who, func_names[func]);
      g_usleep (1000);
    }
  /* Let the poll settle; the checks below do not depend on it. */
  g_usleep (5000);

  GError *error = NULL;
  g_assert_true (g_socket_close (socket, &error));
  g_assert_no_error (error);
  int pair[2];
  pair_on_fd_number (old_fd, pair);

  guint32 next = 0;
  if (by_signal)
    {
      /* The signal may land before A re-enters poll after an earlier one;
       * send it until A returns (bounded). */
      until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
      while (!g_atomic_int_get (&s.done) && g_get_monotonic_time () < until)
        {
          syscall (SYS_tgkill, getpid (), g_atomic_int_get (&s.tid), SIGUSR2);
          g_usleep (10000);
        }
    }
  else
    {
      drain_in_order (rfd, &next);
      until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
      while (!g_atomic_int_get (&s.done) && g_get_monotonic_time () < until)
        g_usleep (1000);
    }
  if (!g_atomic_int_get (&s.done))
    {
      guint leaked = count_pending (pair[0]) + count_pending (pair[1]);
      g_error ("%s %s (%s): the sender did not return; %u datagrams reached the new socket pair", who,
               func_names[func], by_signal ? "signal" : "drain", leaked);
    }
  g_thread_join (th);

  guint leaked = count_pending (pair[0]) + count_pending (pair[1]);
  if (leaked)
    g_error ("%s %s (%s): %u datagrams reached the new socket pair", who, func_names[func],
             by_signal ? "signal" : "drain", leaked);
  drain_in_order (rfd, &next);
  guint expected = s.count < 0 ? 0 : (guint) s.count;
  if (next != expected)
    g_error ("%s %s (%s): reported %d, the old peer received %u", who, func_names[func],
             by_signal ? "signal" : "drain", s.count, next);
  close (pair[0]);
  close (pair[1]);
  close (rfd);
  g_object_unref (socket);
  return (Outcome) { s.count, s.error };
}

/* GSEND_CLOSE_RACE_WAKE=drain or =signal runs one wake-up only. */
static gboolean
wake_wanted (int by_signal)
{
  const char *w = g_getenv ("GSEND_CLOSE_RACE_WAKE");
  return w == NULL || g_str_equal (w, by_signal ? "signal" : "drain");
}

static void
check_function (gconstpointer data)
{
  Func func = GPOINTER_TO_INT (data);
  gboolean preload = g_getenv ("GSEND_CLOSE_RACE_PRELOAD") != NULL;
  watchdog (120);
  for (int by_signal = 0; by_signal < 2; by_signal++)
    {
      if (!wake_wanted (by_signal))
        continue;
      Func ref = func;
      /* GIO keeps its with-timeout batch function private and has no
       * GBytes batch: g_socket_send_messages is their reference. */
      if (func == F_MESSAGES_TIMEOUT || func == F_DATAGRAMS)
        ref = F_MESSAGES;
      Outcome gio = run_round (&gio_api, ref, by_signal, "GIO");
      Outcome gs = run_round (&gsend_api, func, by_signal, preload ? "preload" : "gsend");
      g_test_message ("FIGURE %s (%s): GIO %d (%s), gsend %d (%s)", func_names[func],
                      by_signal ? "signal" : "drain", gio.count, gio.error ? gio.error->message : "no error",
                      gs.count, gs.error ? gs.error->message : "no error");
      if (is_batch (func))
        {
          /* The queue took some before A blocked: GIO returns that count. */
          g_assert_cmpint (gio.count, >, 0);
          g_assert_cmpint (gs.count, ==, gio.count);
          g_assert_no_error (gs.error);
        }
      else
        {
          g_assert_cmpint (gio.count, >, 0);
          g_assert_cmpint (gio.count, <, N_MSGS);
          g_assert_cmpint (gs.count, ==, gio.count);
          g_assert_error (gs.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
        }
      g_clear_error (&gio.error);
      g_clear_error (&gs.error);
    }
  alarm (0);
}

/* A batch on a socket closed while the call waits, when nothing at all was
 * sent yet: G_IO_ERROR_CLOSED. */
static void
check_nothing_sent (void)
{
  watchdog (60);
  for (int by_signal = 0; by_signal < 2; by_signal++)
    {
      if (!wake_wanted (by_signal))
        continue;
      int rfd;
      GSocket *socket = unix_pair (&rfd);
      int old_fd = g_socket_get_fd (socket);
      guint filled = fill_socket (old_fd, 1000);
      g_assert_cmpuint (filled, >, 0);
      static guint8 bufs[N_MSGS][MSG_LEN];
      for (guint i = 0; i < N_MSGS; i++)
        make_payload (bufs[i], 1, i, MSG_LEN);
      Sender s = { &gsend_api, F_MESSAGES, socket, bufs, 0, 0, 0, NULL };
      GThread *th = g_thread_new ("sender", sender_thread, &s);
      gint64 until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
      while (g_atomic_int_get (&s.tid) == 0 || !in_poll (g_atomic_int_get (&s.tid)))
        {
          g_assert_false (g_atomic_int_get (&s.done));
          g_assert_cmpint (g_get_monotonic_time (), <, until);
          g_usleep (1000);
        }
      g_assert_true (g_socket_close (socket, NULL));
      int pair[2];
      pair_on_fd_number (old_fd, pair);
      until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
      if (!by_signal)
        g_assert_cmpuint (count_pending (rfd), ==, filled);
      while (!g_atomic_int_get (&s.done) && g_get_monotonic_time () < until)
        {
          if (by_signal)
            syscall (SYS_tgkill, getpid (), g_atomic_int_get (&s.tid), SIGUSR2);
          g_usleep (10000);
        }
      if (!g_atomic_int_get (&s.done))
        g_error ("nothing sent (%s): the sender did not return; %u datagrams reached the new pair",
                 by_signal ? "signal" : "drain", count_pending (pair[0]) + count_pending (pair[1]));
      g_thread_join (th);
      g_assert_cmpuint (count_pending (pair[0]) + count_pending (pair[1]), ==, 0);
      g_assert_cmpint (s.count, ==, -1);
      g_assert_error (s.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      g_clear_error (&s.error);
      if (by_signal)
        g_assert_cmpuint (count_pending (rfd), ==, filled);
      close (pair[0]);
      close (pair[1]);
      close (rfd);
      g_object_unref (socket);
    }
  alarm (0);
}

/* GIO's names of the functions both libraries export, looked up in @handle. */
static void
lookup_api (Api *api, void *handle)
{
#define LOOKUP(name) api->name = dlsym (handle, "g_socket_" #name)
  LOOKUP (send_messages);
  LOOKUP (send_message);
  LOOKUP (send_message_with_timeout);
  LOOKUP (send_to);
  LOOKUP (send);
  LOOKUP (send_with_blocking);
#undef LOOKUP
  api->datagram_based_send_messages = dlsym (handle, "g_datagram_based_send_messages");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = noop_handler;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: a blocked call gets EINTR */
  sigaction (SIGUSR2, &sa, NULL);

  void *libgio = dlopen ("libgio-2.0.so.0", RTLD_NOW | RTLD_NOLOAD);
  g_assert_nonnull (libgio);
  lookup_api (&gio_api, libgio);

  gboolean preload = g_getenv ("GSEND_CLOSE_RACE_PRELOAD") != NULL;
  if (preload)
    {
      lookup_api (&gsend_api, RTLD_DEFAULT);
      /* The preload library must really be in front of libgio. */
      g_assert_true ((void *) gsend_api.send_messages != (void *) gio_api.send_messages);
      g_assert_true ((void *) gsend_api.send_to != (void *) gio_api.send_to);
    }
  else
    {
      gsend_api = (Api) {
        gsend_socket_send_messages,
        gsend_socket_send_messages_with_timeout,
        gsend_datagram_based_send_messages,
        gsend_socket_send_datagrams,
        gsend_socket_send_message,
        gsend_socket_send_message_with_timeout,
        gsend_socket_send_to,
        gsend_socket_send,
        gsend_socket_send_with_blocking,
      };
    }

  for (int f = 0; f < N_FUNCS; f++)
    {
      if (preload && (f == F_MESSAGES_TIMEOUT || f == F_DATAGRAMS))
        continue;
      gt_add_data_test (GINT_TO_POINTER (f), check_function, "/close-race/%s", func_names[f]);
    }
  if (!preload)
    g_test_add_func ("/close-race/nothing-sent", check_nothing_sent);
  return g_test_run ();
}
