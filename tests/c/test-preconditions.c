/* Programming errors (rule 12): a critical in log domain "GSend", -1 or
 * G_POLLABLE_RETURN_FAILED, nothing sent, no crash, *error untouched. */
#include "gsend-test.h"

/* The connected pair every case sends on (through the wrong arguments). */
static GSocket *tx, *rx;
static GSocketAddress *rx_addr;
static gchar payload[] = "must-not-arrive";

#define EXPECT_CRITICAL(func) \
  g_test_expect_message ("GSend", G_LOG_LEVEL_CRITICAL, func ": assertion*failed*")

static void
assert_nothing_sent (void)
{
  g_test_assert_expected_messages ();
  g_assert_true (gt_nothing_pending (rx));
}

static void
setup (void)
{
  gt_unix_pair (SOCK_DGRAM, &tx, &rx);
  rx_addr = g_unix_socket_address_new_with_type ("", 0, G_UNIX_SOCKET_ADDRESS_ANONYMOUS);
}

static void
teardown (void)
{
  g_assert_cmpuint (gt_drain (rx), ==, 0);
  g_clear_object (&tx);
  g_clear_object (&rx);
  g_clear_object (&rx_addr);
}

/* Each batch twin called with the given socket object and messages. */
static void
batch_twins_expect_critical (gpointer sock, GOutputMessage *m, guint n, GError **error)
{
  EXPECT_CRITICAL ("gsend_socket_send_messages");
  g_assert_cmpint (gsend_socket_send_messages (sock, m, n, 0, NULL, error), ==, -1);
  assert_nothing_sent ();
  EXPECT_CRITICAL ("gsend_socket_send_messages_with_timeout");
  g_assert_cmpint (gsend_socket_send_messages_with_timeout (sock, m, n, 0, 0, NULL, error), ==, -1);
  assert_nothing_sent ();
  EXPECT_CRITICAL ("gsend_datagram_based_send_messages");
  g_assert_cmpint (gsend_datagram_based_send_messages (sock, m, n, 0, 0, NULL, error), ==, -1);
  assert_nothing_sent ();
}

static void
single_twins_expect_critical (gpointer sock, GOutputVector *v, gint nv, GError **error)
{
  EXPECT_CRITICAL ("gsend_socket_send_message");
  g_assert_cmpint (gsend_socket_send_message (sock, NULL, v, nv, NULL, 0, 0, NULL, error), ==, -1);
  assert_nothing_sent ();
  gsize written = 99;
  EXPECT_CRITICAL ("gsend_socket_send_message_with_timeout");
  g_assert_cmpint (gsend_socket_send_message_with_timeout (sock, NULL, v, nv, NULL, 0, 0, -1, &written, NULL, error),
                   ==, G_POLLABLE_RETURN_FAILED);
  assert_nothing_sent ();
  g_assert_cmpuint (written, ==, 0);
}

static void
buffer_twins_expect_critical (gpointer sock, const gchar *buf, gsize size, GError **error)
{
  /* Like GIO, the buffer twins may name the function they delegate to. */
  EXPECT_CRITICAL ("gsend_socket_send*");
  g_assert_cmpint (gsend_socket_send (sock, buf, size, NULL, error), ==, -1);
  assert_nothing_sent ();
  EXPECT_CRITICAL ("gsend_socket_send*");
  g_assert_cmpint (gsend_socket_send_to (sock, NULL, buf, size, NULL, error), ==, -1);
  assert_nothing_sent ();
  EXPECT_CRITICAL ("gsend_socket_send_with_blocking");
  g_assert_cmpint (gsend_socket_send_with_blocking (sock, buf, size, TRUE, NULL, error), ==, -1);
  assert_nothing_sent ();
}

static void
datagrams_expect_critical (gpointer sock, GBytes **d, guint n, GError **error)
{
  EXPECT_CRITICAL ("gsend_socket_send_datagrams");
  g_assert_cmpint (gsend_socket_send_datagrams (sock, NULL, d, n, 0, -1, NULL, error), ==, -1);
  assert_nothing_sent ();
}

/* Every family of entry points on @sock, one message/vector/datagram each. */
static void
every_twin_expects_critical (gpointer sock, GOutputMessage *m, GOutputVector *v, GBytes **d, GError **error)
{
  batch_twins_expect_critical (sock, m, 1, error);
  single_twins_expect_critical (sock, v, 1, error);
  buffer_twins_expect_critical (sock, payload, sizeof payload, error);
  datagrams_expect_critical (sock, d, 1, error);
}

static void
one_message (GOutputMessage *m, GOutputVector *v)
{
  v->buffer = payload;
  v->size = sizeof payload;
  memset (m, 0, sizeof *m);
  m->vectors = v;
  m->num_vectors = 1;
}

