/* gsend benchmark: GIO's g_socket_send_messages against gsend (with and
 * without segmentation offload) and a hand-written sendmmsg loop, on
 * loopback UDP, in one process, with a receiver thread that checks that
 * every datagram arrived.
 *
 *   gsend-bench [--rounds R] [--bursts B] [--quick] [--spread] [--concurrent]
 *       the table (median over R interleaved rounds of datagrams per
 *       CPU-second of the sending thread)
 *   gsend-bench --caps [--rounds R] [--bursts B]
 *       64 x 1200 B to one destination through gsend with segmented sends
 *       capped at 16, 32 and 64 KiB (gsend_socket_set_gso_max_bytes)
 *   gsend-bench [--gso-max-bytes N] --callgrind CASE VARIANT N
 *       N calls of one case and variant with callgrind collection switched on
 *       around the send calls only (run under
 *       valgrind --tool=callgrind --collect-atstart=no)
 *   gsend-alloc-check            (this file built with GSEND_BENCH_ALLOC_CHECK)
 *       heap allocations per call in steady state (docs/behaviour.md rule 17)
 *
 * CASE: one-1200 one-100 many-1200 single-1200, and (callgrind only)
 *       one-1200-apart one-100-apart (each message's vector apart)
 * VARIANT: gio gsend gsend-nogso raw
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <valgrind/callgrind.h>

#include "gsend.h"
#include "gsend-test.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define MAX_DESTS 64
#define BURST_DGRAMS 64 /* datagrams sent between two waits for the receiver */
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65507

/* ------------------------------------------------------------------ */
/* Cases and variants                                                   */

typedef struct {
  const char *name;
  const char *label;
  guint n_msgs;  /* messages per call */
  gsize size;    /* bytes per datagram */
  guint n_dests; /* distinct destination address objects */
  gboolean apart; /* each message's vector lies apart from the next one's
                   * (an array per message) instead of all in one array */
} Case;

static const Case cases[] = {
  { "one-1200", "64 x 1200 B to one destination", 64, 1200, 1 },
  { "one-100", "64 x 100 B to one destination", 64, 100, 1 },
  { "many-1200", "64 x 1200 B to 64 destinations", 64, 1200, 64 },
  { "single-1200", "1 x 1200 B per call", 1, 1200, 1 },
};
#define N_CASES G_N_ELEMENTS (cases)

/* Only for callgrind (--callgrind): the one-destination cases with every
 * message's vector apart from the others, as when each message is built
 * with an array of its own (gsend copies them; it points at one array). */
static const Case apart_cases[] = {
  { "one-1200-apart", "64 x 1200 B to one destination, vectors apart", 64, 1200, 1, TRUE },
  { "one-100-apart", "64 x 100 B to one destination, vectors apart", 64, 100, 1, TRUE },
};

/* Only for the allocation check: the largest batches rule 17 names. */
static const Case big_cases[] G_GNUC_UNUSED = {
  { "one-100-x1024", "1024 x 100 B to one destination", 1024, 100, 1 },
  { "one-1200-x1024", "1024 x 1200 B to one destination", 1024, 1200, 1 },
  { "many-1200-x1024", "1024 x 1200 B to 64 destinations", 1024, 1200, 64 },
};

typedef enum { V_GIO, V_GSEND, V_GSEND_NOGSO, V_RAW, N_VARIANTS } Variant;
static const char *variant_names[N_VARIANTS] G_GNUC_UNUSED = { "gio", "gsend", "gsend-nogso", "raw" };

/* ------------------------------------------------------------------ */
/* Receiver: MAX_DESTS UDP sockets on 127.0.0.1, one thread              */

typedef struct {
  int fds[MAX_DESTS];
  struct sockaddr_in sins[MAX_DESTS];
  int stop_fd;
  pthread_t thread;
  gboolean running;

  pthread_mutex_t lock; /* guards seen/base/len and the counters below */
  guint8 *seen;
  gsize seen_alloc;
  guint64 base, len;
  guint64 dups, strays, bad_len;
  gsize expect_len; /* expected datagram size in this run */
  _Atomic guint64 received; /* distinct datagrams of the current run */

  /* Alternating mode: the sender posts `go` after each burst (with
   * `target` = datagrams sent so far in the run), the receiver drains and
   * posts `done`. */
  gboolean alternate;
  sem_t go, done;
  _Atomic guint64 target;
  _Atomic int stop;
} Receiver;

static Receiver rx;

static void
die (const char *what)
{
  fprintf (stderr, "gsend-bench: %s: %s\n", what, strerror (errno));
  exit (2);
}

static void
receiver_open (gboolean big_buffers)
{
  memset (&rx, 0, sizeof rx);
  pthread_mutex_init (&rx.lock, NULL);
  for (int i = 0; i < MAX_DESTS; i++)
    {
      GSocketAddress *a = NULL;
      rx.fds[i] = gt_udp_receiver_fd (AF_INET, big_buffers ? 4 * 1024 * 1024 : 0, &a);
      if (!g_socket_address_to_native (a, &rx.sins[i], sizeof rx.sins[i], NULL))
        die ("receiver address");
      g_object_unref (a);
    }
  rx.stop_fd = eventfd (0, EFD_CLOEXEC);
  if (rx.stop_fd < 0)
    die ("eventfd");
  sem_init (&rx.go, 0, 0);
  sem_init (&rx.done, 0, 0);
}

