/* Reliability under load: nothing crashes, nothing is lost.
 *
 * Rules checked (docs/behaviour.md): 1 (counts), 2 (EINTR retried, blocking),
 * 4 (one deadline, never early), 6 (cancellation while blocked), 7
 * (bytes_sent), 16 (many threads on one socket).
 *
 * Every datagram carries (sender id, sequence number) and a body derived
 * from them; receivers check every byte and count every datagram, so a
 * datagram reported sent but lost, sent twice, or sent although reported
 * unsent is caught. Workloads scale with GSEND_STRESS_SCALE. */

#include "stress-common.h"

#include <pthread.h>
#include <sys/stat.h>
#include <gio/gunixfdmessage.h>

/* Figures printed to the test log. */
static void
figure (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static void
figure (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_test_message ("FIGURE %s", s);
  g_free (s);
}

/* ---- pacing: senders wait until the receiver is below a window ---------- */

typedef struct
{
  GMutex lock;
  GCond cond;
  guint in_flight;
  guint window;
} Pace;

static void
pace_acquire (Pace *p, guint n)
{
  if (!p)
    return;
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&p->lock);
  while (p->in_flight + n > p->window)
    if (!g_cond_wait_until (&p->cond, &p->lock, deadline))
      g_error ("pacing stalled: %u datagrams in flight never arrived (lost?)", p->in_flight);
  p->in_flight += n;
  g_mutex_unlock (&p->lock);
}

static void
pace_release (Pace *p, guint n)
{
  if (!p || n == 0)
    return;
  g_mutex_lock (&p->lock);
  g_assert_cmpuint (p->in_flight, >=, n);
  p->in_flight -= n;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

/* ---- receiver thread ---------------------------------------------------- */

typedef struct
{
  int fd;
  Tracker t;
  gint stop;
  guint slow_us;  /* > 0: read one datagram, then sleep this long */
  Pace *pace;
} Receiver;

static gpointer
receiver_thread (gpointer data)
{
  Receiver *r = data;
  while (!g_atomic_int_get (&r->stop))
    {
      int n = receive_round (r->fd, &r->t, 20, r->slow_us ? 1 : 64);
      if (n > 0)
        pace_release (r->pace, (guint) n);
      if (r->slow_us)
        g_usleep (r->slow_us);
    }
  /* Senders are done: whatever they sent is queued by now. */
  drain_into (r->fd, &r->t, 300);
  return NULL;
}

/* ---- N senders on one socket --------------------------------------------- */

#define BATCH 32

typedef struct
{
  GSocket *sock;
  GSocketAddress *addr;
  guint32 id;
  guint32 n;
  Pace *pace;
  guint calls;
  guint32 sent;
} Sender;

static guint32
sender_len (guint32 id)
{
  return 64 + id * 16;
}

static gpointer
sender_thread (gpointer data)
{
  Sender *s = data;
  GOutputMessage msgs[BATCH];
  GOutputVector vecs[BATCH];
  guint8 bufs[BATCH][256];
  guint32 len = sender_len (s->id);
  guint32 seq = 0;

  while (seq < s->n)
    {
      guint k = MIN (BATCH, s->n - seq);
      pace_acquire (s->pace, k);
      for (guint i = 0; i < k; i++)
        {
          make_payload (bufs[i], s->id, seq + i, len);
          vecs[i].buffer = bufs[i];
          vecs[i].size = len;
          msgs[i].address = s->addr;
          msgs[i].vectors = &vecs[i];
          msgs[i].num_vectors = 1;
          msgs[i].bytes_sent = 0xdeadbeef;
          msgs[i].control_messages = NULL;
          msgs[i].num_control_messages = 0;
        }
      GError *error = NULL;
      gint r = gsend_socket_send_messages (s->sock, msgs, k, 0, NULL, &error);
      s->calls++;
      if (r < 0)
        g_error ("sender %u: send failed at seq %u: %s", s->id, seq, error->message);
      g_assert_cmpint (r, >=, 1);
      g_assert_cmpint (r, <=, (gint) k);
      for (gint i = 0; i < r; i++)
        g_assert_cmpuint (msgs[i].bytes_sent, ==, len);      /* rule 7 */
      for (guint i = (guint) r; i < k; i++)
        g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef); /* untouched */
      pace_release (s->pace, k - (guint) r);
      seq += (guint32) r;
    }
  s->sent = seq;
  return NULL;
}

static void
run_many_senders (GSocket *sock, GSocketAddress *addr, int recv_fd, Pace *pace,
                  const char *what)
{
  enum { THREADS = 8 };
  guint32 per = scaled (20000, 200);
  Sender senders[THREADS];
  GThread *threads[THREADS];
  Receiver rx = { .fd = recv_fd, .pace = pace };
  guint32 counts[THREADS];

  watchdog (60);
  tracker_init (&rx.t, THREADS, per);
  GThread *rt = g_thread_new ("receiver", receiver_thread, &rx);
  gint64 t0 = g_get_monotonic_time ();
  for (guint i = 0; i < THREADS; i++)
    {
      senders[i] = (Sender) { .sock = sock, .addr = addr, .id = i, .n = per, .pace = pace };
      threads[i] = g_thread_new ("sender", sender_thread, &senders[i]);
    }
  guint calls = 0;
  for (guint i = 0; i < THREADS; i++)
    {
      g_thread_join (threads[i]);
      counts[i] = senders[i].sent;
      calls += senders[i].calls;
      g_assert_cmpuint (senders[i].sent, ==, per);
    }
  g_atomic_int_set (&rx.stop, 1);
  g_thread_join (rt);
  gint64 dt = g_get_monotonic_time () - t0;

  guint64 missing, beyond;
  tracker_check (&rx.t, counts, &missing, &beyond);
  figure ("%s: %u threads x %u datagrams = %" G_GUINT64_FORMAT " received exactly once "
          "(%u send calls, %" G_GUINT64_FORMAT " bytes, %.2f s); missing %" G_GUINT64_FORMAT
          ", dups %" G_GUINT64_FORMAT ", bad %" G_GUINT64_FORMAT,
          what, THREADS, per, rx.t.total, calls, rx.t.bytes, dt / 1e6, missing,
          rx.t.dups, rx.t.bad);
  g_assert_cmpuint (rx.t.bad, ==, 0);
  g_assert_cmpuint (rx.t.dups, ==, 0);
  g_assert_cmpuint (missing, ==, 0);
  g_assert_cmpuint (beyond, ==, 0);
  g_assert_cmpuint (rx.t.total, ==, (guint64) THREADS * per);
  tracker_clear (&rx.t);
  alarm (0);
}

