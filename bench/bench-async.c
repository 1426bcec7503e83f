/* The asynchronous sends' benchmark (README, "Performance"): CPU time of
 * the sending process per datagram, for 1200-byte UDP datagrams to one
 * loopback destination, four ways in one run:
 *
 *   gio-send-to   GIO's g_socket_send_to, one call per datagram
 *   async-64x1    64 one-datagram gsend_socket_send_datagrams_async calls
 *                 per main-loop iteration (gsend batches them)
 *   sync-64       one gsend_socket_send_datagrams call of 64 per iteration
 *   async-64      one 64-datagram gsend_socket_send_datagrams_async call
 *                 per main-loop iteration
 *
 * CPU time is user + system time of this process (getrusage), which on
 * loopback includes the kernel's delivery; every variant runs ROUNDS
 * times, alternating, and the best round counts. The receiver is never
 * read (datagrams beyond its buffer are dropped at delivery, the same for
 * every variant).
 *
 * usage: gsend-bench-async [--quick] [DATAGRAMS]   (default 640000)
 * Prints one line per variant and the two ratios the README quotes. */
#include <gio/gio.h>
#include <gsend.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define SIZE 1200
#define BATCH 64
#define ROUNDS 5

static GSocket *tx;
static GSocketAddress *to;
static GBytes *datagrams[BATCH];
static guint done;

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
on_sent (GObject *source, GAsyncResult *res, gpointer data)
{
  GError *error = NULL;
  gint n = gsend_socket_send_datagrams_finish (G_SOCKET (source), res, &error);
  if (n < 0)
    g_error ("async send: %s", error->message);
  done += (guint) n;
  (void) data;
}

/* Runs the default main context until @want datagrams were reported. */
static void
wait_done (guint want)
{
  while (done < want)
    g_main_context_iteration (NULL, TRUE);
}

static void
run_gio_send_to (guint iterations)
{
  gsize len;
  const gchar *p = g_bytes_get_data (datagrams[0], &len);
  for (guint it = 0; it < iterations; it++)
    for (guint i = 0; i < BATCH; i++)
      if (g_socket_send_to (tx, to, p, len, NULL, NULL) != (gssize) len)
        g_error ("g_socket_send_to failed");
}

static void
run_async_64x1 (guint iterations)
{
  done = 0;
  for (guint it = 0; it < iterations; it++)
    {
      for (guint i = 0; i < BATCH; i++)
        gsend_socket_send_datagrams_async (tx, to, &datagrams[i], 1, 0, G_PRIORITY_DEFAULT, NULL, on_sent, NULL);
      wait_done ((it + 1) * BATCH);
    }
}

static void
run_sync_64 (guint iterations)
{
  for (guint it = 0; it < iterations; it++)
    if (gsend_socket_send_datagrams (tx, to, datagrams, BATCH, 0, -1, NULL, NULL) != BATCH)
      g_error ("gsend_socket_send_datagrams failed");
}

static void
run_async_64 (guint iterations)
{
  done = 0;
  for (guint it = 0; it < iterations; it++)
    {
      gsend_socket_send_datagrams_async (tx, to, datagrams, BATCH, 0, G_PRIORITY_DEFAULT, NULL, on_sent, NULL);
      wait_done ((it + 1) * BATCH);
    }
}

typedef struct
{
  const char *name;
  void (*run) (guint iterations);
  double best; /* CPU seconds per datagram */
} Variant;

int
main (int argc, char **argv)
{
  gboolean quick = argc > 1 && strcmp (argv[1], "--quick") == 0;
  guint total = quick ? 6400 : 640000;
  if (argc > (quick ? 2 : 1))
    total = (guint) strtoul (argv[argc - 1], NULL, 10);
  guint iterations = MAX (1, total / BATCH);

  GSocket *rx = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *any = g_inet_socket_address_new (lo, 0);
  if (!g_socket_bind (rx, any, FALSE, NULL))
    g_error ("bind failed");
  to = g_socket_get_local_address (rx, NULL);
  tx = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  guint8 payload[SIZE];
  memset (payload, 0x42, sizeof payload);
  for (guint i = 0; i < BATCH; i++)
    datagrams[i] = g_bytes_new (payload, sizeof payload);

  Variant v[] = {
    { "gio-send-to", run_gio_send_to, 1e9 },
    { "async-64x1", run_async_64x1, 1e9 },
    { "sync-64", run_sync_64, 1e9 },
    { "async-64", run_async_64, 1e9 },
  };
  guint nv = G_N_ELEMENTS (v);
  for (guint round = 0; round < (quick ? 1 : ROUNDS); round++)
    for (guint i = 0; i < nv; i++)
      {
        double t0 = cpu_seconds ();
        v[i].run (iterations);
        double per = (cpu_seconds () - t0) / (iterations * (double) BATCH);
        if (per < v[i].best)
          v[i].best = per;
      }

  printf ("datagrams per variant and round: %u of %u bytes, best of %d rounds\n", iterations * BATCH, SIZE,
          quick ? 1 : ROUNDS);
  for (guint i = 0; i < nv; i++)
    printf ("%-12s %8.3f us CPU per datagram  %10.0f datagrams per CPU-second\n", v[i].name, v[i].best * 1e6,
            1.0 / v[i].best);
  printf ("async-64x1 vs gio-send-to: %.2fx the datagrams per CPU-second (target >= 2.5)\n", v[0].best / v[1].best);
  printf ("async-64 vs sync-64: %.2fx the CPU per datagram (target <= 1.15)\n", v[3].best / v[2].best);

  for (guint i = 0; i < BATCH; i++)
    g_bytes_unref (datagrams[i]);
  g_object_unref (tx);
  g_object_unref (to);
  g_object_unref (any);
  g_object_unref (lo);
  g_object_unref (rx);
  return 0;
}
