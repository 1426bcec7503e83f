/* Out of memory on a thread's first batch (docs/behaviour.md "Memory").
 *
 * gsend keeps per-thread scratch space (kernel headers for a chunk of 1024
 * messages, the address cache), allocated on the thread's first send, and
 * grows parts of it while a chunk is planned (control data, vectors copied
 * for a coalesced run). In a child process the sending thread is created
 * first (its stack needs address space), then the address-space limit
 * (RLIMIT_AS) is set just above what the process uses, then that thread
 * sends its first batch of 2,000 datagrams, of one of three shapes:
 * - to 2,000 different address objects (the address cache fills);
 * - on an AF_UNIX pair, each with a credentials control message (the
 *   control data grows);
 * - to one address, each of four vectors that do not follow the previous
 *   message's (a coalesced run copies its vectors).
 * The process must not abort: gsend returns a count or G_IO_ERROR_NO_SPACE,
 * and exactly the count arrives (none with NO_SPACE). For the first shape
 * the same thread then sends the batch through GIO (which plans 1024
 * messages on its stack) for the figure.
 *
 * gsend's one-time set-up (the layout probe, cached types) and the
 * messages are done before the limit: what is tested is the per-thread
 * memory. The child's result comes back through a pipe. */

#include "stress-common.h"

#include <gio/gunixcredentialsmessage.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define N_OOM 2000
/* Vectors per message of the many-vectors shape, and the stride between
 * two messages' arrays (one more: they do not follow one another). */
#define N_VEC 4
#define VEC_STRIDE (N_VEC + 1)

typedef enum
{
  SHAPE_ADDRESSES,
  SHAPE_CONTROL,
  SHAPE_VECTORS,
} Shape;

typedef struct
{
  GSocket *socket;
  GOutputMessage *msgs;
  gboolean gio;
  int go[2];
  int result_fd;
} Job;

typedef struct
{
  gint n;
  gint code; /* G_IO_ERROR code, -1 none */
  guint64 received;
} Report;

static int rfd;