/* Rule 16 + 1: AF_UNIX datagrams never drop (the sender blocks), so every
 * datagram must arrive exactly once. */
static void
test_unix_many_threads (void)
{
  int rfd;
  GSocket *s = unix_pair (&rfd);
  run_many_senders (s, NULL, rfd, NULL, "AF_UNIX 8 threads");
  g_object_unref (s);
  close (rfd);
}

/* Rule 16 on an AF_UNIX SOCK_SEQPACKET pair (a datagram-like socket the
 * send functions accept): same exactly-once count. */
static void
test_seqpacket_many_threads (void)
{
  int rfd;
  GSocket *s = unix_pair_of_type (SOCK_SEQPACKET, &rfd);
  run_many_senders (s, NULL, rfd, NULL, "AF_UNIX SEQPACKET 8 threads");
  g_object_unref (s);
  close (rfd);
}

static int
udp_receiver_family (int family, GInetSocketAddress **addr_out)
{
  GSocketAddress *a;
  int fd = gt_udp_receiver_fd (family, 4 * 1024 * 1024, &a);
  *addr_out = G_INET_SOCKET_ADDRESS (a);
  return fd;
}

static int
udp_receiver (GInetSocketAddress **addr_out)
{
  return udp_receiver_family (AF_INET, addr_out);
}

/* Rule 16 + 1 over UDP: paced so the receive buffer cannot overflow; any
 * datagram lost or duplicated fails (a lost one also stalls the pacing). */
typedef struct
{
  GSocket *sock;
  gint stop;
  guint flips;
} Toggler;

static gpointer
gso_toggler (gpointer data)
{
  Toggler *t = data;
  while (!g_atomic_int_get (&t->stop))
    {
      gsend_socket_set_gso (t->sock, t->flips % 2 == 0);
      t->flips++;
      g_usleep (100);
    }
  return NULL;
}

