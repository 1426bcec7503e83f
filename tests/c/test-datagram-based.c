/* gsend_datagram_based_send_messages: on a GSocket (the engine), refusals
 * (rule 2), timeouts through the interface (rules 3, 4), and on another
 * GDatagramBased implementation (its vfunc, GIO's result checks; rule 1). */
#include "gsend-test.h"

#define SENTINEL 909090

/* ---- a GDatagramBased that records send_messages calls ---- */

typedef struct
{
  GObject parent;
  /* what the next call returns */
  gint retval;
  GQuark err_domain;
  gint err_code;
  /* what the last call got */
  guint calls;
  GOutputMessage *messages;
  guint num_messages;
  gint flags;
  gint64 timeout;
  GCancellable *cancellable;
  gboolean error_ptr_ok;
} Recorder;
typedef struct
{
  GObjectClass parent_class;
} RecorderClass;

static void recorder_iface_init (GDatagramBasedInterface *iface);
GType recorder_get_type (void);
G_DEFINE_TYPE_WITH_CODE (Recorder, recorder, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_DATAGRAM_BASED, recorder_iface_init))

static gint
recorder_send_messages (GDatagramBased *db, GOutputMessage *messages, guint num_messages, gint flags,
                        gint64 timeout, GCancellable *cancellable, GError **error)
{
  Recorder *r = (Recorder *) db;
  r->calls++;
  r->messages = messages;
  r->num_messages = num_messages;
  r->flags = flags;
  r->timeout = timeout;
  r->cancellable = cancellable;
  r->error_ptr_ok = error != NULL && *error == NULL;
  if (r->err_domain)
    g_set_error_literal (error, r->err_domain, r->err_code, "recorder error");
  for (gint i = 0; i < r->retval && (guint) i < num_messages; i++)
    messages[i].bytes_sent = 1000 + i;
  return r->retval;
}

static gint
recorder_receive_messages (GDatagramBased *db, GInputMessage *messages, guint num_messages, gint flags,
                           gint64 timeout, GCancellable *cancellable, GError **error)
{
  (void) db; (void) messages; (void) num_messages; (void) flags; (void) timeout; (void) cancellable;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "no");
  return -1;
}

static GSource *
recorder_create_source (GDatagramBased *db, GIOCondition condition, GCancellable *cancellable)
{
  (void) db; (void) condition; (void) cancellable;
  return g_timeout_source_new (0);
}

static GIOCondition
recorder_condition_check (GDatagramBased *db, GIOCondition condition)
{
  (void) db;
  return condition & G_IO_OUT;
}

static gboolean
recorder_condition_wait (GDatagramBased *db, GIOCondition condition, gint64 timeout,
                         GCancellable *cancellable, GError **error)
{
  (void) db; (void) condition; (void) timeout; (void) cancellable; (void) error;
  return TRUE;
}

static void
recorder_iface_init (GDatagramBasedInterface *iface)
{
  iface->send_messages = recorder_send_messages;
  iface->receive_messages = recorder_receive_messages;
  iface->create_source = recorder_create_source;
  iface->condition_check = recorder_condition_check;
  iface->condition_wait = recorder_condition_wait;
}

static void
recorder_class_init (RecorderClass *klass)
{
  (void) klass;
}

static void
recorder_init (Recorder *self)
{
  (void) self;
}

/* The vfunc gets exactly the caller's arguments; its result and bytes_sent
 * come back. */
