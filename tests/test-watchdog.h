/* Guards for test programs against hangs and crashes.
 *
 * test_watchdog_arm: a watchdog on SIGALRM, armed with the time a test may
 * take; its handler writes which test is still running and aborts, so a
 * hang (a wait that ignores its timeout, a lost wake-up) fails that test
 * by name long before meson's timeout ends the whole program unnamed.
 * GSEND_STRESS_WATCHDOG_FACTOR scales the time (tests/valgrind sets it).
 *
 * test_guarded: runs a test's body in a subprocess, so that a crash fails
 * that test, named, instead of ending the program. */
#pragma once

#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* GLib 2.66 (tested in the GLib matrix) has neither. */
#if !GLIB_CHECK_VERSION(2, 68, 0)
#define g_test_get_path() ((const char *) NULL)
#endif
#if !GLIB_CHECK_VERSION(2, 74, 0)
#define G_TEST_SUBPROCESS_DEFAULT 0
#endif

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

/* Runs the current test again in a subprocess bounded by @seconds and
 * asserts that it passed; @what says what a failure means. Returns TRUE
 * where the test's body is to run: in the subprocess, or right here when
 * @here (under valgrind, say, whose memcheck would not follow the
 * subprocess). Use: if (!test_guarded (...)) return; at the top of the
 * test. */
static inline gboolean
test_guarded (guint seconds, gboolean here, const char *what)
{
  if (g_test_subprocess () || here)
    return TRUE;
  g_test_trap_subprocess (NULL, (guint64) seconds * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  if (!g_test_trap_has_passed ())
    g_test_message ("the subprocess crashed, hung or failed an assertion: %s", what);
  g_test_trap_assert_passed ();
  return FALSE;
}