/* Reads everything queued on receiver socket @i and checks it. */
static void
receiver_drain_fd (int i)
{
  enum { VLEN = 64 };
  static guint8 bufs[VLEN][2048];
  struct mmsghdr mm[VLEN];
  struct iovec iov[VLEN];

  for (;;)
    {
      for (int k = 0; k < VLEN; k++)
        {
          iov[k] = (struct iovec){ bufs[k], sizeof bufs[k] };
          memset (&mm[k], 0, sizeof mm[k]);
          mm[k].msg_hdr.msg_iov = &iov[k];
          mm[k].msg_hdr.msg_iovlen = 1;
        }
      int n = recvmmsg (rx.fds[i], mm, VLEN, MSG_DONTWAIT, NULL);
      if (n < 0)
        {
          if (errno == EAGAIN || errno == EINTR)
            return;
          die ("recvmmsg");
        }
      pthread_mutex_lock (&rx.lock);
      guint64 got = 0;
      for (int k = 0; k < n; k++)
        {
          guint64 seq;
          if (mm[k].msg_len < sizeof seq)
            {
              rx.strays++;
              continue;
            }
          memcpy (&seq, bufs[k], sizeof seq);
          if (seq < rx.base || seq >= rx.base + rx.len)
            {
              rx.strays++;
              continue;
            }
          if (mm[k].msg_len != rx.expect_len)
            rx.bad_len++;
          guint64 idx = seq - rx.base;
          if (rx.seen[idx])
            rx.dups++;
          else
            {
              rx.seen[idx] = 1;
              got++;
            }
        }
      if (got)
        atomic_fetch_add_explicit (&rx.received, got, memory_order_release);
      pthread_mutex_unlock (&rx.lock);
      if (n < VLEN)
        return;
    }
}

static void *
receiver_main (void *data)
{
  (void) data;
  struct pollfd pfd[MAX_DESTS + 1];

  for (int i = 0; i < MAX_DESTS; i++)
    pfd[i] = (struct pollfd){ .fd = rx.fds[i], .events = POLLIN };
  pfd[MAX_DESTS] = (struct pollfd){ .fd = rx.stop_fd, .events = POLLIN };

  if (rx.alternate)
    {
      /* Drains only while the sender is not sending: woken by `go` after a
       * burst, reads until it has `target` datagrams of the run (or nothing
       * came for 200 ms), then posts `done`. */
      for (;;)
        {
          while (sem_wait (&rx.go) < 0)
            ;
          if (atomic_load (&rx.stop))
            return NULL;
          guint64 target = atomic_load (&rx.target);
          while (atomic_load_explicit (&rx.received, memory_order_acquire) < target)
            {
              int r = poll (pfd, MAX_DESTS, 200);
              if (r < 0)
                {
                  if (errno == EINTR)
                    continue;
                  die ("poll");
                }
              if (r == 0)
                break; /* quiet for 200 ms: the rest is lost */
              for (int i = 0; i < MAX_DESTS; i++)
                if (pfd[i].revents & POLLIN)
                  receiver_drain_fd (i);
            }
          sem_post (&rx.done);
        }
    }

  /* Concurrent: drains whenever anything arrives. */
  for (;;)
    {
      int r = poll (pfd, MAX_DESTS + 1, -1);
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          die ("poll");
        }
      if (pfd[MAX_DESTS].revents)
        return NULL;
      for (int i = 0; i < MAX_DESTS; i++)
        if (pfd[i].revents & POLLIN)
          receiver_drain_fd (i);
    }
}

G_GNUC_UNUSED static void
receiver_start (void)
{
  if (pthread_create (&rx.thread, NULL, receiver_main, NULL) != 0)
    die ("pthread_create");
  rx.running = TRUE;
}

static void
receiver_stop (void)
{
  if (rx.running)
    {
      guint64 one = 1;
      atomic_store (&rx.stop, 1);
      sem_post (&rx.go);
      if (write (rx.stop_fd, &one, sizeof one) != sizeof one)
        die ("write eventfd");
      pthread_join (rx.thread, NULL);
      rx.running = FALSE;
    }
  for (int i = 0; i < MAX_DESTS; i++)
    close (rx.fds[i]);
  close (rx.stop_fd);
  g_free (rx.seen);
}

/* Starts a run: datagrams base .. base+len-1 are expected. */
G_GNUC_UNUSED static void
receiver_begin_run (guint64 base, guint64 len, gsize expect_len)
{
  pthread_mutex_lock (&rx.lock);
  if (rx.seen_alloc < len)
    {
      g_free (rx.seen);
      rx.seen = g_malloc0 (len);
      rx.seen_alloc = len;
    }
  else
    memset (rx.seen, 0, len);
  rx.base = base;
  rx.len = len;
  rx.expect_len = expect_len;
  rx.dups = 0;
  rx.bad_len = 0;
  atomic_store (&rx.received, 0);
  pthread_mutex_unlock (&rx.lock);
}

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

/* Waits until the receiver has @target datagrams of this run or nothing
 * arrived for @quiet_us. Returns what it has. */
