/* udp-check: the receiving end of bench/real-programs.sh.
 *
 * Binds NPORTS UDP sockets on 127.0.0.1 (ports chosen by the kernel, large
 * receive buffers), prints "PORTS p1 p2 ..." on one line, then reads every
 * datagram that arrives until it gets SIGUSR1 (or SIGTERM); then it reads
 * what is still queued, prints one line per port and a total, and exits.
 *
 * With --rtp every datagram must be an RTP packet (version 2, at least 12
 * bytes): sequence numbers are followed per port (16 bits, extended) and a
 * gap, a repeat or a step back is counted; with --frames F the marker bit
 * (set on the last packet of every video frame by rtpvrawpay) must have
 * been seen F times, so that a loss at the very end is caught too.
 *
 * Exit status: 0 when nothing was lost, 1 when something was (the figures
 * are printed either way), 2 on a set-up error or when the watchdog fired.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 16
#define BATCH 64
#define SLOT 65536

struct port_state
{
  int fd;
  unsigned port;
  uint64_t packets, bytes;
  uint64_t truncated, not_rtp;
  uint64_t markers;
  int seen_any;
  uint64_t ext_first, ext_last; /* extended sequence numbers */
  uint64_t gaps_missing;        /* packets skipped over by forward jumps */
  uint64_t back_steps;          /* repeats and steps back */
};

static volatile sig_atomic_t stop_requested;

static void
on_stop (int sig)
{
  (void) sig;
  stop_requested = 1;
}

static void
on_alarm (int sig)
{
  (void) sig;
  static const char msg[] = "udp-check: watchdog fired, giving up\n";
  ssize_t r = write (2, msg, sizeof msg - 1);
  (void) r;
  _exit (2);
}

static void
check_rtp (struct port_state *ps, const unsigned char *p, size_t len)
{
  if (len < 12 || (p[0] >> 6) != 2)
    {
      ps->not_rtp++;
      return;
    }
  if (p[1] & 0x80)
    ps->markers++;
  uint16_t seq = (uint16_t) ((p[2] << 8) | p[3]);
  if (!ps->seen_any)
    {
      ps->seen_any = 1;
      ps->ext_first = ps->ext_last = 65536u * 16 + seq; /* room to step back */
      return;
    }
  /* Distance from the last one, as a signed 16-bit step. */
  int16_t step = (int16_t) (uint16_t) (seq - (uint16_t) ps->ext_last);
  if (step == 1)
    ps->ext_last++;
  else if (step > 1)
    {
      ps->gaps_missing += (uint64_t) (step - 1);
      ps->ext_last += (uint64_t) step;
    }
  else
    ps->back_steps++;
}

