/* nice-pair: a libnice sender and receiver for bench/real-programs.sh.
 *
 * Two NiceAgents in one process, each with its own GMainContext run by its
 * own thread, only host candidates on 127.0.0.1 (no STUN, no TURN, no UPnP,
 * no TCP). The main thread hands each agent the other's credentials and
 * candidates, waits until both components are ready, then sends BATCHES
 * batches of BATCH datagrams of SIZE bytes from agent A with
 * nice_agent_send_messages_nonblocking (libnice sends them through GIO's
 * g_socket_send_message, which the preload library replaces).
 *
 * Agent B checks every datagram as it arrives: its length, and the sequence
 * number in its first 8 bytes (loopback keeps the order). The sender keeps
 * at most WINDOW datagrams in flight (B's receive buffer is enlarged too,
 * to 64 MiB or --rcvbuf),
 * so that nothing is dropped; a run that loses datagrams says so.
 *
 * Output (one line): sent, received, lost, damaged, and the CPU time
 * (getrusage) of the sending thread alone and of the whole process during
 * the sending phase. Exit status 0 when every datagram arrived intact.
 */
#define _GNU_SOURCE
#include <nice/agent.h>

#include <gio/gio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define STREAM_COMPONENT 1

typedef struct
{
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
  NiceAgent *agent;
  guint stream;
} Side;

/* Receiver state, touched by B's thread; counters read by the sender. */
static guint64 expected_seq;
static gsize datagram_size;
static _Atomic guint64 received;
static guint64 received_bytes;
static guint64 damaged;
static guint64 missing;
static GMutex progress_lock;
static GCond progress_cond;

static gpointer
run_loop (gpointer data)
{
  Side *side = data;
  g_main_context_push_thread_default (side->ctx);
  g_main_loop_run (side->loop);
  g_main_context_pop_thread_default (side->ctx);
  return NULL;
}

static void
on_receive_b (NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
              gpointer user_data)
{
  (void) agent;
  (void) stream_id;
  (void) component_id;
  (void) user_data;
  guint64 seq = G_MAXUINT64;
  if (len >= 8)
    memcpy (&seq, buf, 8);
  if (len != datagram_size)
    damaged++;
  if (seq != expected_seq)
    {
      if (seq > expected_seq && seq != G_MAXUINT64)
        missing += seq - expected_seq;
      else
        damaged++;
    }
  if (seq != G_MAXUINT64 && seq >= expected_seq)
    expected_seq = seq + 1;
  received_bytes += len;
  guint64 now = atomic_fetch_add (&received, 1) + 1;
  if ((now & 255) == 0)
    {
      g_mutex_lock (&progress_lock);
      g_cond_broadcast (&progress_cond);
      g_mutex_unlock (&progress_lock);
    }
}

static void
on_receive_a (NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
              gpointer user_data)
{
  /* A only sends; anything that reaches it is ignored. */
  (void) agent;
  (void) stream_id;
  (void) component_id;
  (void) len;
  (void) buf;
  (void) user_data;
}

static void
side_init (Side *side, gboolean controlling, NiceAgentRecvFunc recv_func)
{
  side->ctx = g_main_context_new ();
  side->loop = g_main_loop_new (side->ctx, FALSE);
  side->agent = nice_agent_new_full (side->ctx, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_NONE);
  g_object_set (side->agent, "controlling-mode", controlling, "upnp", FALSE, "ice-tcp", FALSE,
                "ice-udp", TRUE, NULL);
  NiceAddress local;
  nice_address_init (&local);
  if (!nice_address_set_from_string (&local, "127.0.0.1"))
    g_error ("nice-pair: cannot parse 127.0.0.1");
  nice_agent_add_local_address (side->agent, &local);
  side->stream = nice_agent_add_stream (side->agent, 1);
  if (side->stream == 0)
    g_error ("nice-pair: nice_agent_add_stream failed");
  nice_agent_attach_recv (side->agent, side->stream, STREAM_COMPONENT, side->ctx, recv_func, NULL);
  if (!nice_agent_gather_candidates (side->agent, side->stream))
    g_error ("nice-pair: gathering candidates failed");
  side->thread = g_thread_new ("nice-side", run_loop, side);
}