static void
test_rule01_custom_impl_called (void)
{
  GError *error = NULL;
  Recorder *rec = g_object_new (recorder_get_type (), NULL);
  GCancellable *c = g_cancellable_new ();
  gchar buf[4] = "abc";
  GOutputMessage m[5];
  GOutputVector v[5];
  gt_fill_messages (m, v, 5, buf, 3, NULL, SENTINEL);

  rec->retval = 3;
  gint r = gsend_datagram_based_send_messages (G_DATAGRAM_BASED (rec), m, 5, G_SOCKET_MSG_DONTROUTE, 1234567, c, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, 3);
  g_assert_cmpuint (rec->calls, ==, 1);
  g_assert_true (rec->messages == m);
  g_assert_cmpuint (rec->num_messages, ==, 5);
  g_assert_cmpint (rec->flags, ==, G_SOCKET_MSG_DONTROUTE);
  g_assert_cmpint (rec->timeout, ==, 1234567);
  g_assert_true (rec->cancellable == c);
  g_assert_true (rec->error_ptr_ok);
  for (int i = 0; i < 5; i++)
    g_assert_cmpuint (m[i].bytes_sent, ==, i < 3 ? (gsize) 1000 + i : SENTINEL);

  /* An error from the implementation is passed on. */
  rec->retval = -1;
  rec->err_domain = G_IO_ERROR;
  rec->err_code = G_IO_ERROR_HOST_UNREACHABLE;
  r = gsend_datagram_based_send_messages (G_DATAGRAM_BASED (rec), m, 5, 0, -1, NULL, &error);
  g_assert_cmpint (r, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE);
  g_assert_cmpstr (error->message, ==, "recorder error");
  g_clear_error (&error);
  g_assert_cmpuint (rec->calls, ==, 2);
  g_assert_null (rec->cancellable);
  g_assert_cmpint (rec->timeout, ==, -1);

  /* A NULL error location is fine too. */
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (rec), m, 5, 0, 0, NULL, NULL), ==, -1);
  g_assert_cmpuint (rec->calls, ==, 3);
  g_object_unref (c);
  g_object_unref (rec);
}

/* Results GIO's checks refuse: a critical in domain GSend and -1. */
static void
test_rule12_custom_impl_bad_results (void)
{
  GError *error = NULL;
  Recorder *rec = g_object_new (recorder_get_type (), NULL);
  gchar buf[4] = "abc";
  GOutputMessage m[2];
  GOutputVector v[2];
  gt_fill_messages (m, v, 2, buf, 3, NULL, SENTINEL);
  struct
  {
    gint retval;
    gint code; /* -1: no error */
    gint64 timeout;
  } cases[] = {
    { -1, -1, -1 },                      /* failure without an error */
    { 1, G_IO_ERROR_FAILED, -1 },        /* an error with a count */
    { -1, G_IO_ERROR_WOULD_BLOCK, -1 },  /* WOULD_BLOCK though it may block */
    { -1, G_IO_ERROR_TIMED_OUT, 0 },     /* TIMED_OUT without a timeout */
    { 3, -1, -1 },                       /* more than asked */
    { 0, -1, -1 },                       /* 0 while blocking */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      rec->retval = cases[i].retval;
      rec->err_domain = cases[i].code >= 0 ? G_IO_ERROR : 0;
      rec->err_code = cases[i].code;
      g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, "gsend_datagram_based_send_messages: assertion*failed*");
      gint r = gsend_datagram_based_send_messages (G_DATAGRAM_BASED (rec), m, 2, 0, cases[i].timeout, NULL, &error);
      g_test_assert_expected_messages ();
      g_assert_cmpint (r, ==, -1);
      g_assert_no_error (error);
      g_assert_cmpuint (rec->calls, ==, i + 1);
    }
  /* And the acceptable edge cases: 0 with a zero timeout, WOULD_BLOCK with
   * a zero timeout, TIMED_OUT with a positive one. */
  rec->retval = 0;
  rec->err_domain = 0;
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (rec), m, 2, 0, 0, NULL, &error), ==, 0);
  g_assert_no_error (error);
  rec->retval = -1;
  rec->err_domain = G_IO_ERROR;
  rec->err_code = G_IO_ERROR_WOULD_BLOCK;
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (rec), m, 2, 0, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  rec->err_code = G_IO_ERROR_TIMED_OUT;
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (rec), m, 2, 0, 1000, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_object_unref (rec);
}