static guint64
drain_count (int fd)
{
  guint8 buf[256];
  guint64 n = 0;
  while (recv (fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
    n++;
  return n;
}

static void *
sender (void *data)
{
  Job *j = data;
  char c;
  g_assert_cmpint (read (j->go[0], &c, 1), ==, 1);
  Report rep = { -1, -1, 0 };
  GError *error = NULL;
  if (j->gio)
    rep.n = g_socket_send_messages (j->socket, j->msgs, N_OOM, 0, NULL, &error);
  else
    rep.n = gsend_socket_send_messages (j->socket, j->msgs, N_OOM, 0, NULL, &error);
  if (error)
    rep.code = error->domain == G_IO_ERROR ? error->code : 1000;
  rep.received = drain_count (rfd);
  g_assert_cmpint (write (j->result_fd, &rep, sizeof rep), ==, sizeof rep);
  return NULL;
}

static gsize
vm_size (void)
{
  char *text = NULL;
  gsize kb = 0;
  g_assert_true (g_file_get_contents ("/proc/self/status", &text, NULL, NULL));
  const char *p = strstr (text, "VmSize:");
  g_assert_nonnull (p);
  kb = strtoul (p + 7, NULL, 10);
  g_free (text);
  return kb * 1024;
}

typedef struct
{
  gsize headroom; /* free bytes left at the top of malloc's heap */
  gsize slack;    /* address space allowed beyond the current size */
} Budget;

/* The socket the child sends on; its receiving end (bound on loopback, or
 * the other end of an AF_UNIX pair) goes to `rfd`, its address to `sin`. */
static GSocket *
sending_socket (Shape shape, struct sockaddr_in *sin)
{
  GError *error = NULL;
  int big = 8 * 1024 * 1024;
  *sin = (struct sockaddr_in) { .sin_family = AF_INET };
  sin->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (shape == SHAPE_CONTROL)
    {
      int sv[2];
      g_assert_cmpint (socketpair (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), ==, 0);
      setsockopt (sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
      setsockopt (sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
      rfd = sv[1];
      GSocket *s = g_socket_new_from_fd (sv[0], &error);
      g_assert_no_error (error);
      /* Never waits: a queue too small for the batch (without the
       * privilege to enlarge it) ends it with a count. */
      g_socket_set_blocking (s, FALSE);
      return s;
    }
  rfd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  setsockopt (rfd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  g_assert_cmpint (bind (rfd, (struct sockaddr *) sin, sizeof *sin), ==, 0);
  socklen_t sl = sizeof *sin;
  g_assert_cmpint (getsockname (rfd, (struct sockaddr *) sin, &sl), ==, 0);
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  return s;
}

static void G_GNUC_NORETURN
child (int result_fd, Budget b, gboolean gio, Shape shape)
{
  /* One malloc arena (a thread's own would need 64 MiB of address space,
   * which the limit forbids), served from the heap only (no mmap), never
   * trimmed, without padding: the free room at the top of the heap is the
   * headroom the test leaves, and nothing beyond the limit can be had. */
  mallopt (M_ARENA_MAX, 1);
  mallopt (M_MMAP_THRESHOLD, 32 << 20);
  mallopt (M_TRIM_THRESHOLD, 1 << 30);
  mallopt (M_TOP_PAD, 0);
  struct sockaddr_in sin;
  GSocket *s = sending_socket (shape, &sin);
  /* gsend's one-time set-up, before the limit (a batch of none). */
  g_assert_cmpint (gsend_socket_send_messages (s, NULL, 0, 0, NULL, NULL), ==, 0);
  static guint8 payload[32];
  memset (payload, 'm', sizeof payload);
  GOutputVector *vecs = g_new (GOutputVector, N_OOM * VEC_STRIDE);
  GOutputMessage *msgs = g_new (GOutputMessage, N_OOM);
  GSocketControlMessage **creds = g_new (GSocketControlMessage *, 1);
  creds[0] = g_unix_credentials_message_new ();
  GSocketAddress *one = g_socket_address_new_from_native (&sin, sizeof sin);
  for (guint i = 0; i < N_OOM; i++)
    {
      GOutputVector *v = &vecs[i * VEC_STRIDE];
      v[0] = (GOutputVector) { payload, sizeof payload };
      switch (shape)
        {
        case SHAPE_ADDRESSES:
          /* A different address object each: the address cache fills. */
          msgs[i] = (GOutputMessage) { g_socket_address_new_from_native (&sin, sizeof sin), v, 1, 0, NULL, 0 };
          break;
        case SHAPE_CONTROL:
          msgs[i] = (GOutputMessage) { NULL, v, 1, 0, creds, 1 };
          break;
        case SHAPE_VECTORS:
          /* Equal sizes to one address: coalesced runs, whose vectors are
           * copied as they do not follow one another. */
          for (guint k = 0; k < N_VEC; k++)
            v[k] = (GOutputVector) { payload + 8 * k, 8 };
          msgs[i] = (GOutputMessage) { one, v, N_VEC, 0, NULL, 0 };
          break;
        }
    }
  Job j = { s, msgs, gio, { -1, -1 }, result_fd };
  g_assert_cmpint (pipe (j.go), ==, 0);
  /* The sending thread first: its stack needs address space. */
  pthread_t th;
  g_assert_cmpint (pthread_create (&th, NULL, sender, &j), ==, 0);
  if (b.headroom)
    {
      void *volatile room = malloc (b.headroom); /* volatile: kept */
      free (room);
    }
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = vm_size () + b.slack;
  g_assert_cmpint (setrlimit (RLIMIT_AS, &rl), ==, 0);
  g_assert_cmpint (write (j.go[1], "g", 1), ==, 1);
  g_assert_cmpint (pthread_join (th, NULL), ==, 0);
  _exit (0);
}

/* Runs the child; returns FALSE if it died (its signal in *sig). */
static gboolean
run_child (Budget b, gboolean gio, Shape shape, Report *rep, int *sig)
{
  int p[2];
  g_assert_cmpint (pipe (p), ==, 0);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      close (p[0]);
      child (p[1], b, gio, shape);
    }
  close (p[1]);
  memset (rep, 0, sizeof *rep);
  gssize r = read (p[0], rep, sizeof *rep);
  close (p[0]);
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  if (WIFSIGNALED (status))
    {
      *sig = WTERMSIG (status);
      return FALSE;
    }
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_cmpint (r, ==, sizeof *rep);
  return TRUE;
}

static void
test_tight_address_space (void)
{
  /* From a little free memory (enough for a GError) up to more than a
   * thread keeps. */
  const Budget budgets[] = {
    { 16 << 10, 0 },  { 32 << 10, 0 },  { 64 << 10, 0 },  { 96 << 10, 0 },  { 128 << 10, 0 },
    { 192 << 10, 0 }, { 256 << 10, 0 }, { 384 << 10, 0 }, { 512 << 10, 0 }, { 768 << 10, 0 },
    { 0, 4 << 20 },
  };
  watchdog (120);
  for (guint i = 0; i < G_N_ELEMENTS (budgets); i++)
    {
      Budget b = budgets[i];
      Report gs, gio;
      int sig = 0, gio_sig = 0;
      if (!run_child (b, FALSE, SHAPE_ADDRESSES, &gs, &sig))
        g_error ("headroom %" G_GSIZE_FORMAT " KiB, slack %" G_GSIZE_FORMAT " KiB: the child died of signal %d (%s)",
                 b.headroom >> 10, b.slack >> 10, sig, g_strsignal (sig));
      gboolean gio_lived = run_child (b, TRUE, SHAPE_ADDRESSES, &gio, &gio_sig);
      char *gio_text = gio_lived ? g_strdup_printf ("%d (error code %d)", gio.n, gio.code)
                                 : g_strdup_printf ("died of signal %d", gio_sig);
      g_test_message ("FIGURE heap headroom %" G_GSIZE_FORMAT " KiB, address-space slack %" G_GSIZE_FORMAT
                      " KiB: gsend %d (error code %d), %" G_GUINT64_FORMAT " received; GIO %s",
                      b.headroom >> 10, b.slack >> 10, gs.n, gs.code, gs.received, gio_text);
      g_free (gio_text);
      if (gs.n < 0)
        g_assert_cmpint (gs.code, ==, G_IO_ERROR_NO_SPACE);
      else
        g_assert_cmpint (gs.code, ==, -1);
      g_assert_cmpuint (gs.received, ==, gs.n < 0 ? 0 : (guint64) gs.n);
    }
  alarm (0);
}

/* The first batch of `shape` from a little heap headroom up, in steps
 * fine enough to run out at each allocation the batch makes while planned,
 * until it goes out whole; then with address space to spare. */
static void
scan_headroom (Shape shape)
{
  watchdog (120);
  int last_n = G_MININT;
  guint whole = 0;
  for (gsize room = 16 << 10; room <= (2 << 20) && whole < 4; room += 4 << 10)
    {
      Budget b = { room, 0 };
      Report gs;
      int sig = 0;
      if (!run_child (b, FALSE, shape, &gs, &sig))
        g_error ("headroom %" G_GSIZE_FORMAT " KiB: the child died of signal %d (%s)", room >> 10, sig,
                 g_strsignal (sig));
      if (gs.n != last_n)
        g_test_message ("FIGURE heap headroom %" G_GSIZE_FORMAT " KiB: gsend %d (error code %d), %" G_GUINT64_FORMAT
                        " received",
                        room >> 10, gs.n, gs.code, gs.received);
      last_n = gs.n;
      if (gs.n < 0)
        g_assert_cmpint (gs.code, ==, G_IO_ERROR_NO_SPACE);
      else
        g_assert_cmpint (gs.code, ==, -1);
      g_assert_cmpuint (gs.received, ==, gs.n < 0 ? 0 : (guint64) gs.n);
      whole = gs.n == N_OOM ? whole + 1 : 0;
    }
  g_assert_cmpuint (whole, >, 0);
  Report gs;
  int sig = 0;
  g_assert_true (run_child ((Budget) { 0, 4 << 20 }, FALSE, shape, &gs, &sig));
  g_assert_cmpint (gs.n, ==, N_OOM);
  g_assert_cmpuint (gs.received, ==, N_OOM);
  alarm (0);
}

static void
test_control_messages (void)
{
  scan_headroom (SHAPE_CONTROL);
}

static void
test_many_vectors (void)
{
  scan_headroom (SHAPE_VECTORS);
}

int
main (int argc, char **argv)
{
  /* GLib's slice allocator takes memory in blocks and aborts when it
   * cannot; with plain malloc a GError fits in the room the test leaves. */
  if (!getenv ("G_SLICE"))
    {
      setenv ("G_SLICE", "always-malloc", 1);
      execv ("/proc/self/exe", argv);
      g_error ("re-exec: %s", g_strerror (errno));
    }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/oom/tight-address-space", test_tight_address_space);
  g_test_add_func ("/oom/control-messages", test_control_messages);
  g_test_add_func ("/oom/many-vectors", test_many_vectors);
  return g_test_run ();
}