/* Give @to the credentials and host candidates of @from. */
static void
introduce (Side *from, Side *to)
{
  gchar *ufrag = NULL, *pwd = NULL;
  if (!nice_agent_get_local_credentials (from->agent, from->stream, &ufrag, &pwd))
    g_error ("nice-pair: no local credentials");
  nice_agent_set_remote_credentials (to->agent, to->stream, ufrag, pwd);
  g_free (ufrag);
  g_free (pwd);

  GSList *cands = NULL;
  /* Host candidates are known once gathering has been started; wait a
   * little in case this libnice version reports them later. */
  for (int tries = 0; tries < 500 && cands == NULL; tries++)
    {
      cands = nice_agent_get_local_candidates (from->agent, from->stream, STREAM_COMPONENT);
      if (cands == NULL)
        g_usleep (10 * 1000);
    }
  if (cands == NULL)
    g_error ("nice-pair: no local candidates");
  int added = nice_agent_set_remote_candidates (to->agent, to->stream, STREAM_COMPONENT, cands);
  if (added < 1)
    g_error ("nice-pair: remote candidates were not taken");
  g_slist_free_full (cands, (GDestroyNotify) nice_candidate_free);
}

static void
enlarge_buffers (Side *side, int bytes)
{
  GSocket *sock = nice_agent_get_selected_socket (side->agent, side->stream, STREAM_COMPONENT);
  if (sock == NULL)
    return;
  int fd = g_socket_get_fd (sock);
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  g_object_unref (sock);
}

static double
tv_seconds (const struct timeval *tv)
{
  return (double) tv->tv_sec + (double) tv->tv_usec / 1e6;
}

/* Wait until at most @limit datagrams are in flight; FALSE if the receiver
 * made no progress for two seconds (something was lost). */
static gboolean
wait_in_flight (guint64 sent, guint64 limit)
{
  guint64 last = G_MAXUINT64;
  gint64 stalled_since = g_get_monotonic_time ();
  g_mutex_lock (&progress_lock);
  for (;;)
    {
      guint64 got = atomic_load (&received);
      if (sent - got <= limit)
        break;
      gint64 now = g_get_monotonic_time ();
      if (got != last)
        {
          last = got;
          stalled_since = now;
        }
      else if (now - stalled_since > 2 * G_TIME_SPAN_SECOND)
        {
          g_mutex_unlock (&progress_lock);
          return FALSE;
        }
      g_cond_wait_until (&progress_cond, &progress_lock, now + 5 * G_TIME_SPAN_MILLISECOND);
    }
  g_mutex_unlock (&progress_lock);
  return TRUE;
}