/* @sock (NULL, or a GObject that is not a socket) where the socket goes:
 * every entry point and the GSO switches emit their critical. */
static void
bad_socket_everywhere (gpointer sock)
{
  GError *error = NULL;
  GOutputMessage m;
  GOutputVector v;
  one_message (&m, &v);
  GBytes *d = g_bytes_new_static (payload, sizeof payload);
  every_twin_expects_critical (sock, &m, &v, &d, &error);
  g_assert_null (error);
  EXPECT_CRITICAL ("gsend_socket_set_gso");
  gsend_socket_set_gso (sock, FALSE);
  g_test_assert_expected_messages ();
  EXPECT_CRITICAL ("gsend_socket_get_gso");
  g_assert_false (gsend_socket_get_gso (sock));
  g_test_assert_expected_messages ();
  EXPECT_CRITICAL ("gsend_socket_set_gso_max_bytes");
  gsend_socket_set_gso_max_bytes (sock, 1000);
  g_test_assert_expected_messages ();
  EXPECT_CRITICAL ("gsend_socket_get_gso_max_bytes");
  g_assert_cmpuint (gsend_socket_get_gso_max_bytes (sock), ==, 0);
  g_test_assert_expected_messages ();
  g_bytes_unref (d);
}

static void
test_rule12_null_socket (void)
{
  setup ();
  bad_socket_everywhere (NULL);
  teardown ();
}

/* A GObject that is not a socket (a GCancellable) where the socket goes. */
static void
test_rule12_wrong_type_socket (void)
{
  setup ();
  GCancellable *not_a_socket = g_cancellable_new ();
  bad_socket_everywhere (not_a_socket);
  g_object_unref (not_a_socket);
  teardown ();
}