G_GNUC_UNUSED static guint64
receiver_wait (guint64 target, gint64 quiet_us)
{
  guint64 last = atomic_load_explicit (&rx.received, memory_order_acquire);
  gint64 last_change = now_us ();
  unsigned spins = 0;
  while (last < target)
    {
      if (spins++ < 200)
        sched_yield ();
      else
        g_usleep (20);
      guint64 cur = atomic_load_explicit (&rx.received, memory_order_acquire);
      if (cur != last)
        {
          last = cur;
          last_change = now_us ();
          spins = 0;
        }
      else if (now_us () - last_change > quiet_us)
        break;
    }
  return last;
}

/* ------------------------------------------------------------------ */
/* A batch: the messages of one case, as GIO and as the raw loop see them */

typedef struct {
  const Case *c;
  guint n; /* messages held: max(n_msgs, BURST_DGRAMS) */
  guint8 **bufs;
  GOutputVector *vecs;       /* one per message, in one array (raw reads these) */
  GOutputVector *apart_vecs; /* "-apart" cases: the messages' own, every other slot */
  GOutputMessage *msgs;
  GSocketAddress *addrs[MAX_DESTS];
  /* raw */
  struct sockaddr_in **sa; /* per message */
  struct mmsghdr *mm;
  struct iovec *iov;
  guint8 (*cbuf)[CMSG_SPACE (sizeof (guint16))];
} Batch;

static Batch *
batch_new (const Case *c)
{
  Batch *b = g_new0 (Batch, 1);
  b->c = c;
  b->n = MAX (c->n_msgs, BURST_DGRAMS);
  b->bufs = g_new0 (guint8 *, b->n);
  b->vecs = g_new0 (GOutputVector, b->n);
  /* Every other slot, so that no message's vector follows the previous. */
  b->apart_vecs = c->apart ? g_new0 (GOutputVector, 2 * b->n) : NULL;
  b->msgs = g_new0 (GOutputMessage, b->n);
  b->sa = g_new0 (struct sockaddr_in *, b->n);
  b->mm = g_new0 (struct mmsghdr, b->n);
  b->iov = g_new0 (struct iovec, b->n);
  b->cbuf = g_malloc0 (sizeof *b->cbuf * b->n);
  for (guint d = 0; d < c->n_dests; d++)
    {
      GInetAddress *ia = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      b->addrs[d] = g_inet_socket_address_new (ia, ntohs (rx.sins[d].sin_port));
      g_object_unref (ia);
    }
  for (guint i = 0; i < b->n; i++)
    {
      guint d = i % c->n_dests;
      b->bufs[i] = g_malloc0 (c->size);
      memset (b->bufs[i] + 8, 'a' + (i % 26), c->size - 8);
      b->vecs[i].buffer = b->bufs[i];
      b->vecs[i].size = c->size;
      GOutputVector *v = &b->vecs[i];
      if (c->apart)
        {
          v = &b->apart_vecs[2 * i];
          *v = b->vecs[i];
        }
      b->msgs[i].address = b->addrs[d];
      b->msgs[i].vectors = v;
      b->msgs[i].num_vectors = 1;
      b->sa[i] = &rx.sins[d];
    }
  return b;
}

static void
batch_free (Batch *b)
{
  for (guint i = 0; i < b->n; i++)
    g_free (b->bufs[i]);
  for (guint d = 0; d < b->c->n_dests; d++)
    g_object_unref (b->addrs[d]);
  g_free (b->bufs);
  g_free (b->vecs);
  g_free (b->apart_vecs);
  g_free (b->msgs);
  g_free (b->sa);
  g_free (b->mm);
  g_free (b->iov);
  g_free (b->cbuf);
  g_free (b);
}

G_GNUC_UNUSED static void
batch_set_seq (Batch *b, guint first, guint count, guint64 seq)
{
  for (guint i = 0; i < count; i++, seq++)
    memcpy (b->bufs[first + i], &seq, sizeof seq);
}

/* ------------------------------------------------------------------ */
/* Senders                                                              */

typedef struct {
  GSocket *gio, *gsend, *nogso;
  int raw_fd;
} Senders;

static GSocket *
new_udp_socket (void)
{
  return gt_udp_socket (G_SOCKET_FAMILY_IPV4);
}

/* --gso-max-bytes: the cap set on the gsend variant's socket (0: none). */
static guint gso_max_bytes;

static void
senders_open (Senders *s)
{
  s->gio = new_udp_socket ();
  s->gsend = new_udp_socket ();
  if (gso_max_bytes)
    gsend_socket_set_gso_max_bytes (s->gsend, gso_max_bytes);
  s->nogso = new_udp_socket ();
  gsend_socket_set_gso (s->nogso, FALSE);
  if (gsend_socket_get_gso (s->nogso))
    {
      fprintf (stderr, "gsend-bench: gsend_socket_set_gso(FALSE) did not stick\n");
      exit (2);
    }
  s->raw_fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s->raw_fd < 0)
    die ("socket");
}

static void
senders_close (Senders *s)
{
  g_object_unref (s->gio);
  g_object_unref (s->gsend);
  g_object_unref (s->nogso);
  close (s->raw_fd);
}

static void
send_failed (const char *who, GError *error)
{
  fprintf (stderr, "gsend-bench: %s failed: %s\n", who, error ? error->message : "?");
  exit (2);
}

/* The hand-written floor: runs of equal-size datagrams to one address go
 * out as one UDP_SEGMENT message (at most 64 segments, 65507 bytes), all
 * messages in one sendmmsg. */