static void
run_udp_many_family (gboolean gso, gboolean toggle, gboolean v6)
{
  GError *error = NULL;
  GInetSocketAddress *addr;
  int rfd = udp_receiver_family (v6 ? AF_INET6 : AF_INET, &addr);
  GSocket *s = g_socket_new (v6 ? G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4,
                             G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  gsend_socket_set_gso (s, gso);
  g_assert_cmpint (gsend_socket_get_gso (s), ==, gso);
  Pace pace = { .window = 512 };
  g_mutex_init (&pace.lock);
  g_cond_init (&pace.cond);
  Toggler tog = { .sock = s };
  GThread *tt = toggle ? g_thread_new ("gso-toggle", gso_toggler, &tog) : NULL;
  run_many_senders (s, G_SOCKET_ADDRESS (addr), rfd, &pace,
                    toggle ? "UDP paced 8 threads (GSO flipped every 100 us)"
                    : v6 ? (gso ? "UDP/IPv6 paced 8 threads (GSO on)" : "UDP/IPv6 paced 8 threads (GSO off)")
                    : gso ? "UDP paced 8 threads (GSO on)" : "UDP paced 8 threads (GSO off)");
  if (tt)
    {
      g_atomic_int_set (&tog.stop, 1);
      g_thread_join (tt);
      g_test_message ("FIGURE GSO flipped %u times during the run", tog.flips);
      g_assert_cmpuint (tog.flips, >, 1);
    }
  g_mutex_clear (&pace.lock);
  g_cond_clear (&pace.cond);
  g_object_unref (s);
  g_object_unref (addr);
  close (rfd);
}

static void
run_udp_many (gboolean gso, gboolean toggle)
{
  run_udp_many_family (gso, toggle, FALSE);
}

static void
test_udp6_many_threads_gso (void)
{
  run_udp_many_family (TRUE, FALSE, TRUE);
}

static void
test_udp6_many_threads_plain (void)
{
  run_udp_many_family (FALSE, FALSE, TRUE);
}

static void
test_udp_many_threads_gso (void)
{
  run_udp_many (TRUE, FALSE);
}

static void
test_udp_many_threads_plain (void)
{
  run_udp_many (FALSE, FALSE);
}

/* Rules 16 + §5: the per-socket GSO switch flipped by another thread while
 * eight threads send: still every datagram exactly once, byte-exact. */
static void
test_udp_many_threads_gso_flipping (void)
{
  run_udp_many (TRUE, TRUE);
}

/* ---- cancellation of a blocked sender, 1000 times ----------------------- */

typedef struct
{
  GMutex lock;
  GCond cond;
  GCancellable *job;
  guint delay_us;
  gboolean done;
  gboolean quit;
} Canceller;

static gpointer
canceller_thread (gpointer data)
{
  Canceller *c = data;
  g_mutex_lock (&c->lock);
  for (;;)
    {
      while (!c->job && !c->quit)
        g_cond_wait (&c->cond, &c->lock);
      if (c->quit)
        break;
      GCancellable *job = c->job;
      guint delay = c->delay_us;
      g_mutex_unlock (&c->lock);
      if (delay)
        g_usleep (delay);
      g_cancellable_cancel (job);
      g_mutex_lock (&c->lock);
      c->job = NULL;
      c->done = TRUE;
      g_cond_broadcast (&c->cond);
    }
  g_mutex_unlock (&c->lock);
  return NULL;
}

static void
build_batch (GOutputMessage *msgs, GOutputVector *vecs, guint8 (*bufs)[2048],
             guint k, guint32 id, guint32 seq0, guint32 (*lenf) (guint32))
{
  for (guint i = 0; i < k; i++)
    {
      guint32 len = lenf (seq0 + i);
      make_payload (bufs[i], id, seq0 + i, len);
      vecs[i].buffer = bufs[i];
      vecs[i].size = len;
      msgs[i].address = NULL;
      msgs[i].vectors = &vecs[i];
      msgs[i].num_vectors = 1;
      msgs[i].bytes_sent = 0xdeadbeef;
      msgs[i].control_messages = NULL;
      msgs[i].num_control_messages = 0;
    }
}

static guint32
varied_len (guint32 seq)
{
  return 16 + (seq * 37u) % 1000u;
}

static void
check_batch_result (GOutputMessage *msgs, guint k, gint r)
{
  for (gint i = 0; i < r; i++)
    g_assert_cmpuint (msgs[i].bytes_sent, ==, msgs[i].vectors[0].size);
  for (guint i = (guint) MAX (r, 0); i < k; i++)
    g_assert_cmpuint (msgs[i].bytes_sent, ==, 0xdeadbeef);
}


/* ---- the send functions under test, behind one shape ------------------- */

/* Send msgs[0..n) (single-message twins send msgs[0] only) with blocking
 * semantics and the cancellable; returns the count or -1 with error set,
 * and fills bytes_sent of what was sent. */
typedef gint (*SendFn) (GSocket *s, GOutputMessage *m, guint n, gint64 timeout_us,
                        GCancellable *c, GError **e);

static gint
tw_send_messages (GSocket *s, GOutputMessage *m, guint n, gint64 t, GCancellable *c, GError **e)
{
  (void) t;
  return gsend_socket_send_messages (s, m, n, 0, c, e);
}

static gint
tw_with_timeout (GSocket *s, GOutputMessage *m, guint n, gint64 t, GCancellable *c, GError **e)
{
  return gsend_socket_send_messages_with_timeout (s, m, n, 0, t, c, e);
}

static gint
tw_datagram_based (GSocket *s, GOutputMessage *m, guint n, gint64 t, GCancellable *c, GError **e)
{
  return gsend_datagram_based_send_messages (G_DATAGRAM_BASED (s), m, n, 0, t, c, e);
}

static gint
single_result (GOutputMessage *m, gssize r)
{
  if (r < 0)
    return -1;
  g_assert_cmpint (r, ==, (gssize) m->vectors[0].size);
  m->bytes_sent = (guint) r;
  return 1;
}

static gint
tw_send_message (GSocket *s, GOutputMessage *m, guint n, gint64 t, GCancellable *c, GError **e)
{
  (void) n;
  (void) t;
  return single_result (m, gsend_socket_send_message (s, NULL, m->vectors, (gint) m->num_vectors,
                                                      NULL, 0, 0, c, e));
}

static gint
tw_send_message_with_timeout (GSocket *s, GOutputMessage *m, guint n, gint64 t, GCancellable *c,
                              GError **e)
{
  gsize written = 0;
  (void) n;
  GPollableReturn pr = gsend_socket_send_message_with_timeout (s, NULL, m->vectors,
                                                               (gint) m->num_vectors, NULL, 0, 0,
                                                               t, &written, c, e);
  if (pr == G_POLLABLE_RETURN_FAILED)
    return -1;
  g_assert_cmpint (pr, ==, G_POLLABLE_RETURN_OK);
  return single_result (m, (gssize) written);
}

static gint
tw_send (GSocket *s, GOutputMessage *m, guint n, gint64 t, GCancellable *c, GError **e)
{
  (void) n;
  (void) t;
  return single_result (m, gsend_socket_send (s, m->vectors[0].buffer, m->vectors[0].size, c, e));
}

static gint
tw_send_to (GSocket *s, GOutputMessage *m, guint n, gint64 t, GCancellable *c, GError **e)
{
  (void) n;
  (void) t;
  return single_result (m, gsend_socket_send_to (s, NULL, m->vectors[0].buffer,
                                                 m->vectors[0].size, c, e));
}

static gint
tw_send_with_blocking (GSocket *s, GOutputMessage *m, guint n, gint64 t, GCancellable *c, GError **e)
{
  (void) n;
  (void) t;
  return single_result (m, gsend_socket_send_with_blocking (s, m->vectors[0].buffer,
                                                            m->vectors[0].size, TRUE, c, e));
}

typedef struct
{
  const char *name;
  SendFn fn;
} TwinDesc;

static const TwinDesc twins[] = {
  { "socket-send-messages", tw_send_messages },
  { "socket-send-messages-with-timeout", tw_with_timeout },
  { "datagram-based-send-messages", tw_datagram_based },
  { "socket-send-message", tw_send_message },
  { "socket-send-message-with-timeout", tw_send_message_with_timeout },
  { "socket-send", tw_send },
  { "socket-send-to", tw_send_to },
  { "socket-send-with-blocking", tw_send_with_blocking },
};

/* Rule 6 + 1: a sender blocked on a full AF_UNIX pair (slowly drained) is
 * cancelled from another thread, 1000 times. Each call returns CANCELLED or
 * a count; the receiver must see exactly the datagrams counted. */
static void
test_cancel_blocked_many (gconstpointer data)
{
  const TwinDesc *tw = data;
  enum { K = 6 };
  guint iters = scaled (1000, 50);
  int rfd;
  GSocket *s = unix_pair (&rfd);
  g_object_unref (g_cancellable_new ()); /* warm-up */
  guint fds_before = count_fds () - 2;   /* the pair is closed at the end */
  guint fillers = fill_socket (g_socket_get_fd (s), 64);
  Receiver rx = { .fd = rfd, .slow_us = 1000 }; /* one datagram per ms */
  Canceller c = { 0 };
  GOutputMessage msgs[K];
  GOutputVector vecs[K];
  static guint8 bufs[K][2048];
  guint32 seq = 0;
  guint n_cancelled = 0, n_full = 0, n_partial = 0, pre_cancelled = 0;

  watchdog (60);
  tracker_init (&rx.t, 1, iters * K);
  g_mutex_init (&c.lock);
  g_cond_init (&c.cond);
  GThread *ct = g_thread_new ("canceller", canceller_thread, &c);
  GThread *rt = g_thread_new ("receiver", receiver_thread, &rx);

  for (guint it = 0; it < iters; it++)
    {
      GCancellable *canc = g_cancellable_new ();
      build_batch (msgs, vecs, bufs, K, 0, seq, varied_len);
      g_mutex_lock (&c.lock);
      c.job = canc;
      c.delay_us = g_random_int_range (0, 400);
      c.done = FALSE;
      g_cond_broadcast (&c.cond);
      g_mutex_unlock (&c.lock);

      GError *error = NULL;
      gint r = tw->fn (s, msgs, K, -1, canc, &error);

      g_mutex_lock (&c.lock);
      while (!c.done)
        g_cond_wait (&c.cond, &c.lock);
      g_mutex_unlock (&c.lock);

      if (r < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_clear_error (&error);
          n_cancelled++;
          r = 0;
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpint (r, >=, 1); /* blocking: 0 only via an error */
          g_assert_cmpint (r, <=, K);
          if (r == K)
            n_full++;
          else
            n_partial++;
        }
      check_batch_result (msgs, K, r);
      seq += (guint32) r;

      /* Already cancelled: nothing sent, CANCELLED (rule 6). */
      if (it % 100 == 0)
        {
          build_batch (msgs, vecs, bufs, K, 0, seq, varied_len);
          gint r2 = tw->fn (s, msgs, K, -1, canc, &error);
          g_assert_cmpint (r2, ==, -1);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_clear_error (&error);
          check_batch_result (msgs, K, 0);
          pre_cancelled++;
        }
      g_object_unref (canc);
    }

  g_mutex_lock (&c.lock);
  c.quit = TRUE;
  g_cond_broadcast (&c.cond);
  g_mutex_unlock (&c.lock);
  g_thread_join (ct);
  g_atomic_int_set (&rx.stop, 1);
  g_thread_join (rt);

  guint64 missing, beyond;
  guint32 counts[1] = { seq };
  tracker_check (&rx.t, counts, &missing, &beyond);
  figure ("cancel-while-blocked (%s): %u calls cancelled from another thread: %u CANCELLED, "
          "%u returned a count (%u of them the whole batch); %u pre-cancelled calls; %u datagrams counted, %"
          G_GUINT64_FORMAT " received (+%" G_GUINT64_FORMAT " fillers of %u); dups %"
          G_GUINT64_FORMAT ", beyond %" G_GUINT64_FORMAT,
          tw->name, iters, n_cancelled, n_partial + n_full, n_full, pre_cancelled, seq, rx.t.total,
          rx.t.fillers, fillers, rx.t.dups, beyond);
  g_assert_cmpuint (rx.t.bad, ==, 0);
  g_assert_cmpuint (rx.t.dups, ==, 0);
  g_assert_cmpuint (missing, ==, 0);
  g_assert_cmpuint (beyond, ==, 0);
  g_assert_cmpuint (rx.t.total, ==, seq);
  g_assert_cmpuint (rx.t.fillers, ==, fillers);
  /* The test must have exercised cancellation of a blocked call. */
  g_assert_cmpuint (n_cancelled, >, 0);

  tracker_clear (&rx.t);
  g_mutex_clear (&c.lock);
  g_cond_clear (&c.cond);
  g_object_unref (s);
  close (rfd);
  /* 1000 cancellables waited on: no descriptor left behind. */
  g_assert_cmpuint (count_fds (), ==, fds_before);
  alarm (0);
}

/* ---- signals at a blocked / busy sender --------------------------------- */

static volatile gint signals_caught;

static void
noop_handler (int sig)
{
  (void) sig;
  g_atomic_int_inc (&signals_caught);
}

static void
install_sigusr1 (void)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = noop_handler;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: blocking calls see EINTR */
  g_assert_cmpint (sigaction (SIGUSR1, &sa, NULL), ==, 0);
}