/* On a UDP GSocket: sent through the engine, the receiver gets them. */
static void
test_rule07_gsocket_udp (void)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4), *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *ra = gt_local_addr (rx);
  gchar payload[3][8] = { "one", "two", "three" };
  GOutputMessage m[3];
  GOutputVector v[3];
  memset (m, 0, sizeof m);
  for (int i = 0; i < 3; i++)
    {
      v[i].buffer = payload[i];
      v[i].size = strlen (payload[i]);
      m[i].address = ra;
      m[i].vectors = &v[i];
      m[i].num_vectors = 1;
    }
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (tx), m, 3, 0, -1, NULL, &error), ==, 3);
  g_assert_no_error (error);
  for (int i = 0; i < 3; i++)
    {
      g_assert_cmpuint (m[i].bytes_sent, ==, strlen (payload[i]));
      gchar buf[16];
      gssize n = gt_recv_bounded (rx, buf, sizeof buf);
      g_assert_cmpmem (buf, n, payload[i], strlen (payload[i]));
    }
  g_object_unref (ra);
  g_object_unref (tx);
  g_object_unref (rx);
}

/* rule 2: a GSocket with a timeout, or a stream socket: NOT_SUPPORTED,
 * nothing sent. */
static void
test_rule02_gsocket_refused (void)
{
  GError *error = NULL;
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  gchar buf[4] = "abc";
  GOutputMessage m[2];
  GOutputVector v[2];
  gt_fill_messages (m, v, 2, buf, 3, NULL, SENTINEL);
  g_socket_set_timeout (a, 5);
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (a), m, 2, 0, -1, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (a), m, 2, 0, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_cmpuint (m[0].bytes_sent, ==, SENTINEL);
  g_assert_true (gt_nothing_pending (b));
  /* The socket's own functions still work with a timeout set. */
  g_assert_cmpint (gsend_socket_send_messages (a, m, 2, 0, NULL, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpuint (gt_drain (b), ==, 2);
  g_object_unref (a);
  g_object_unref (b);

  GSocket *s1, *s2;
  gt_unix_pair (SOCK_STREAM, &s1, &s2);
  gt_fill_messages (m, v, 2, buf, 3, NULL, SENTINEL);
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (s1), m, 2, 0, -1, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_cmpuint (m[0].bytes_sent, ==, SENTINEL);
  g_assert_true (gt_nothing_pending (s2));
  g_object_unref (s1);
  g_object_unref (s2);

  /* SEQPACKET is accepted. */
  gt_unix_pair (SOCK_SEQPACKET, &s1, &s2);
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (s1), m, 2, 0, -1, NULL, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpuint (gt_drain (s2), ==, 2);
  g_object_unref (s1);
  g_object_unref (s2);
}

/* rules 3 and 4 through the interface: the timeout argument decides, not
 * the socket's blocking flag. */
static void
test_rule04_gsocket_timeouts (void)
{
  GError *error = NULL;
  GSocket *a, *b;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  guint filled = gt_fill_queue (a, 4096);
  static gchar buf[4096];
  GOutputMessage m[4];
  GOutputVector v[4];
  gt_fill_messages (m, v, 4, buf, sizeof buf, NULL, SENTINEL);
  /* Blocking socket, timeout 0. */
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (a), m, 4, 0, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  /* Non-blocking socket, positive timeout. */
  g_socket_set_blocking (a, FALSE);
  gint64 t0 = g_get_monotonic_time ();
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (a), m, 4, 0, 150000, NULL, &error), ==, -1);
  gint64 elapsed = g_get_monotonic_time () - t0;
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed, >=, 150000);
  g_assert_cmpint (elapsed, <, 30 * G_USEC_PER_SEC);
  g_assert_cmpuint (m[0].bytes_sent, ==, SENTINEL);
  g_assert_cmpuint (gt_drain (b), ==, filled);
  g_object_unref (a);
  g_object_unref (b);
}

static const GtTest tests[] = {
  { "/rule01/datagram-based/custom-impl-called", test_rule01_custom_impl_called },
  { "/rule12/datagram-based/custom-impl-bad-results", test_rule12_custom_impl_bad_results },
  { "/rule07/datagram-based/gsocket-udp", test_rule07_gsocket_udp },
  { "/rule02/datagram-based/gsocket-refused", test_rule02_gsocket_refused },
  { "/rule04/datagram-based/gsocket-timeouts", test_rule04_gsocket_timeouts },
};

GT_TEST_MAIN (tests)