static inline guint
raw_build (Batch *b, guint first, guint n)
{
  guint nm = 0;
  guint i = first, end = first + n;
  while (i < end)
    {
      struct sockaddr_in *dst = b->sa[i];
      gsize size = b->vecs[i].size;
      gsize total = size;
      guint j = i + 1;
      while (j < end && j - i < GSO_MAX_SEGS && b->sa[j] == dst &&
             b->vecs[j].size == size && total + size <= GSO_MAX_BYTES)
        {
          total += size;
          j++;
        }
      struct msghdr *h = &b->mm[nm].msg_hdr;
      h->msg_name = dst;
      h->msg_namelen = sizeof *dst;
      h->msg_iov = &b->iov[i];
      h->msg_iovlen = j - i;
      h->msg_flags = 0;
      for (guint k = i; k < j; k++)
        {
          b->iov[k].iov_base = (void *) b->vecs[k].buffer;
          b->iov[k].iov_len = b->vecs[k].size;
        }
      if (j - i > 1)
        {
          struct cmsghdr *cm = (struct cmsghdr *) b->cbuf[nm];
          cm->cmsg_level = SOL_UDP;
          cm->cmsg_type = UDP_SEGMENT;
          cm->cmsg_len = CMSG_LEN (sizeof (guint16));
          guint16 seg = (guint16) size;
          memcpy (CMSG_DATA (cm), &seg, sizeof seg);
          h->msg_control = cm;
          h->msg_controllen = CMSG_SPACE (sizeof (guint16));
        }
      else
        {
          h->msg_control = NULL;
          h->msg_controllen = 0;
        }
      nm++;
      i = j;
    }
  return nm;
}

/* Not inlined: like the library calls it is compared with, it is a call
 * (and callgrind.sh counts it apart from the benchmark's own code). */
static G_GNUC_NO_INLINE void
raw_send (int fd, Batch *b, guint first, guint n)
{
  guint nm = raw_build (b, first, n);
  guint done = 0;
  while (done < nm)
    {
      int r = sendmmsg (fd, b->mm + done, nm - done, 0);
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          die ("sendmmsg");
        }
      done += r;
    }
}

/* Sends messages first .. first+n-1 with one variant (retrying the rest if a
 * call sends fewer, which blocking sockets do not). */
static inline void
send_batch (Senders *s, Variant v, Batch *b, guint first, guint n)
{
  GError *error = NULL;
  guint done = 0;
  switch (v)
    {
    case V_GIO:
      while (done < n)
        {
          gint r = g_socket_send_messages (s->gio, b->msgs + first + done, n - done,
                                           0, NULL, &error);
          if (r <= 0)
            send_failed ("g_socket_send_messages", error);
          done += r;
        }
      break;
    case V_GSEND:
    case V_GSEND_NOGSO:
      while (done < n)
        {
          gint r = gsend_socket_send_messages (v == V_GSEND ? s->gsend : s->nogso,
                                               b->msgs + first + done, n - done,
                                               0, NULL, &error);
          if (r <= 0)
            send_failed ("gsend_socket_send_messages", error);
          done += r;
        }
      break;
    case V_RAW:
      raw_send (s->raw_fd, b, first, n);
      break;
    default:
      g_assert_not_reached ();
    }
}

G_GNUC_UNUSED static double
thread_cpu_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#ifndef GSEND_BENCH_ALLOC_CHECK

/* ------------------------------------------------------------------ */
/* The table                                                            */

typedef struct {
  double rate;   /* datagrams per CPU-second */
  guint64 lost;  /* sent but not received */
  guint64 dups;
  guint64 bad;   /* wrong length */
} RunResult;

static guint64 next_seq = 1;