typedef struct
{
  GSocket *sock;
  pthread_t tid;
  gint stop;
  gint started;
  guint32 max_seq;
  guint32 sent;
  guint calls;
  SendFn fn;
} SigSender;

static gpointer
sig_sender_thread (gpointer data)
{
  enum { K = 16 };
  SigSender *s = data;
  GOutputMessage msgs[K];
  GOutputVector vecs[K];
  static guint8 bufs[K][2048];
  guint32 seq = 0;

  s->tid = pthread_self ();
  g_atomic_int_set (&s->started, 1);
  while (!g_atomic_int_get (&s->stop) && seq + K <= s->max_seq)
    {
      GError *error = NULL;
      build_batch (msgs, vecs, bufs, K, 0, seq, varied_len);
      gint r = s->fn (s->sock, msgs, K, -1, NULL, &error);
      s->calls++;
      if (r < 0)
        g_error ("send interrupted by a signal failed: %s", error->message);
      g_assert_cmpint (r, >=, 1);
      g_assert_cmpint (r, <=, K);
      check_batch_result (msgs, K, r);
      seq += (guint32) r;
    }
  s->sent = seq;
  return NULL;
}

static void
run_signals (const TwinDesc *tw, gboolean blocked, double seconds)
{
  guint32 max_seq = 4 * 1024 * 1024;
  int rfd;
  GSocket *s = unix_pair (&rfd);
  guint fillers = blocked ? fill_socket (g_socket_get_fd (s), 64) : 0;
  Receiver rx = { .fd = rfd, .slow_us = blocked ? 200 : 0 };
  SigSender ss = { .sock = s, .max_seq = max_seq, .fn = tw->fn };
  gint64 duration = (gint64) (seconds * G_USEC_PER_SEC * stress_scale ());
  if (duration < 200000)
    duration = 200000;

  watchdog (60);
  install_sigusr1 ();
  g_atomic_int_set (&signals_caught, 0);
  tracker_init (&rx.t, 1, max_seq);
  GThread *rt = g_thread_new ("receiver", receiver_thread, &rx);
  GThread *st = g_thread_new ("sender", sig_sender_thread, &ss);
  while (!g_atomic_int_get (&ss.started))
    g_usleep (100);

  guint fired = 0;
  gint64 end = g_get_monotonic_time () + duration;
  while (g_get_monotonic_time () < end)
    {
      g_assert_cmpint (pthread_kill (ss.tid, SIGUSR1), ==, 0);
      fired++;
      g_usleep (100);
    }
  g_atomic_int_set (&ss.stop, 1);
  g_thread_join (st);
  g_atomic_int_set (&rx.stop, 1);
  g_thread_join (rt);

  guint64 missing, beyond;
  guint32 counts[1] = { ss.sent };
  tracker_check (&rx.t, counts, &missing, &beyond);
  figure ("%s: signals at a %s sender for %.1f s: %u SIGUSR1 fired, %d handled; %u send calls, "
          "%u datagrams counted, %" G_GUINT64_FORMAT " received (%" G_GUINT64_FORMAT
          " bytes, byte-exact), %" G_GUINT64_FORMAT " fillers of %u; dups %" G_GUINT64_FORMAT
          ", missing %" G_GUINT64_FORMAT ", beyond %" G_GUINT64_FORMAT,
          tw->name, blocked ? "blocked" : "busy", duration / 1e6, fired,
          g_atomic_int_get (&signals_caught), ss.calls, ss.sent, rx.t.total, rx.t.bytes,
          rx.t.fillers, fillers, rx.t.dups, missing, beyond);
  g_assert_cmpuint (rx.t.bad, ==, 0);
  g_assert_cmpuint (rx.t.dups, ==, 0);
  g_assert_cmpuint (missing, ==, 0);
  g_assert_cmpuint (beyond, ==, 0);
  g_assert_cmpuint (rx.t.total, ==, ss.sent);
  g_assert_cmpuint (rx.t.fillers, ==, fillers);
  g_assert_cmpuint (ss.sent, >, 0);
  g_assert_cmpint (g_atomic_int_get (&signals_caught), >, 0);

  tracker_clear (&rx.t);
  g_object_unref (s);
  close (rfd);
  signal (SIGUSR1, SIG_IGN);
  alarm (0);
}

