/* A watchdog on SIGALRM for test programs: armed with the time a test may
 * take, its handler writes which test is still running and aborts, so a
 * hang (a wait that ignores its timeout, a lost wake-up) fails that test
 * by name long before meson's timeout ends the whole program unnamed.
 * GSEND_STRESS_WATCHDOG_FACTOR scales the time (tests/valgrind sets it). */
#pragma once

#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char test_watchdog_msg[512];
static size_t test_watchdog_len;

static inline void
test_watchdog_fired (int sig)
{
  (void) sig;
  /* Only async-signal-safe calls: the message was made when armed. */
  ssize_t r = write (STDERR_FILENO, test_watchdog_msg, test_watchdog_len);
  (void) r;
  abort ();
}

/* Arms the watchdog for the running test (re-arming replaces the previous
 * time); alarm (0) disarms it. */
static inline void
test_watchdog_arm (guint seconds)
{
  struct sigaction sa;
  const char *factor = g_getenv ("GSEND_STRESS_WATCHDOG_FACTOR");
  if (factor != NULL && atoi (factor) > 1)
    seconds *= (guint) atoi (factor);
  alarm (0);
  g_snprintf (test_watchdog_msg, sizeof test_watchdog_msg, "watchdog: %s still running after %u s\n",
              g_test_get_path () ? g_test_get_path () : "the test program", seconds);
  test_watchdog_len = strlen (test_watchdog_msg);
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = test_watchdog_fired;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGALRM, &sa, NULL);
  alarm (seconds);
}