static RunResult
run_one (Senders *s, Variant v, Batch *b, guint bursts)
{
  const Case *c = b->c;
  guint calls_per_burst = MAX (1u, BURST_DGRAMS / c->n_msgs);
  guint dgrams_per_burst = calls_per_burst * c->n_msgs;
  guint64 total = (guint64) bursts * dgrams_per_burst;
  guint64 base = next_seq;
  RunResult res = { 0 };

  receiver_begin_run (base, total, c->size);
  double cpu = 0;
  guint64 sent = 0;
  guint64 got = 0;
  for (guint k = 0; k < bursts; k++)
    {
      /* Pace: the receiver has everything sent so far before the next
       * burst, so its buffers never overflow. Not timed. */
      if (!rx.alternate)
        receiver_wait (sent, 200 * 1000);
      batch_set_seq (b, 0, dgrams_per_burst, base + sent);
      double t0 = thread_cpu_ns ();
      for (guint call = 0; call < calls_per_burst; call++)
        send_batch (s, v, b, call * c->n_msgs, c->n_msgs);
      double t1 = thread_cpu_ns ();
      cpu += t1 - t0;
      sent += dgrams_per_burst;
      if (rx.alternate)
        {
          /* The receiver drains now, while the sender waits. */
          atomic_store (&rx.target, sent);
          sem_post (&rx.go);
          while (sem_wait (&rx.done) < 0)
            ;
          got = atomic_load_explicit (&rx.received, memory_order_acquire);
        }
    }
  if (!rx.alternate)
    got = receiver_wait (total, 500 * 1000);
  next_seq += total;
  pthread_mutex_lock (&rx.lock);
  res.dups = rx.dups;
  res.bad = rx.bad_len;
  pthread_mutex_unlock (&rx.lock);
  res.lost = total - got;
  res.rate = cpu > 0 ? total / (cpu / 1e9) : 0;
  return res;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
run_table (guint rounds, guint bursts, gboolean spread, gboolean concurrent)
{
  Senders s;
  receiver_open (TRUE);
  rx.alternate = !concurrent;
  receiver_start ();
  senders_open (&s);
  if (!gsend_socket_get_gso (s.gsend))
    fprintf (stderr, "gsend-bench: note: gsend reports GSO unavailable on this socket\n");

  Batch *batches[N_CASES];
  for (guint ci = 0; ci < N_CASES; ci++)
    batches[ci] = batch_new (&cases[ci]);

  double *rates = g_new0 (double, N_CASES * N_VARIANTS * rounds);
  guint64 lost[N_CASES][N_VARIANTS] = { { 0 } };
  guint64 dups[N_CASES][N_VARIANTS] = { { 0 } };
  guint64 bad[N_CASES][N_VARIANTS] = { { 0 } };
  guint64 sent_total[N_CASES][N_VARIANTS] = { { 0 } };

  /* Warm-up: one short run of everything. */
  for (guint ci = 0; ci < N_CASES; ci++)
    for (guint v = 0; v < N_VARIANTS; v++)
      run_one (&s, v, batches[ci], 4);

  /* Interleaved: every round runs every case with every variant, the
   * variant order rotating from round to round. */
  for (guint r = 0; r < rounds; r++)
    for (guint ci = 0; ci < N_CASES; ci++)
      for (guint vv = 0; vv < N_VARIANTS; vv++)
        {
          guint v = (vv + r) % N_VARIANTS;
          RunResult rr = run_one (&s, v, batches[ci], bursts);
          rates[(ci * N_VARIANTS + v) * rounds + r] = rr.rate;
          lost[ci][v] += rr.lost;
          dups[ci][v] += rr.dups;
          bad[ci][v] += rr.bad;
          sent_total[ci][v] += (guint64) bursts * BURST_DGRAMS;
        }

  printf ("Datagrams per CPU-second of the sending thread (millions), median of %u "
          "rounds, %u datagrams per run; lost = datagrams not received "
          "(GIO/gsend/GSO off/raw, over all rounds);\nratios are medians of the "
          "per-round ratios; receiver %s\n\n",
          rounds, bursts * BURST_DGRAMS,
          concurrent ? "draining concurrently with the sends (--concurrent)"
                     : "draining between bursts of 64 datagrams");
  printf ("| case | GIO | gsend | gsend GSO off | raw | gsend/GIO | gsend/raw | lost |\n");
  printf ("|---|---:|---:|---:|---:|---:|---:|---|\n");
  guint64 any_problem = 0;
  for (guint ci = 0; ci < N_CASES; ci++)
    {
      double med[N_VARIANTS];
      /* Ratios: median over rounds of the ratio within each round (the
       * runs of one round are seconds apart, so load that comes and goes
       * on a shared machine mostly cancels out). */
      double *vs_gio = g_new (double, rounds), *vs_raw = g_new (double, rounds);
      for (guint r = 0; r < rounds; r++)
        {
          double g = rates[(ci * N_VARIANTS + V_GSEND) * rounds + r];
          vs_gio[r] = g / rates[(ci * N_VARIANTS + V_GIO) * rounds + r];
          vs_raw[r] = g / rates[(ci * N_VARIANTS + V_RAW) * rounds + r];
        }
      double ratio_gio = median (vs_gio, rounds), ratio_raw = median (vs_raw, rounds);
      g_free (vs_gio);
      g_free (vs_raw);
      for (guint v = 0; v < N_VARIANTS; v++)
        med[v] = median (&rates[(ci * N_VARIANTS + v) * rounds], rounds);
      printf ("| %s | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f | %" G_GUINT64_FORMAT
              "/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " |\n",
              cases[ci].label, med[V_GIO] / 1e6, med[V_GSEND] / 1e6,
              med[V_GSEND_NOGSO] / 1e6, med[V_RAW] / 1e6, ratio_gio, ratio_raw,
              lost[ci][V_GIO], lost[ci][V_GSEND], lost[ci][V_GSEND_NOGSO], lost[ci][V_RAW]);
      for (guint v = 0; v < N_VARIANTS; v++)
        {
          any_problem += lost[ci][v] + dups[ci][v] + bad[ci][v];
          if (dups[ci][v] || bad[ci][v])
            printf ("  %s/%s: %" G_GUINT64_FORMAT " duplicated, %" G_GUINT64_FORMAT
                    " wrong length\n",
                    cases[ci].name, variant_names[v], dups[ci][v], bad[ci][v]);
        }
    }
  if (spread)
    {
      printf ("\nSpread over rounds (min .. max, millions of datagrams per CPU-second)\n\n"
              "| case | GIO | gsend | gsend GSO off | raw |\n|---|---|---|---|---|\n");
      for (guint ci = 0; ci < N_CASES; ci++)
        {
          printf ("| %s |", cases[ci].label);
          for (guint v = 0; v < N_VARIANTS; v++)
            {
              double *r = &rates[(ci * N_VARIANTS + v) * rounds]; /* sorted by median() */
              printf (" %.3f .. %.3f |", r[0] / 1e6, r[rounds - 1] / 1e6);
            }
          printf ("\n");
        }
    }
  if (any_problem)
    printf ("\nWARNING: not every datagram arrived exactly once (see lost column).\n");
  else
    printf ("\nEvery datagram arrived exactly once, with the right length.\n");

  g_free (rates);
  for (guint ci = 0; ci < N_CASES; ci++)
    batch_free (batches[ci]);
  senders_close (&s);
  receiver_stop ();
  /* Loss is reported, not fatal; duplicates or wrong sizes are bugs. */
  for (guint ci = 0; ci < N_CASES; ci++)
    for (guint v = 0; v < N_VARIANTS; v++)
      if (dups[ci][v] || bad[ci][v])
        return 1;
  return 0;
}

/* ------------------------------------------------------------------ */
/* The cost of the run size (--caps)                                    */

/* 64 x 1200 B to one destination: GIO, gsend with its runs capped at 16,
 * 32 and 64 KiB (13, 27 and 54 segments: 5, 3 and 2 sends per call), and
 * gsend without GSO; median over interleaved rounds of datagrams per
 * CPU-second, and each cap's rate relative to 64 KiB within its round. */
static int
run_caps (guint rounds, guint bursts)
{
  static const guint caps[] = { 16384, 32768, 65507 };
  enum { N_CAPS = G_N_ELEMENTS (caps), N_COLS = N_CAPS + 2 };
  Senders s;
  receiver_open (TRUE);
  rx.alternate = TRUE;
  receiver_start ();
  senders_open (&s);
  Batch *b = batch_new (&cases[0]);
  double *rates = g_new0 (double, N_COLS * rounds);
  double *rel = g_new0 (double, N_CAPS * rounds);
  guint64 lost = 0;

  for (guint r = 0; r < rounds; r++)
    for (guint k = 0; k < N_COLS; k++)
      {
        guint col = (k + r) % N_COLS; /* rotating order */
        RunResult res;
        if (col < N_CAPS)
          {
            gsend_socket_set_gso_max_bytes (s.gsend, caps[col]);
            res = run_one (&s, V_GSEND, b, bursts);
          }
        else
          res = run_one (&s, col == N_CAPS ? V_GIO : V_GSEND_NOGSO, b, bursts);
        rates[col * rounds + r] = res.rate;
        lost += res.lost + res.dups + res.bad;
      }
  for (guint r = 0; r < rounds; r++)
    for (guint c = 0; c < N_CAPS; c++)
      rel[c * rounds + r] = rates[c * rounds + r] / rates[(N_CAPS - 1) * rounds + r];
  printf ("64 x 1200 B to one destination, %u rounds of %u bursts: millions of datagrams per CPU-second\n"
          "(median), and the rate relative to the 64 KiB cap (median of the per-round ratios)\n\n"
          "| sender | sends per call | Mdgram/CPU-s | vs 64 KiB |\n|---|---:|---:|---:|\n", rounds, bursts);
  for (guint c = 0; c < N_CAPS; c++)
    {
      guint segs = caps[c] / 1200;
      printf ("| gsend, cap %u | %u | %.2f | %.3f |\n", caps[c], (64 + segs - 1) / segs,
              median (rates + c * rounds, rounds) / 1e6, median (rel + c * rounds, rounds));
    }
  printf ("| GIO | 64 | %.2f | |\n", median (rates + N_CAPS * rounds, rounds) / 1e6);
  printf ("| gsend, GSO off | 64 | %.2f | |\n", median (rates + (N_CAPS + 1) * rounds, rounds) / 1e6);
  if (lost)
    printf ("\n%" G_GUINT64_FORMAT " datagrams lost, doubled or of the wrong length\n", lost);
  g_free (rates);
  g_free (rel);
  batch_free (b);
  senders_close (&s);
  receiver_stop ();
  return lost ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Callgrind mode                                                       */

static int
run_callgrind (const char *case_name, const char *variant_name, guint iters)
{
  const Case *c = NULL;
  int v = -1;
  for (guint i = 0; i < N_CASES; i++)
    if (strcmp (cases[i].name, case_name) == 0)
      c = &cases[i];
  for (guint i = 0; i < G_N_ELEMENTS (apart_cases); i++)
    if (strcmp (apart_cases[i].name, case_name) == 0)
      c = &apart_cases[i];
  for (int i = 0; i < N_VARIANTS; i++)
    if (strcmp (variant_names[i], variant_name) == 0)
      v = i;
  if (!c || v < 0)
    {
      fprintf (stderr, "gsend-bench: unknown case or variant\n");
      return 2;
    }
  /* No receiver thread: its instructions must not land in the collection
   * (valgrind runs one thread at a time, and another may run while the
   * sender is in the kernel). Unread datagrams are dropped by the kernel. */
  receiver_open (FALSE);
  Senders s;
  senders_open (&s);
  Batch *b = batch_new (c);
  guint calls_per_burst = MAX (1u, BURST_DGRAMS / c->n_msgs);
  guint64 seq = 1;

  /* Warm-up, not collected. */
  for (guint k = 0; k < 50; k++)
    for (guint call = 0; call < calls_per_burst; call++)
      send_batch (&s, v, b, call * c->n_msgs, c->n_msgs);

  GError *error = NULL;
  guint done = 0;
  while (done < iters)
    {
      guint calls = MIN (calls_per_burst, iters - done);
      batch_set_seq (b, 0, calls * c->n_msgs, seq);
      seq += calls * c->n_msgs;
      for (guint call = 0; call < calls; call++)
        {
          GOutputMessage *m = b->msgs + call * c->n_msgs;
          gint r = 0;
          switch (v)
            {
            case V_GIO:
              CALLGRIND_TOGGLE_COLLECT;
              r = g_socket_send_messages (s.gio, m, c->n_msgs, 0, NULL, &error);
              CALLGRIND_TOGGLE_COLLECT;
              break;
            case V_GSEND:
              CALLGRIND_TOGGLE_COLLECT;
              r = gsend_socket_send_messages (s.gsend, m, c->n_msgs, 0, NULL, &error);
              CALLGRIND_TOGGLE_COLLECT;
              break;
            case V_GSEND_NOGSO:
              CALLGRIND_TOGGLE_COLLECT;
              r = gsend_socket_send_messages (s.nogso, m, c->n_msgs, 0, NULL, &error);
              CALLGRIND_TOGGLE_COLLECT;
              break;
            case V_RAW:
              CALLGRIND_TOGGLE_COLLECT;
              raw_send (s.raw_fd, b, call * c->n_msgs, c->n_msgs);
              CALLGRIND_TOGGLE_COLLECT;
              r = c->n_msgs;
              break;
            }
          if (r != (gint) c->n_msgs)
            send_failed (variant_names[v], error);
        }
      done += calls;
    }
  printf ("case %s variant %s calls %u datagrams %" G_GUINT64_FORMAT "\n",
          c->name, variant_names[v], iters, (guint64) iters * c->n_msgs);
  batch_free (b);
  senders_close (&s);
  receiver_stop ();
  return 0;
}

int
main (int argc, char **argv)
{
  guint rounds = 10, bursts = 300;
  gboolean spread = FALSE, concurrent = FALSE, caps = FALSE;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--gso-max-bytes") == 0 && i + 1 < argc)
        gso_max_bytes = (guint) atoi (argv[++i]);
      else if (strcmp (argv[i], "--caps") == 0)
        caps = TRUE;
      else if (strcmp (argv[i], "--callgrind") == 0 && i + 3 < argc)
        return run_callgrind (argv[i + 1], argv[i + 2], (guint) atoi (argv[i + 3]));
      else if (strcmp (argv[i], "--quick") == 0)
        {
          rounds = 2;
          bursts = 10;
        }
      else if (strcmp (argv[i], "--spread") == 0)
        spread = TRUE;
      else if (strcmp (argv[i], "--concurrent") == 0)
        concurrent = TRUE;
      else if (strcmp (argv[i], "--rounds") == 0 && i + 1 < argc)
        {
          int x = atoi (argv[++i]);
          rounds = MAX (1, x);
        }
      else if (strcmp (argv[i], "--bursts") == 0 && i + 1 < argc)
        {
          int x = atoi (argv[++i]);
          bursts = MAX (1, x);
        }
      else
        {
          fprintf (stderr,
                   "usage: %s [--rounds R] [--bursts B] [--quick] [--spread] [--concurrent] [--caps]\n"
                   "       %s [--gso-max-bytes N] --callgrind CASE VARIANT N\n"
                   "CASE: one-1200 one-100 many-1200 single-1200 one-1200-apart one-100-apart\n"
                   "VARIANT: gio gsend gsend-nogso raw\n",
                   argv[0], argv[0]);
          return 2;
        }
    }
  if (caps)
    return run_caps (rounds, bursts);
  return run_table (rounds, bursts, spread, concurrent);
}

#else /* GSEND_BENCH_ALLOC_CHECK */

/* ------------------------------------------------------------------ */
/* Allocation check: malloc and friends are interposed by this executable
 * (exported with -rdynamic, so GLib and libgsend bind to them) and count
 * while `counting` is set. The process has one thread here. */

extern void *__libc_malloc (size_t);
extern void *__libc_calloc (size_t, size_t);
extern void *__libc_realloc (void *, size_t);
extern void *__libc_memalign (size_t, size_t);
extern void __libc_free (void *);

static volatile int counting;
static volatile unsigned long n_allocs, n_frees;

void *
malloc (size_t size)
{
  if (counting)
    n_allocs++;
  return __libc_malloc (size);
}

void *
calloc (size_t n, size_t size)
{
  if (counting)
    n_allocs++;
  return __libc_calloc (n, size);
}

void *
realloc (void *p, size_t size)
{
  if (counting)
    n_allocs++;
  return __libc_realloc (p, size);
}

void *
memalign (size_t align, size_t size)
{
  if (counting)
    n_allocs++;
  return __libc_memalign (align, size);
}

void *
aligned_alloc (size_t align, size_t size)
{
  if (counting)
    n_allocs++;
  return __libc_memalign (align, size);
}

int
posix_memalign (void **out, size_t align, size_t size)
{
  if (counting)
    n_allocs++;
  void *p = __libc_memalign (align, size);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}

void
free (void *p)
{
  if (counting && p)
    n_frees++;
  __libc_free (p);
}

#define ALLOC_CALLS 10000
#define ALLOC_CALLS_BIG 100

/* What count_allocs calls: a variant of send_batch, or one of gsend's other
 * entry points. */
enum { A_DATAGRAM_BASED = N_VARIANTS, A_SEND_MESSAGE };

static void
alloc_send (Senders *s, int mode, Batch *b)
{
  const Case *c = b->c;
  GError *error = NULL;
  if (mode == A_DATAGRAM_BASED)
    {
      guint done = 0;
      while (done < c->n_msgs)
        {
          gint r = gsend_datagram_based_send_messages (G_DATAGRAM_BASED (s->gsend),
                                                       b->msgs + done, c->n_msgs - done,
                                                       0, -1, NULL, &error);
          if (r <= 0)
            send_failed ("gsend_datagram_based_send_messages", error);
          done += r;
        }
    }
  else if (mode == A_SEND_MESSAGE)
    {
      gssize r = gsend_socket_send_message (s->gsend, b->msgs[0].address, b->msgs[0].vectors,
                                            1, NULL, 0, 0, NULL, &error);
      if (r != (gssize) c->size)
        send_failed ("gsend_socket_send_message", error);
    }
  else
    send_batch (s, mode, b, 0, c->n_msgs);
}

static unsigned long
count_allocs (Senders *s, int mode, Batch *b, guint calls)
{
  for (guint k = 0; k < 100; k++) /* warm-up */
    alloc_send (s, mode, b);
  n_allocs = 0;
  n_frees = 0;
  counting = 1;
  for (guint k = 0; k < calls; k++)
    alloc_send (s, mode, b);
  counting = 0;
  return n_allocs;
}

int
main (int argc, char **argv)
{
  (void) argc;
  (void) argv;
  /* The interposer must be the one in use, or the check proves nothing. */
  counting = 1;
  void *probe = g_malloc (16);
  counting = 0;
  g_free (probe);
  if (n_allocs != 1)
    {
      fprintf (stderr, "alloc-check: malloc interposer not active (%lu)\n", n_allocs);
      return 2;
    }

  receiver_open (FALSE);
  Senders s;
  senders_open (&s);
  int failed = 0;

  /* Control: a gsend call that fails (a datagram larger than UDP allows)
   * builds a GError; the counter must see that, or a zero below would not
   * mean anything. */
  {
    static guint8 huge[70000];
    GOutputVector hv = { huge, sizeof huge };
    GInetAddress *ia = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    GSocketAddress *sa = g_inet_socket_address_new (ia, ntohs (rx.sins[0].sin_port));
    GOutputMessage hm = { sa, &hv, 1, 0, NULL, 0 };
    GError *error = NULL;
    n_allocs = 0;
    counting = 1;
    gint r = gsend_socket_send_messages (s.gsend, &hm, 1, 0, NULL, &error);
    counting = 0;
    if (r != -1 || error == NULL || n_allocs == 0)
      {
        fprintf (stderr, "alloc-check: control failed (r=%d, error=%s, %lu allocations)\n",
                 r, error ? error->message : "none", n_allocs);
        return 2;
      }
    printf ("control: a failing gsend call (EMSGSIZE) made %lu heap allocations: "
            "the counter sees allocations inside gsend\n\n", n_allocs);
    g_clear_error (&error);
    g_object_unref (sa);
    g_object_unref (ia);
  }

  printf ("Heap allocations per call in steady state (%d calls of each 64-message\n"
          "case, %d of each 1024-message case, after 100 warm-up calls)\n\n",
          ALLOC_CALLS, ALLOC_CALLS_BIG);
  printf ("| case | GIO | gsend | gsend GSO off | gsend datagram_based |\n"
          "|---|---:|---:|---:|---:|\n");
  /* The cases, the same with vectors apart, the 1024-message batches. */
  for (guint pass = 0; pass < 3; pass++)
    {
      const Case *list = pass == 0 ? cases : pass == 1 ? apart_cases : big_cases;
      guint n = pass == 0 ? N_CASES : pass == 1 ? G_N_ELEMENTS (apart_cases) : G_N_ELEMENTS (big_cases);
      for (guint ci = 0; ci < n; ci++)
        {
          Batch *b = batch_new (&list[ci]);
          unsigned long a[4];
          guint calls = pass == 2 ? ALLOC_CALLS_BIG : ALLOC_CALLS;
          a[0] = count_allocs (&s, V_GIO, b, calls);
          a[1] = count_allocs (&s, V_GSEND, b, calls);
          a[2] = count_allocs (&s, V_GSEND_NOGSO, b, calls);
          a[3] = count_allocs (&s, A_DATAGRAM_BASED, b, calls);
          printf ("| %s | %.4f | %.4f | %.4f | %.4f |\n", list[ci].label,
                  a[0] / (double) calls, a[1] / (double) calls, a[2] / (double) calls,
                  a[3] / (double) calls);
          if (a[1] || a[2] || a[3])
            {
              printf ("  rule 17 FAILED: gsend made %lu (GSO on) / %lu (GSO off) / %lu "
                      "(datagram_based) heap allocations in %u calls of %s\n",
                      a[1], a[2], a[3], calls, list[ci].name);
              failed = 1;
            }
          if (list[ci].n_msgs == 1)
            {
              unsigned long one = count_allocs (&s, A_SEND_MESSAGE, b, calls);
              printf ("| %s, gsend_socket_send_message | | %.4f | | |\n", list[ci].label,
                      one / (double) calls);
              if (one)
                {
                  printf ("  rule 17 FAILED: gsend_socket_send_message made %lu heap "
                          "allocations in %u calls\n", one, calls);
                  failed = 1;
                }
            }
          batch_free (b);
        }
    }
  senders_close (&s);
  receiver_stop ();
  printf (failed ? "\nFAIL\n" : "\nPASS: gsend makes no heap allocation per call (rule 17)\n");
  return failed;
}

#endif