/* Rule 2: EINTR is retried; a blocked sender hit by signals loses nothing. */
static void
test_signals_blocked (gconstpointer data)
{
  const TwinDesc *tw = data;
  run_signals (tw, TRUE, tw == &twins[0] ? 2.0 : 0.5);
}

static void
test_signals_busy (gconstpointer data)
{
  const TwinDesc *tw = data;
  run_signals (tw, FALSE, tw == &twins[0] ? 2.0 : 0.5);
}

/* ---- timeouts: never TIMED_OUT before the deadline ---------------------- */

typedef struct
{
  GSocket *sock;
  SendFn fn;
  pthread_t tid;
  gint started;
  gint done;
  guint checks;
  gint64 worst_early; /* most negative (elapsed - timeout), should stay >= 0 */
  gint64 worst_late;
} TimeoutRun;

static gpointer
timeout_thread (gpointer data)
{
  TimeoutRun *tr = data;
  static const gint64 ms[] = { 1, 2, 5, 10, 20, 50 };
  guint reps = scaled (4, 2);
  guint8 buf[64];
  make_payload (buf, FILLER_ID, 0, sizeof buf);
  tr->tid = pthread_self ();
  tr->worst_early = G_MAXINT64;
  tr->worst_late = G_MININT64;
  g_atomic_int_set (&tr->started, 1);
  for (guint rep = 0; rep < reps; rep++)
    for (guint i = 0; i < G_N_ELEMENTS (ms); i++)
      {
        gint64 timeout = ms[i] * 1000;
        GOutputVector v = { buf, sizeof buf };
        GOutputMessage m = { NULL, &v, 1, 0xdeadbeef, NULL, 0 };
        GError *error = NULL;
        gint64 t0 = g_get_monotonic_time ();
        gint r = tr->fn (tr->sock, &m, 1, timeout, NULL, &error);
        gint64 el = g_get_monotonic_time () - t0;
        g_assert_cmpint (r, ==, -1);
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        g_clear_error (&error);
        g_assert_cmpuint (m.bytes_sent, ==, 0xdeadbeef);
        if (el < timeout)
          g_error ("TIMED_OUT after %" G_GINT64_FORMAT " us, before the %" G_GINT64_FORMAT
                   " us deadline", el, timeout);
        g_assert_cmpint (el, <=, timeout + 2 * G_USEC_PER_SEC);
        tr->worst_early = MIN (tr->worst_early, el - timeout);
        tr->worst_late = MAX (tr->worst_late, el - timeout);
        tr->checks++;
      }
  g_atomic_int_set (&tr->done, 1);
  return NULL;
}

static void
run_timeouts (const TwinDesc *tw, gboolean with_signals)
{
  int rfd;
  GSocket *s = unix_pair (&rfd);
  TimeoutRun tr = { .sock = s, .fn = tw->fn };
  guint fired = 0;

  watchdog (60);
  fill_socket (g_socket_get_fd (s), 64);
  if (with_signals)
    install_sigusr1 ();
  g_atomic_int_set (&signals_caught, 0);
  GThread *t = g_thread_new ("timeouts", timeout_thread, &tr);
  while (!g_atomic_int_get (&tr.started))
    g_usleep (100);
  while (with_signals && !g_atomic_int_get (&tr.done))
    {
      pthread_kill (tr.tid, SIGUSR1);
      fired++;
      g_usleep (100);
    }
  g_thread_join (t);
  figure ("%s: timeouts 1..50 ms%s: %u calls TIMED_OUT, none early; elapsed - timeout in "
          "[%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] us; %u signals fired, %d handled",
          tw->name, with_signals ? " under SIGUSR1 every 100 us" : "", tr.checks, tr.worst_early,
          tr.worst_late, fired, g_atomic_int_get (&signals_caught));
  g_assert_cmpint (tr.worst_early, >=, 0);
  if (with_signals)
    signal (SIGUSR1, SIG_IGN);
  g_object_unref (s);
  close (rfd);
  alarm (0);
}

/* Rule 4: one deadline from the start; never TIMED_OUT early. */
static void
test_timeouts (gconstpointer data)
{
  run_timeouts (data, FALSE);
}

/* Rules 4 + 2: EINTR neither extends nor shortens the deadline. */
static void
test_timeouts_signals (gconstpointer data)
{
  run_timeouts (data, TRUE);
}

/* ---- descriptors passed by many threads at once ------------------------- */

typedef struct
{
  GSocket *sock;
  guint32 id;
  guint32 n;
  int fd;          /* the descriptor this thread passes with every datagram */
  guint32 sent;
} FdSender;

static gpointer
fd_sender_thread (gpointer data)
{
  enum { K = 8 };
  FdSender *fs = data;
  GOutputMessage msgs[K];
  GOutputVector vecs[K];
  guint8 bufs[K][64];
  GError *error = NULL;
  GSocketControlMessage *cm = g_unix_fd_message_new ();
  g_assert_true (g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (cm), fs->fd, &error));
  g_assert_no_error (error);
  GSocketControlMessage *cms[1] = { cm };
  guint32 seq = 0;
  while (seq < fs->n)
    {
      guint k = MIN (K, fs->n - seq);
      for (guint i = 0; i < k; i++)
        {
          make_payload (bufs[i], fs->id, seq + i, 48);
          vecs[i] = (GOutputVector) { bufs[i], 48 };
          msgs[i] = (GOutputMessage) { NULL, &vecs[i], 1, 0xdeadbeef, cms, 1 };
        }
      gint r = gsend_socket_send_messages (fs->sock, msgs, k, 0, NULL, &error);
      if (r < 0)
        g_error ("fd sender %u: %s", fs->id, error->message);
      g_assert_cmpint (r, >=, 1);
      check_batch_result (msgs, k, r);
      seq += (guint32) r;
    }
  fs->sent = seq;
  g_object_unref (cm);
  return NULL;
}

typedef struct
{
  int fd;
  Tracker t;
  guint64 want;
  ino_t inodes[8];
  guint64 fds_ok, fds_wrong, fds_missing;
} FdReceiver;