int
main (int argc, char **argv)
{
  int rtp = 0;
  long frames = -1;
  long rcvbuf = 256L * 1024 * 1024;
  int nports = 1;
  unsigned watchdog = 900;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--rtp") == 0)
        rtp = 1;
      else if (strcmp (argv[i], "--frames") == 0 && i + 1 < argc)
        frames = atol (argv[++i]);
      else if (strcmp (argv[i], "--rcvbuf") == 0 && i + 1 < argc)
        rcvbuf = atol (argv[++i]);
      else if (strcmp (argv[i], "--watchdog") == 0 && i + 1 < argc)
        watchdog = (unsigned) atol (argv[++i]);
      else if (argv[i][0] != '-')
        nports = atoi (argv[i]);
      else
        {
          fprintf (stderr,
                   "usage: udp-check [--rtp] [--frames F] [--rcvbuf BYTES] [--watchdog S] [NPORTS]\n");
          return 2;
        }
    }
  if (nports < 1 || nports > MAX_PORTS)
    {
      fprintf (stderr, "udp-check: NPORTS must be 1..%d\n", MAX_PORTS);
      return 2;
    }

  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction (SIGUSR1, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sa.sa_handler = on_alarm;
  sigaction (SIGALRM, &sa, NULL);
  alarm (watchdog);

  static struct port_state ports[MAX_PORTS];
  struct pollfd pfds[MAX_PORTS];
  for (int i = 0; i < nports; i++)
    {
      struct port_state *ps = &ports[i];
      ps->fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (ps->fd < 0)
        {
          perror ("udp-check: socket");
          return 2;
        }
      int size = (int) rcvbuf;
      /* SO_RCVBUFFORCE passes net.core.rmem_max when run as root; fall back
       * to SO_RCVBUF (capped by rmem_max) otherwise. */
      if (setsockopt (ps->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        setsockopt (ps->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      struct sockaddr_in sin;
      memset (&sin, 0, sizeof sin);
      sin.sin_family = AF_INET;
      sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      if (bind (ps->fd, (struct sockaddr *) &sin, sizeof sin) != 0)
        {
          perror ("udp-check: bind");
          return 2;
        }
      socklen_t sl = sizeof sin;
      getsockname (ps->fd, (struct sockaddr *) &sin, &sl);
      ps->port = ntohs (sin.sin_port);
      pfds[i].fd = ps->fd;
      pfds[i].events = POLLIN;
    }

  int got = 0;
  socklen_t gl = sizeof got;
  getsockopt (ports[0].fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
  printf ("PORTS");
  for (int i = 0; i < nports; i++)
    printf (" %u", ports[i].port);
  printf ("\nRCVBUF %d\n", got);
  fflush (stdout);

  static unsigned char bufs[BATCH][SLOT];
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  int draining = 0;

  for (;;)
    {
      if (stop_requested && !draining)
        draining = 1; /* one more pass over every socket, until EAGAIN */
      if (!draining)
        {
          int n = poll (pfds, (nfds_t) nports, 200);
          if (n < 0 && errno != EINTR)
            {
              perror ("udp-check: poll");
              return 2;
            }
          if (n <= 0)
            continue;
        }
      int any = 0;
      for (int i = 0; i < nports; i++)
        {
          struct port_state *ps = &ports[i];
          if (!draining && !(pfds[i].revents & POLLIN))
            continue;
          for (;;)
            {
              for (int k = 0; k < BATCH; k++)
                {
                  iovs[k].iov_base = bufs[k];
                  iovs[k].iov_len = SLOT;
                  memset (&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
                  msgs[k].msg_hdr.msg_iov = &iovs[k];
                  msgs[k].msg_hdr.msg_iovlen = 1;
                }
              int r = recvmmsg (ps->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
              if (r < 0)
                {
                  if (errno == EINTR)
                    continue;
                  if (errno != EAGAIN && errno != EWOULDBLOCK)
                    perror ("udp-check: recvmmsg");
                  break;
                }
              any = 1;
              for (int k = 0; k < r; k++)
                {
                  ps->packets++;
                  ps->bytes += msgs[k].msg_len;
                  if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC)
                    ps->truncated++;
                  if (rtp)
                    check_rtp (ps, bufs[k], msgs[k].msg_len);
                }
              if (r < BATCH)
                break;
            }
        }
      if (draining && !any)
        break;
    }

  uint64_t tp = 0, tb = 0, bad = 0;
  for (int i = 0; i < nports; i++)
    {
      struct port_state *ps = &ports[i];
      uint64_t lost = 0;
      int markers_ok = 1;
      if (rtp)
        {
          lost = ps->gaps_missing;
          if (frames >= 0 && ps->markers != (uint64_t) frames)
            markers_ok = 0;
        }
      printf ("port %u packets %llu bytes %llu", ps->port,
              (unsigned long long) ps->packets, (unsigned long long) ps->bytes);
      if (rtp)
        printf (" seq_missing %llu seq_back %llu not_rtp %llu frames %llu",
                (unsigned long long) lost, (unsigned long long) ps->back_steps,
                (unsigned long long) ps->not_rtp, (unsigned long long) ps->markers);
      printf (" truncated %llu\n", (unsigned long long) ps->truncated);
      tp += ps->packets;
      tb += ps->bytes;
      if (lost || ps->back_steps || ps->not_rtp || ps->truncated || !markers_ok
          || ps->packets == 0)
        bad++;
    }
  printf ("TOTAL packets %llu bytes %llu %s\n", (unsigned long long) tp,
          (unsigned long long) tb, bad ? "LOSS-OR-DAMAGE" : "OK");
  return bad ? 1 : 0;
}