int
main (int argc, char **argv)
{
  guint batches = 1922, batch = 100;
  gsize size = 1200;
  guint64 window = 8192;
  int rcvbuf = 64 * 1024 * 1024;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--batches") == 0 && i + 1 < argc)
        batches = (guint) atol (argv[++i]);
      else if (strcmp (argv[i], "--batch") == 0 && i + 1 < argc)
        batch = (guint) atol (argv[++i]);
      else if (strcmp (argv[i], "--size") == 0 && i + 1 < argc)
        size = (gsize) atol (argv[++i]);
      else if (strcmp (argv[i], "--window") == 0 && i + 1 < argc)
        window = (guint64) atol (argv[++i]);
      else if (strcmp (argv[i], "--rcvbuf") == 0 && i + 1 < argc)
        {
          long v = atol (argv[++i]);
          rcvbuf = (int) MIN (v, (long) G_MAXINT);
        }
      else
        {
          fprintf (stderr, "usage: nice-pair [--batches N] [--batch M] [--size BYTES] [--window W] [--rcvbuf BYTES]\n");
          return 2;
        }
    }
  if (batch == 0 || batches == 0 || size < 8 || size > 65000 || window < batch)
    {
      fprintf (stderr, "nice-pair: bad arguments\n");
      return 2;
    }
  datagram_size = size;

  Side a, b;
  side_init (&a, TRUE, on_receive_a);
  side_init (&b, FALSE, on_receive_b);
  introduce (&a, &b);
  introduce (&b, &a);

  /* Both components must be ready (connectivity checks done, pair chosen);
   * bounded. */
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  while (nice_agent_get_component_state (a.agent, a.stream, STREAM_COMPONENT) != NICE_COMPONENT_STATE_READY
         || nice_agent_get_component_state (b.agent, b.stream, STREAM_COMPONENT) != NICE_COMPONENT_STATE_READY)
    {
      if (g_get_monotonic_time () > deadline)
        {
          fprintf (stderr, "nice-pair: the agents did not connect within 20 s\n");
          return 2;
        }
      g_usleep (5 * 1000);
    }
  enlarge_buffers (&b, rcvbuf);

  guchar *store = g_malloc0 ((gsize) batch * size);
  GOutputVector *vecs = g_new0 (GOutputVector, batch);
  NiceOutputMessage *msgs = g_new0 (NiceOutputMessage, batch);
  for (guint k = 0; k < batch; k++)
    {
      memset (store + (gsize) k * size + 8, (int) (k & 0xff), size - 8);
      vecs[k].buffer = store + (gsize) k * size;
      vecs[k].size = size;
      msgs[k].buffers = &vecs[k];
      msgs[k].n_buffers = 1;
    }

  struct rusage t0, t1, p0, p1;
  getrusage (RUSAGE_THREAD, &t0);
  getrusage (RUSAGE_SELF, &p0);
  guint64 seq = 0;
  guint64 would_block = 0;
  gboolean stalled = FALSE;
  for (guint n = 0; n < batches && !stalled; n++)
    {
      for (guint k = 0; k < batch; k++)
        {
          guint64 s = seq + k;
          memcpy (store + (gsize) k * size, &s, 8);
        }
      guint done = 0;
      while (done < batch)
        {
          GError *error = NULL;
          gint r = nice_agent_send_messages_nonblocking (a.agent, a.stream, STREAM_COMPONENT,
                                                         msgs + done, batch - done, NULL, &error);
          if (r < 0)
            {
              if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                {
                  fprintf (stderr, "nice-pair: send failed: %s\n", error->message);
                  return 2;
                }
              g_clear_error (&error);
              would_block++;
              g_thread_yield ();
              continue;
            }
          done += (guint) r;
        }
      seq += batch;
      if (!wait_in_flight (seq, window - batch))
        stalled = TRUE;
    }
  getrusage (RUSAGE_THREAD, &t1);
  getrusage (RUSAGE_SELF, &p1);

  /* Let the last datagrams arrive (bounded by the same stall rule). */
  if (!stalled)
    wait_in_flight (seq, 0);

  g_main_loop_quit (a.loop);
  g_main_loop_quit (b.loop);
  g_thread_join (a.thread);
  g_thread_join (b.thread);

  guint64 got = atomic_load (&received);
  guint64 lost = seq > got ? seq - got : 0;
  double thread_user = tv_seconds (&t1.ru_utime) - tv_seconds (&t0.ru_utime);
  double thread_sys = tv_seconds (&t1.ru_stime) - tv_seconds (&t0.ru_stime);
  double proc_user = tv_seconds (&p1.ru_utime) - tv_seconds (&p0.ru_utime);
  double proc_sys = tv_seconds (&p1.ru_stime) - tv_seconds (&p0.ru_stime);
  printf ("NICE sent %" G_GUINT64_FORMAT " received %" G_GUINT64_FORMAT " bytes %" G_GUINT64_FORMAT
          " lost %" G_GUINT64_FORMAT " gaps %" G_GUINT64_FORMAT " damaged %" G_GUINT64_FORMAT
          " would_block %" G_GUINT64_FORMAT
          " thread_user %.6f thread_sys %.6f process_user %.6f process_sys %.6f %s\n",
          seq, got, received_bytes, lost, missing, damaged, would_block, thread_user, thread_sys,
          proc_user, proc_sys, (lost || missing || damaged || stalled) ? "LOSS-OR-DAMAGE" : "OK");

  g_object_unref (a.agent);
  g_object_unref (b.agent);
  g_main_loop_unref (a.loop);
  g_main_loop_unref (b.loop);
  g_main_context_unref (a.ctx);
  g_main_context_unref (b.ctx);
  g_free (msgs);
  g_free (vecs);
  g_free (store);
  return (lost || missing || damaged || stalled) ? 1 : 0;
}