static gpointer
fd_receiver_thread (gpointer data)
{
  FdReceiver *r = data;
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (r->t.total + r->t.bad + r->t.dups < r->want && g_get_monotonic_time () < deadline)
    {
      guint8 buf[256];
      union { char b[CMSG_SPACE (4 * sizeof (int))]; struct cmsghdr align; } ctl;
      struct iovec iov = { buf, sizeof buf };
      struct msghdr mh = { 0 };
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      mh.msg_control = ctl.b;
      mh.msg_controllen = sizeof ctl.b;
      struct pollfd p = { r->fd, POLLIN, 0 };
      if (poll (&p, 1, 100) <= 0)
        continue;
      ssize_t n = recvmsg (r->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0)
        continue;
      g_assert_false (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC));
      int nfds = 0;
      int got = -1;
      for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c; c = CMSG_NXTHDR (&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
          {
            int cnt = (int) ((c->cmsg_len - CMSG_LEN (0)) / sizeof (int));
            for (int i = 0; i < cnt; i++)
              {
                int f;
                memcpy (&f, CMSG_DATA (c) + i * sizeof (int), sizeof f);
                if (nfds++ == 0)
                  got = f;
                else
                  close (f);
              }
          }
      StressHdr h;
      memcpy (&h, buf, sizeof h);
      tracker_note (&r->t, buf, (gsize) n);
      if (nfds != 1)
        r->fds_missing++;
      else
        {
          struct stat st;
          g_assert_cmpint (fstat (got, &st), ==, 0);
          if (h.id < 8 && st.st_ino == r->inodes[h.id])
            r->fds_ok++;
          else
            r->fds_wrong++;
        }
      if (got >= 0)
        close (got);
    }
  return NULL;
}

/* Rules 9 + 16: four threads pass a descriptor with every datagram on one
 * AF_UNIX socket. Each datagram arrives once with exactly its sender's
 * descriptor; afterwards the process has exactly the descriptors it had
 * before (gsend keeps none, loses none). */
static void
test_fd_passing_threads (void)
{
  enum { THREADS = 4 };
  guint32 per = scaled (5000, 100);
  FdSender fs[THREADS];
  GThread *th[THREADS];
  FdReceiver rx = { 0 };
  guint32 counts[THREADS];
  int rfd;

  watchdog (60);
  /* Warm up GLib's lazily opened descriptors, then count. */
  {
    GSocket *w = unix_pair (&rfd);
    g_object_unref (w);
    close (rfd);
  }
  guint fds_before = count_fds ();

  GSocket *s = unix_pair (&rfd);
  rx.fd = rfd;
  tracker_init (&rx.t, THREADS, per);
  rx.want = (guint64) THREADS * per;
  for (guint i = 0; i < THREADS; i++)
    {
      char path[] = "/tmp/gsend-fdpass-XXXXXX";
      int f = g_mkstemp (path);
      g_assert_cmpint (f, >=, 0);
      unlink (path);
      struct stat st;
      fstat (f, &st);
      rx.inodes[i] = st.st_ino;
      fs[i] = (FdSender) { .sock = s, .id = i, .n = per, .fd = f };
    }
  GThread *rt = g_thread_new ("fd-rx", fd_receiver_thread, &rx);
  for (guint i = 0; i < THREADS; i++)
    th[i] = g_thread_new ("fd-tx", fd_sender_thread, &fs[i]);
  for (guint i = 0; i < THREADS; i++)
    {
      g_thread_join (th[i]);
      counts[i] = fs[i].sent;
      g_assert_cmpuint (fs[i].sent, ==, per);
    }
  g_thread_join (rt);
  guint64 missing, beyond;
  tracker_check (&rx.t, counts, &missing, &beyond);
  g_object_unref (s);
  close (rfd);
  for (guint i = 0; i < THREADS; i++)
    close (fs[i].fd);
  guint fds_after = count_fds ();

  figure ("fd passing, %u threads x %u datagrams each with a descriptor: %" G_GUINT64_FORMAT
          " received, %" G_GUINT64_FORMAT " with the right descriptor, %" G_GUINT64_FORMAT
          " wrong, %" G_GUINT64_FORMAT " without; open fds before %u, after %u",
          THREADS, per, rx.t.total, rx.fds_ok, rx.fds_wrong, rx.fds_missing, fds_before, fds_after);
  g_assert_cmpuint (rx.t.bad, ==, 0);
  g_assert_cmpuint (rx.t.dups, ==, 0);
  g_assert_cmpuint (missing, ==, 0);
  g_assert_cmpuint (beyond, ==, 0);
  g_assert_cmpuint (rx.fds_ok, ==, (guint64) THREADS * per);
  g_assert_cmpuint (rx.fds_wrong, ==, 0);
  g_assert_cmpuint (rx.fds_missing, ==, 0);
  g_assert_cmpuint (fds_after, ==, fds_before);
  tracker_clear (&rx.t);
  alarm (0);
}

/* ---- fresh address objects, reused memory: right destination ------------ */

typedef struct
{
  GSocket *sock;
  guint16 *ports;
  guint n_rx;
  guint32 id_base;
  guint iters;
  guint32 *sent;   /* per destination id */
  GHashTable *ptrs;
  guint reused;
} AddrWorker;