/* NULL messages with n > 0 (and NULL datagrams). */
static void
test_rule12_null_messages (void)
{
  setup ();
  GError *error = NULL;
  batch_twins_expect_critical (tx, NULL, 3, &error);
  datagrams_expect_critical (tx, NULL, 3, &error);
  g_assert_null (error);
  /* n == 0 with NULL is fine: 0 sent, no error, no critical. */
  g_assert_cmpint (gsend_socket_send_messages (tx, NULL, 0, 0, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (tx), NULL, 0, 0, -1, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (gsend_socket_send_datagrams (tx, NULL, NULL, 0, 0, -1, NULL, &error), ==, 0);
  g_assert_no_error (error);
  /* A NULL element among the datagrams. */
  GBytes *d = g_bytes_new_static (payload, sizeof payload);
  GBytes *ds[3] = { d, NULL, d };
  datagrams_expect_critical (tx, ds, 3, &error);
  g_assert_null (error);
  g_bytes_unref (d);
  g_assert_true (gt_nothing_pending (rx));
  teardown ();
}

/* *error already set: untouched. */
static void
test_rule12_error_already_set (void)
{
  setup ();
  GError *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "earlier");
  GError *before = error;
  GOutputMessage m;
  GOutputVector v;
  one_message (&m, &v);
  GBytes *d = g_bytes_new_static (payload, sizeof payload);
  every_twin_expects_critical (tx, &m, &v, &d, &error);
  g_assert_true (error == before);
  g_assert_cmpstr (error->message, ==, "earlier");
  g_error_free (error);
  g_bytes_unref (d);
  teardown ();
}

/* Reading NULL vectors would crash the process, and a check that lets a
 * batch through may block on the full socket: these tests run guarded (in
 * a subprocess of 30 s), so either fails the test by name. */
static gboolean
guarded (void)
{
  return test_guarded (30, RUNNING_ON_VALGRIND,
                       "a programming error was not refused with a critical and -1 before anything was read or sent");
}

/* NULL vectors with a non-zero count: in a GOutputMessage (the second of
 * two: the first must not go either) and for the single-message twins. */
static void
test_rule12_null_vectors (void)
{
  if (!guarded ())
    return;
  setup ();
  GError *error = NULL;
  GOutputMessage m[2];
  GOutputVector v;
  one_message (&m[0], &v);
  memset (&m[1], 0, sizeof m[1]);
  m[1].vectors = NULL;
  m[1].num_vectors = 2;
  m[0].bytes_sent = m[1].bytes_sent = 31337;
  batch_twins_expect_critical (tx, m, 2, &error);
  g_assert_cmpuint (m[0].bytes_sent, ==, 31337);
  g_assert_cmpuint (m[1].bytes_sent, ==, 31337);
  single_twins_expect_critical (tx, NULL, 2, &error);
  single_twins_expect_critical (tx, NULL, -1, &error);
  /* NULL control messages with a non-zero count. */
  m[1] = m[0];
  m[1].control_messages = NULL;
  m[1].num_control_messages = 1;
  batch_twins_expect_critical (tx, &m[1], 1, &error);
  g_assert_null (error);
  teardown ();
}

/* A batch larger than the 1024 messages planned at once, with NULL vectors
 * (or NULL control messages) and a count at message 1024 or 1499: the
 * whole batch is refused before anything is sent, as GIO checks every
 * message first (rule 12). The sender is non-blocking, so that a batch let
 * through stops at the full queue (10 datagrams by default) instead of
 * waiting for a reader. */
static void
test_rule12_null_vectors_beyond_chunk (void)
{
  enum { BIG = 1500 };
  static const guint bad_at[] = { 1024, BIG - 1 };
  if (!guarded ())
    return;
  setup ();
  g_socket_set_blocking (tx, FALSE);
  GError *error = NULL;
  GOutputMessage *m = g_new0 (GOutputMessage, BIG);
  GOutputVector *v = g_new0 (GOutputVector, BIG);
  for (guint b = 0; b < G_N_ELEMENTS (bad_at); b++)
    for (guint what = 0; what < 2; what++)
      {
        gt_fill_messages (m, v, BIG, payload, 1, NULL, 31337);
        if (what == 0)
          {
            m[bad_at[b]].vectors = NULL;
            m[bad_at[b]].num_vectors = 1;
          }
        else
          m[bad_at[b]].num_control_messages = 1;
        g_test_message ("%s with a count at message %u of %u", what == 0 ? "NULL vectors" : "NULL control messages",
                        bad_at[b], BIG);
        batch_twins_expect_critical (tx, m, BIG, &error);
        for (guint i = 0; i < BIG; i++)
          g_assert_cmpuint (m[i].bytes_sent, ==, 31337);
      }
  g_assert_null (error);
  g_free (m);
  g_free (v);
  teardown ();
}

/* Wrong-type address and cancellable arguments. */
static void
test_rule12_wrong_type_arguments (void)
{
  setup ();
  GError *error = NULL;
  GCancellable *not_an_address = g_cancellable_new ();
  GSocketAddress *not_a_cancellable = g_inet_socket_address_new_from_string ("127.0.0.1", 9);
  GOutputVector v;
  GOutputMessage m;
  one_message (&m, &v);

  EXPECT_CRITICAL ("gsend_socket_send*");
  g_assert_cmpint (gsend_socket_send_to (tx, (GSocketAddress *) not_an_address, payload, 4, NULL, &error), ==, -1);
  assert_nothing_sent ();
  EXPECT_CRITICAL ("gsend_socket_send_message");
  g_assert_cmpint (gsend_socket_send_message (tx, (GSocketAddress *) not_an_address, &v, 1, NULL, 0, 0, NULL, &error), ==, -1);
  assert_nothing_sent ();
  EXPECT_CRITICAL ("gsend_socket_send_datagrams");
  GBytes *d = g_bytes_new_static (payload, sizeof payload);
  g_assert_cmpint (gsend_socket_send_datagrams (tx, (GSocketAddress *) not_an_address, &d, 1, 0, -1, NULL, &error), ==, -1);
  assert_nothing_sent ();
  g_bytes_unref (d);

  EXPECT_CRITICAL ("gsend_socket_send_messages");
  g_assert_cmpint (gsend_socket_send_messages (tx, &m, 1, 0, (GCancellable *) not_a_cancellable, &error), ==, -1);
  assert_nothing_sent ();
  EXPECT_CRITICAL ("gsend_datagram_based_send_messages");
  g_assert_cmpint (gsend_datagram_based_send_messages (G_DATAGRAM_BASED (tx), &m, 1, 0, -1, (GCancellable *) not_a_cancellable, &error), ==, -1);
  assert_nothing_sent ();
  EXPECT_CRITICAL ("gsend_socket_send*");
  g_assert_cmpint (gsend_socket_send (tx, payload, 4, (GCancellable *) not_a_cancellable, &error), ==, -1);
  assert_nothing_sent ();
  g_assert_null (error);

  g_object_unref (not_an_address);
  g_object_unref (not_a_cancellable);
  teardown ();
}

static const GtTest tests[] = {
  { "/rule12/null-socket", test_rule12_null_socket },
  { "/rule12/wrong-type-socket", test_rule12_wrong_type_socket },
  { "/rule12/null-messages", test_rule12_null_messages },
  { "/rule12/error-already-set", test_rule12_error_already_set },
  { "/rule12/null-vectors", test_rule12_null_vectors },
  { "/rule12/null-vectors-beyond-first-chunk", test_rule12_null_vectors_beyond_chunk },
  { "/rule12/wrong-type-arguments", test_rule12_wrong_type_arguments },
};

GT_TEST_MAIN (tests)