static gpointer
addr_worker (gpointer data)
{
  AddrWorker *w = data;
  guint8 bufs[2][64];
  GOutputVector vecs[2];
  GOutputMessage msgs[2];
  GError *error = NULL;
  w->ptrs = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < w->iters; i++)
    {
      guint j = (i * 7u + w->id_base) % w->n_rx;
      GSocketAddress *a = g_inet_socket_address_new_from_string ("127.0.0.1", w->ports[j]);
      if (!g_hash_table_add (w->ptrs, a))
        w->reused++;
      guint32 id = w->id_base * w->n_rx + j;
      if (i % 3 == 0)
        {
          /* single-message twin */
          make_payload (bufs[0], id, w->sent[j], 40);
          gssize r = gsend_socket_send_to (w->sock, a, (const gchar *) bufs[0], 40, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpint (r, ==, 40);
          w->sent[j]++;
        }
      else
        {
          for (guint k = 0; k < 2; k++)
            {
              make_payload (bufs[k], id, w->sent[j] + k, 40);
              vecs[k] = (GOutputVector) { bufs[k], 40 };
              msgs[k] = (GOutputMessage) { a, &vecs[k], 1, 0, NULL, 0 };
            }
          gint r = gsend_socket_send_messages (w->sock, msgs, 2, 0, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpint (r, ==, 2);
          w->sent[j] += 2;
        }
      g_object_unref (a);
    }
  return NULL;
}

/* Rules 8 + 16: a fresh GInetSocketAddress per send, freed right after, so
 * new objects reuse freed memory (gsend caches native addresses): every
 * datagram still reaches the destination its own address object named.
 * Four threads on one socket, four receivers. */
static void
test_address_reuse (void)
{
  enum { RX = 4, THREADS = 4 };
  guint iters = scaled (4000, 200);
  int fds[RX];
  guint16 ports[RX];
  Tracker t[RX];
  GError *error = NULL;

  watchdog (60);
  for (guint j = 0; j < RX; j++)
    {
      GInetSocketAddress *ia;
      fds[j] = udp_receiver (&ia);
      ports[j] = g_inet_socket_address_get_port (ia);
      g_object_unref (ia);
      tracker_init (&t[j], THREADS * RX, iters * 2);
    }
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                             G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  AddrWorker w[THREADS];
  guint32 sent[THREADS][RX];
  GThread *th[THREADS];
  memset (sent, 0, sizeof sent);
  for (guint i = 0; i < THREADS; i++)
    {
      w[i] = (AddrWorker) { .sock = s, .ports = ports, .n_rx = RX, .id_base = i,
                            .iters = iters, .sent = sent[i] };
      th[i] = g_thread_new ("addr", addr_worker, &w[i]);
    }
  guint reused = 0;
  for (guint i = 0; i < THREADS; i++)
    {
      g_thread_join (th[i]);
      reused += w[i].reused;
      g_hash_table_unref (w[i].ptrs);
    }
  guint64 total = 0, wrong = 0, missing_all = 0, dups = 0, bad = 0;
  for (guint j = 0; j < RX; j++)
    {
      drain_into (fds[j], &t[j], 200);
      /* Receiver j must hold exactly ids (thread * RX + j), seq < sent. */
      guint32 counts[THREADS * RX];
      for (guint i = 0; i < THREADS; i++)
        for (guint k = 0; k < RX; k++)
          counts[i * RX + k] = k == j ? sent[i][k] : 0;
      guint64 missing, beyond;
      tracker_check (&t[j], counts, &missing, &beyond);
      total += t[j].total;
      wrong += beyond;
      missing_all += missing;
      dups += t[j].dups;
      bad += t[j].bad;
      tracker_clear (&t[j]);
      close (fds[j]);
    }
  figure ("fresh address per send, %u threads x %u sends to %u receivers: %" G_GUINT64_FORMAT
          " datagrams received, %" G_GUINT64_FORMAT " at a wrong receiver, %" G_GUINT64_FORMAT
          " missing, %" G_GUINT64_FORMAT " dups; %u address objects at a reused pointer",
          THREADS, iters, RX, total, wrong, missing_all, dups, reused);
  g_assert_cmpuint (bad, ==, 0);
  g_assert_cmpuint (wrong, ==, 0);
  g_assert_cmpuint (missing_all, ==, 0);
  g_assert_cmpuint (dups, ==, 0);
  /* The scenario must really have reused memory (memcheck holds freed
   * blocks back to catch use after free, so not there: it checks that
   * instead). */
  if (!RUNNING_ON_VALGRIND)
    g_assert_cmpuint (reused, >, 0);
  g_object_unref (s);
  alarm (0);
}

/* ---- one cancellable, many blocked senders ------------------------------ */

typedef struct
{
  GSocket *sock;
  GCancellable *canc;
  const TwinDesc *tw;
  guint32 id;
  guint32 seq;       /* next sequence number of this sender */
  gint result;
  gint64 returned_at;
  GError *error;
} SharedCancelWorker;

static gpointer
shared_cancel_worker (gpointer data)
{
  enum { K = 4 };
  SharedCancelWorker *w = data;
  GOutputMessage msgs[K];
  GOutputVector vecs[K];
  guint8 (*bufs)[2048] = g_malloc (K * 2048);
  build_batch (msgs, vecs, bufs, K, w->id, w->seq, varied_len);
  w->result = w->tw->fn (w->sock, msgs, K, -1, w->canc, &w->error);
  w->returned_at = g_get_monotonic_time ();
  check_batch_result (msgs, K, MAX (w->result, 0));
  if (w->result > 0)
    w->seq += (guint32) w->result;
  g_free (bufs);
  return NULL;
}

/* Rules 6 + 16: eight threads blocked on the same full AF_UNIX socket with
 * one shared GCancellable; a single g_cancellable_cancel() wakes them all
 * (CANCELLED, or a count where the main thread drained some room first).
 * Repeated; every counted datagram arrives once, nothing else does. */
static void
test_shared_cancellable (gconstpointer data)
{
  const TwinDesc *tw = data;
  enum { THREADS = 8 };
  guint iters = scaled (200, 10);
  int rfd;
  GSocket *s = unix_pair (&rfd);
  guint fillers = fill_socket (g_socket_get_fd (s), 64);
  SharedCancelWorker w[THREADS];
  GThread *th[THREADS];
  Tracker t;
  guint cancelled = 0, counted_calls = 0;
  gint64 worst_wake = 0;

  watchdog (120);
  tracker_init (&t, THREADS, iters * 4 + 8);
  memset (w, 0, sizeof w);
  for (guint it = 0; it < iters; it++)
    {
      GCancellable *canc = g_cancellable_new ();
      for (guint i = 0; i < THREADS; i++)
        {
          w[i].sock = s;
          w[i].canc = canc;
          w[i].tw = tw;
          w[i].id = i;
          w[i].result = -2;
          th[i] = g_thread_new ("blocked", shared_cancel_worker, &w[i]);
        }
      /* Let them block; on odd rounds make a little room (a few calls then
       * complete or return a count), then cancel once. */
      g_usleep (1000 + g_random_int_range (0, 1000));
      if (it % 2)
        receive_round (rfd, &t, 0, 3);
      g_usleep (g_random_int_range (0, 300));
      gint64 t_cancel = g_get_monotonic_time ();
      g_cancellable_cancel (canc);
      for (guint i = 0; i < THREADS; i++)
        {
          g_thread_join (th[i]);
          if (w[i].result < 0)
            {
              g_assert_cmpint (w[i].result, ==, -1);
              g_assert_error (w[i].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
              g_clear_error (&w[i].error);
              cancelled++;
            }
          else
            {
              g_assert_no_error (w[i].error);
              g_assert_cmpint (w[i].result, >=, 1);
              counted_calls++;
            }
          worst_wake = MAX (worst_wake, w[i].returned_at - t_cancel);
        }
      /* All of them woke, well within a generous bound. */
      g_assert_cmpint (worst_wake, <, 5 * G_USEC_PER_SEC);
      g_object_unref (canc);
    }
  drain_into (rfd, &t, 100);

  guint32 counts[THREADS];
  for (guint i = 0; i < THREADS; i++)
    counts[i] = w[i].seq;
  guint64 missing, beyond;
  tracker_check (&t, counts, &missing, &beyond);
  figure ("%s: %u rounds x %u threads blocked with one cancellable: %u CANCELLED, %u "
          "returned a count; %" G_GUINT64_FORMAT " datagrams received (+%" G_GUINT64_FORMAT
          " fillers of %u); slowest wake-up after cancel %" G_GINT64_FORMAT " us; missing %"
          G_GUINT64_FORMAT ", dups %" G_GUINT64_FORMAT ", beyond %" G_GUINT64_FORMAT,
          tw->name, iters, THREADS, cancelled, counted_calls, t.total, t.fillers, fillers,
          worst_wake, missing, t.dups, beyond);
  tracker_assert_exact (&t, missing, beyond);
  g_assert_cmpuint (t.fillers, ==, fillers);
  g_assert_cmpuint (cancelled, >, 0);
  tracker_clear (&t);
  g_object_unref (s);
  close (rfd);
  alarm (0);
}

/* ---- thread churn: per-thread scratch space goes away with its thread --- */

static gsize
rss_kib (void)
{
  char *status = NULL;
  gsize kib = 0;
  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    {
      const char *p = strstr (status, "VmRSS:");
      if (p)
        kib = (gsize) g_ascii_strtoull (p + 6, NULL, 10);
      g_free (status);
    }
  return kib;
}

typedef struct
{
  GSocket *sock;
  GSocketAddress *addr;
  guint32 id;
} ChurnArgs;

static guint32
churn_len (guint32 seq)
{
  (void) seq;
  return 200;
}

static gpointer
churn_thread (gpointer data)
{
  enum { K = 64 };
  ChurnArgs *a = data;
  GOutputMessage msgs[K];
  GOutputVector vecs[K];
  guint8 (*bufs)[2048] = g_malloc (K * 2048);
  GError *error = NULL;
  build_batch (msgs, vecs, bufs, K, 0, a->id * K, churn_len);
  for (guint i = 0; i < K; i++)
    msgs[i].address = a->addr;
  gint r = gsend_socket_send_messages (a->sock, msgs, K, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, K);
  check_batch_result (msgs, K, r);
  g_free (bufs);
  return NULL;
}

/* Rules 16 + 17 + 1: thousands of short-lived threads, each sending one
 * 64-message batch (the engine keeps scratch space per thread): every
 * datagram arrives once, and the process does not grow with the number of
 * threads that came and went (memcheck checks the same for leaks). */
static void
test_thread_churn (void)
{
  guint n_threads = scaled (3000, 100);
  GInetSocketAddress *addr;
  GError *error = NULL;
  int rfd = udp_receiver (&addr);
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                             G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  Tracker t;
  gsize rss_warm = 0;
  guint warm = n_threads / 10;

  watchdog (120);
  tracker_init (&t, 1, n_threads * 64);
  for (guint i = 0; i < n_threads; i++)
    {
      ChurnArgs a = { s, G_SOCKET_ADDRESS (addr), i };
      GThread *th = g_thread_new ("churn", churn_thread, &a);
      g_thread_join (th);
      while (receive_round (rfd, &t, 0, 64) > 0)
        ;
      if (i + 1 == warm)
        rss_warm = rss_kib ();
    }
  drain_into (rfd, &t, 100);
  gsize rss_end = rss_kib ();
  guint32 counts[1] = { n_threads * 64 };
  guint64 missing, beyond;
  tracker_check (&t, counts, &missing, &beyond);
  figure ("thread churn: %u threads x 64 datagrams, %" G_GUINT64_FORMAT " received; RSS %"
          G_GSIZE_FORMAT " KiB after %u threads, %" G_GSIZE_FORMAT " KiB after %u",
          n_threads, t.total, rss_warm, warm, rss_end, n_threads);
  tracker_assert_exact (&t, missing, beyond);
  /* 2700 more threads: a per-thread leak of even 4 KiB would add >10 MiB. */
  if (!RUNNING_ON_VALGRIND && n_threads >= 1000)
    g_assert_cmpuint (rss_end, <, rss_warm + 8 * 1024);
  udp_case_end (&t, s, G_SOCKET_ADDRESS (addr), rfd);
}

static const GtTest tests[] = {
  { "/rule16/unix-8-threads-exactly-once", test_unix_many_threads },
  { "/rule16/udp-paced-8-threads-exactly-once-gso", test_udp_many_threads_gso },
  { "/rule16/udp-paced-8-threads-exactly-once-plain", test_udp_many_threads_plain },
  { "/rule16/udp-paced-8-threads-exactly-once-gso-flipping", test_udp_many_threads_gso_flipping },
  { "/rule16/udp6-paced-8-threads-exactly-once-gso", test_udp6_many_threads_gso },
  { "/rule16/udp6-paced-8-threads-exactly-once-plain", test_udp6_many_threads_plain },
  { "/rule16/unix-seqpacket-8-threads-exactly-once", test_seqpacket_many_threads },
  { "/rule09/fd-passing-4-threads-exact-no-fd-leak", test_fd_passing_threads },
  { "/rule17/thread-churn-exact-no-growth", test_thread_churn },
  { "/rule08/fresh-address-objects-reused-memory-right-destination", test_address_reuse },
};

int
main (int argc, char **argv)
{
  stress_test_init (&argc, &argv);

  GT_ADD_TESTS (tests);
  for (guint i = 0; i < G_N_ELEMENTS (twins); i++)
    {
      gt_add_data_test (&twins[i], test_cancel_blocked_many, "/rule06/cancel-blocked-1000-times/%s", twins[i].name);
    }
  for (guint i = 0; i < G_N_ELEMENTS (twins); i += 3)
    {
      gt_add_data_test (&twins[i], test_shared_cancellable, "/rule06/shared-cancellable-8-blocked-threads/%s", twins[i].name);
    }
  for (guint i = 0; i < G_N_ELEMENTS (twins); i++)
    {
      gt_add_data_test (&twins[i], test_signals_blocked, "/rule02/eintr-blocked-sender-exact/%s", twins[i].name);
      gt_add_data_test (&twins[i], test_signals_busy, "/rule02/eintr-busy-sender-exact/%s", twins[i].name);
    }
  /* The twins with a timeout argument. */
  static const guint timed[] = { 1, 2, 4 };
  for (guint i = 0; i < G_N_ELEMENTS (timed); i++)
    {
      const TwinDesc *tw = &twins[timed[i]];
      gt_add_data_test (tw, test_timeouts, "/rule04/timeouts-never-early/%s", tw->name);
      gt_add_data_test (tw, test_timeouts_signals, "/rule04/timeouts-never-early-under-signals/%s", tw->name);
    }

  return g_test_run ();
}
