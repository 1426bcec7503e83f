/* What goes into a message: addresses (rule 8), control messages (rule 9),
 * vectors (rule 10), size overflow (rule 13). */
#include "gsend-test.h"
#include <gio/gunixfdmessage.h>
#include <gio/gunixcredentialsmessage.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <fcntl.h>

#define SENTINEL 424242

/* Receives one message from @s with its control messages (at most 5 s). */
static gssize
recv_with_control (GSocket *s, gchar *buf, gsize size, GSocketControlMessage ***cmsgs, gint *n_cmsgs)
{
  GError *error = NULL;
  GInputVector iv = { buf, size };
  gint flags = 0;
  if (!g_socket_condition_timed_wait (s, G_IO_IN, 5 * G_USEC_PER_SEC, NULL, &error))
    {
      g_clear_error (&error);
      return -1;
    }
  gssize n = g_socket_receive_message (s, NULL, &iv, 1, cmsgs, n_cmsgs, &flags, NULL, &error);
  g_assert_no_error (error);
  return n;
}

/* Makes @m one message of the vector @v with @n_cm control messages @cm
 * (kept for the caller to send again) and sends it: it must go. */
static void
send_one_with_control (GSocket *a, GOutputMessage *m, GOutputVector *v, GSocketControlMessage **cm, guint n_cm)
{
  GError *error = NULL;
  memset (m, 0, sizeof *m);
  m->vectors = v;
  m->num_vectors = 1;
  m->control_messages = cm;
  m->num_control_messages = n_cm;
  g_assert_cmpint (gsend_socket_send_messages (a, m, 1, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
}

static void
free_cmsgs (GSocketControlMessage **c, gint n)
{
  for (gint i = 0; i < n; i++)
    g_object_unref (c[i]);
  g_free (c);
}

/* Collects every fd received in GUnixFDMessages; returns how many. */
static gint
steal_fds (GSocketControlMessage **c, gint n, int *out, gint max)
{
  gint k = 0;
  for (gint i = 0; i < n; i++)
    if (G_IS_UNIX_FD_MESSAGE (c[i]))
      {
        gint len = 0;
        gint *fds = g_unix_fd_message_steal_fds (G_UNIX_FD_MESSAGE (c[i]), &len);
        for (gint j = 0; j < len; j++)
          {
            g_assert_cmpint (k, <, max);
            out[k++] = fds[j];
          }
        g_free (fds);
      }
  return k;
}

/* One datagram received with its control messages: its bytes, the
 * messages, and the descriptors of its GUnixFDMessages (taken from them). */
typedef struct
{
  gchar buf[32];
  gssize len;
  GSocketControlMessage **c;
  gint nc;
  int fds[256];
  gint nfds;
} Received;

/* Receives one datagram from @s into @r (waiting at most 5 s). Its bytes
 * must be the @want_len at @want (any bytes when @want is NULL), and it
 * must carry @want_fds descriptors (any number when -1). */
static void
receive_expect (GSocket *s, Received *r, gconstpointer want, gsize want_len, gint want_fds)
{
  r->c = NULL;
  r->nc = 0;
  r->len = recv_with_control (s, r->buf, sizeof r->buf, &r->c, &r->nc);
  if (want != NULL)
    g_assert_cmpmem (r->buf, r->len, want, want_len);
  r->nfds = steal_fds (r->c, r->nc, r->fds, G_N_ELEMENTS (r->fds));
  if (want_fds >= 0)
    g_assert_cmpint (r->nfds, ==, want_fds);
}

/* Closes the received descriptors and frees the control messages. */
static void
received_free (Received *r)
{
  for (gint i = 0; i < r->nfds; i++)
    close (r->fds[i]);
  free_cmsgs (r->c, r->nc);
}

/* The received descriptor is the read end's twin: data written into the
 * pipe can be read through it. */
static void
assert_pipe_works (int write_end, int received_read_end, const char *word)
{
  gsize len = strlen (word);
  g_assert_cmpint (write (write_end, word, len), ==, (gssize) len);
  char buf[64] = { 0 };
  g_assert_cmpint (read (received_read_end, buf, sizeof buf), ==, (gssize) len);
  g_assert_cmpstr (buf, ==, word);
}

/* ---- the custom control message (tests/test-int-msg.h, through gsend-test.h) ---- */

static GSocketControlMessage *
test_fd_msg_new (int fd)
{
  return test_int_msg_new (SOL_SOCKET, SCM_RIGHTS, fd);
}

/* ---- a custom GSocketAddress: an IPv4 address known only through to_native ---- */

typedef struct
{
  GSocketAddress parent;
  struct sockaddr_in sin;
  guint to_native_calls;
  gboolean fail;
} TestAddr;
typedef struct
{
  GSocketAddressClass parent_class;
} TestAddrClass;

GType test_addr_get_type (void);
G_DEFINE_TYPE (TestAddr, test_addr, G_TYPE_SOCKET_ADDRESS)

static GSocketFamily
test_addr_get_family (GSocketAddress *a)
{
  (void) a;
  return G_SOCKET_FAMILY_IPV4;
}

static gssize
test_addr_get_native_size (GSocketAddress *a)
{
  (void) a;
  return sizeof (struct sockaddr_in);
}

static gboolean
test_addr_to_native (GSocketAddress *a, gpointer dest, gsize destlen, GError **error)
{
  TestAddr *self = (TestAddr *) a;
  if (self->fail)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE, "test address refuses");
      return FALSE;
    }
  if (destlen < sizeof self->sin)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "too small");
      return FALSE;
    }
  self->to_native_calls++;
  memcpy (dest, &self->sin, sizeof self->sin);
  return TRUE;
}

static void
test_addr_class_init (TestAddrClass *klass)
{
  GSocketAddressClass *c = G_SOCKET_ADDRESS_CLASS (klass);
  c->get_family = test_addr_get_family;
  c->get_native_size = test_addr_get_native_size;
  c->to_native = test_addr_to_native;
}

static void
test_addr_init (TestAddr *self)
{
  (void) self;
}

static TestAddr *
test_addr_new_from (GSocketAddress *inet)
{
  TestAddr *a = g_object_new (test_addr_get_type (), NULL);
  g_assert_true (g_socket_address_to_native (inet, &a->sin, sizeof a->sin, NULL));
  return a;
}

/* ---- rule 8 ---- */

/* A custom GSocketAddress subclass, a GProxyAddress (a GInetSocketAddress
 * subclass) and a plain GInetSocketAddress in one batch. */
static void
test_rule08_address_subclasses (void)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocket *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *ra = gt_local_addr (rx);
  TestAddr *custom = test_addr_new_from (ra);
  GInetAddress *ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (ra));
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (ra));
  GSocketAddress *proxy = g_proxy_address_new (ia, port, "socks5", "example.invalid", 1, NULL, NULL);

  gchar p0[] = "custom", p1[] = "proxy", p2[] = "plain";
  GOutputVector v[3] = { { p0, 6 }, { p1, 5 }, { p2, 5 } };
  GOutputMessage m[3];
  memset (m, 0, sizeof m);
  GSocketAddress *addrs[3] = { G_SOCKET_ADDRESS (custom), proxy, ra };
  for (int i = 0; i < 3; i++)
    {
      m[i].address = addrs[i];
      m[i].vectors = &v[i];
      m[i].num_vectors = 1;
    }
  g_assert_cmpint (gsend_socket_send_messages (tx, m, 3, 0, NULL, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpuint (custom->to_native_calls, >=, 1);
  gchar buf[32];
  for (int i = 0; i < 3; i++)
    {
      gssize n = gt_recv_bounded (rx, buf, sizeof buf);
      g_assert_cmpmem (buf, n, v[i].buffer, v[i].size);
    }
  /* The single-message twins with the custom address. */
  g_assert_cmpint (gsend_socket_send_to (tx, G_SOCKET_ADDRESS (custom), "to", 2, NULL, &error), ==, 2);
  g_assert_no_error (error);
  gssize n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "to", 2);
  g_assert_cmpint (gsend_socket_send_message (tx, G_SOCKET_ADDRESS (custom), v, 1, NULL, 0, 0, NULL, &error), ==, 6);
  g_assert_no_error (error);
  n = gt_recv_bounded (rx, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "custom", 6);
  g_assert_true (gt_nothing_pending (rx));

  /* A subclass is asked for its native form every time: pointing the same
   * object elsewhere takes effect at the next send. */
  GSocket *rx2 = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *ra2 = gt_local_addr (rx2);
  g_assert_true (g_socket_address_to_native (ra2, &custom->sin, sizeof custom->sin, NULL));
  m[0].bytes_sent = 0;
  g_assert_cmpint (gsend_socket_send_messages (tx, m, 1, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  n = gt_recv_bounded (rx2, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "custom", 6);
  g_assert_true (gt_nothing_pending (rx));
  g_object_unref (ra2);
  g_object_unref (rx2);

  g_object_unref (proxy);
  g_object_unref (custom);
  g_object_unref (ra);
  g_object_unref (rx);
  g_object_unref (tx);
}

/* GUnixSocketAddress: a path and an abstract name, per message. */
static void
test_rule08_unix_addresses (void)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("gsend-ctest-XXXXXX", &error);
  g_assert_no_error (error);
  gchar *path = g_build_filename (dir, "rx.sock", NULL);
  GSocketAddress *pa = g_unix_socket_address_new (path);
  gchar *abstract = g_strdup_printf ("gsend-ctest-%d-%u", getpid (), g_random_int ());
  GSocketAddress *aa = g_unix_socket_address_new_with_type (abstract, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);

  GSocket *rx1 = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (rx1, pa, FALSE, &error));
  g_assert_no_error (error);
  GSocket *rx2 = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_true (g_socket_bind (rx2, aa, FALSE, &error));
  g_assert_no_error (error);
  GSocket *tx = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);

  gchar p0[] = "to-path", p1[] = "to-abstract";
  GOutputVector v[2] = { { p0, 7 }, { p1, 11 } };
  GOutputMessage m[2];
  memset (m, 0, sizeof m);
  m[0].address = pa; m[0].vectors = &v[0]; m[0].num_vectors = 1;
  m[1].address = aa; m[1].vectors = &v[1]; m[1].num_vectors = 1;
  g_assert_cmpint (gsend_socket_send_messages (tx, m, 2, 0, NULL, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpuint (m[0].bytes_sent, ==, 7);
  g_assert_cmpuint (m[1].bytes_sent, ==, 11);
  gchar buf[32];
  gssize n = gt_recv_bounded (rx1, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "to-path", 7);
  n = gt_recv_bounded (rx2, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "to-abstract", 11);

  g_object_unref (tx);
  g_object_unref (rx1);
  g_object_unref (rx2);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  g_free (abstract);
  g_object_unref (pa);
  g_object_unref (aa);
}

/* ---- rule 9 ---- */

/* A GUnixFDMessage in a batch: the receiver gets a working descriptor, and
 * control messages stay with their own message. */
static void
test_rule09_unix_fd_message (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  int pipefd[2];
  g_assert_cmpint (pipe (pipefd), ==, 0);

  GSocketControlMessage *fdm = g_unix_fd_message_new ();
  g_assert_true (g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (fdm), pipefd[0], &error));
  g_assert_no_error (error);

  gchar p0[] = "plain", p1[] = "with-fd";
  GOutputVector v[2] = { { p0, 5 }, { p1, 7 } };
  GOutputMessage m[3];
  memset (m, 0, sizeof m);
  m[0].vectors = &v[0]; m[0].num_vectors = 1;
  m[1].vectors = &v[1]; m[1].num_vectors = 1;
  m[1].control_messages = &fdm; m[1].num_control_messages = 1;
  m[2].vectors = &v[0]; m[2].num_vectors = 1;
  g_assert_cmpint (gsend_socket_send_messages (a, m, 3, 0, NULL, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpuint (m[1].bytes_sent, ==, 7);

  for (int i = 0; i < 3; i++)
    {
      Received r;
      receive_expect (b, &r, v[i == 1].buffer, v[i == 1].size, i == 1 ? 1 : 0);
      if (r.nfds)
        {
          g_assert_cmpint (r.fds[0], !=, pipefd[0]);
          assert_pipe_works (pipefd[1], r.fds[0], "through-fd");
        }
      received_free (&r);
    }

  /* The single-message twin, control messages NULL-terminated (-1). */
  GSocketControlMessage *list[2] = { fdm, NULL };
  g_assert_cmpint (gsend_socket_send_message (a, NULL, v, 2, list, -1, 0, NULL, &error), ==, 12);
  g_assert_no_error (error);
  {
    Received r;
    receive_expect (b, &r, "plainwith-fd", 12, 1);
    assert_pipe_works (pipefd[1], r.fds[0], "again");
    received_free (&r);
  }

  close (pipefd[0]);
  close (pipefd[1]);
  g_object_unref (fdm);
  g_object_unref (a);
  g_object_unref (b);
}

static const struct ucred *
find_ucred (GSocketControlMessage **c, gint n)
{
  for (gint i = 0; i < n; i++)
    if (G_IS_UNIX_CREDENTIALS_MESSAGE (c[i]))
      {
        GCredentials *cr = g_unix_credentials_message_get_credentials (G_UNIX_CREDENTIALS_MESSAGE (c[i]));
        return g_credentials_get_native (cr, G_CREDENTIALS_TYPE_LINUX_UCRED);
      }
  return NULL;
}

/* A GUnixCredentialsMessage. The kernel checks what is sent: our own
 * credentials arrive; someone else's pid is refused (EPERM) unless we
 * have CAP_SYS_ADMIN, in which case it arrives as sent. */
static void
test_rule09_credentials_message (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  g_assert_true (g_socket_set_option (b, SOL_SOCKET, SO_PASSCRED, 1, &error));
  g_assert_no_error (error);

  GSocketControlMessage *cm = g_unix_credentials_message_new ();
  gchar p[] = "creds";
  GOutputVector v = { p, 5 };
  GOutputMessage m;
  send_one_with_control (a, &m, &v, &cm, 1);
  Received rcv;
  receive_expect (b, &rcv, "creds", 5, -1);
  const struct ucred *uc = find_ucred (rcv.c, rcv.nc);
  g_assert_nonnull (uc);
  g_assert_cmpint (uc->pid, ==, getpid ());
  g_assert_cmpint (uc->uid, ==, getuid ());
  received_free (&rcv);
  g_object_unref (cm);

  /* Someone else's pid: proves the control data reaches the kernel. */
  struct ucred other = { getppid (), getuid (), getgid () };
  GCredentials *cr = g_credentials_new ();
  g_credentials_set_native (cr, G_CREDENTIALS_TYPE_LINUX_UCRED, &other);
  cm = g_unix_credentials_message_new_with_credentials (cr);
  m.control_messages = &cm;
  m.bytes_sent = SENTINEL;
  gint r = gsend_socket_send_messages (a, &m, 1, 0, NULL, &error);
  if (r == -1)
    {
      gint eperm_code = g_io_error_from_errno (EPERM);
      g_assert_error (error, G_IO_ERROR, eperm_code);
      g_assert_nonnull (strstr (error->message, strerror (EPERM)));
      g_clear_error (&error);
      g_assert_cmpuint (m.bytes_sent, ==, SENTINEL);
      g_assert_true (gt_nothing_pending (b));
    }
  else
    {
      g_assert_cmpint (r, ==, 1);
      g_assert_no_error (error);
      receive_expect (b, &rcv, "creds", 5, -1);
      uc = find_ucred (rcv.c, rcv.nc);
      g_assert_nonnull (uc);
      g_assert_cmpint (uc->pid, ==, getppid ());
      received_free (&rcv);
    }
  g_object_unref (cm);
  g_object_unref (cr);
  g_object_unref (a);
  g_object_unref (b);
}

/* A custom GSocketControlMessage subclass (SCM_RIGHTS serialized by the
 * test's own class), alone and together with a GUnixFDMessage and a
 * GUnixCredentialsMessage on one message. */
static void
test_rule09_custom_and_several (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  g_assert_true (g_socket_set_option (b, SOL_SOCKET, SO_PASSCRED, 1, &error));
  int p1[2], p2[2];
  g_assert_cmpint (pipe (p1), ==, 0);
  g_assert_cmpint (pipe (p2), ==, 0);

  GSocketControlMessage *custom = test_fd_msg_new (p1[0]);
  gchar pay[] = "custom";
  GOutputVector v = { pay, 6 };
  GOutputMessage m;
  send_one_with_control (a, &m, &v, &custom, 1);
  g_assert_cmpuint (((TestIntMsg *) custom)->serialized, >=, 1);
  {
    Received r;
    receive_expect (b, &r, "custom", 6, 1);
    assert_pipe_works (p1[1], r.fds[0], "custom-fd");
    received_free (&r);
  }

  /* Three control messages on one message. */
  GSocketControlMessage *fdm = g_unix_fd_message_new ();
  g_assert_true (g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (fdm), p2[0], &error));
  GSocketControlMessage *cred = g_unix_credentials_message_new ();
  GSocketControlMessage *three[3] = { fdm, custom, cred };
  m.control_messages = three;
  m.num_control_messages = 3;
  gchar pay2[] = "three-controls";
  v.buffer = pay2;
  v.size = strlen (pay2);
  GOutputMessage batch[2];
  batch[0] = m;
  batch[1] = m;
  g_assert_cmpint (gsend_socket_send_messages (a, batch, 2, 0, NULL, &error), ==, 2);
  g_assert_no_error (error);
  for (int k = 0; k < 2; k++)
    {
      g_assert_cmpuint (batch[k].bytes_sent, ==, strlen (pay2));
      Received r;
      receive_expect (b, &r, pay2, strlen (pay2), 2);
      /* In the order the control messages were given. */
      assert_pipe_works (p2[1], r.fds[0], "fd-message");
      assert_pipe_works (p1[1], r.fds[1], "custom-message");
      const struct ucred *uc = find_ucred (r.c, r.nc);
      g_assert_nonnull (uc);
      g_assert_cmpint (uc->pid, ==, getpid ());
      received_free (&r);
    }

  /* And through the single-message twin with a timeout. */
  gsize written = 0;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (a, NULL, &v, 1, three, 3, 0, -1, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, strlen (pay2));
  {
    Received r;
    receive_expect (b, &r, pay2, strlen (pay2), 2);
    assert_pipe_works (p2[1], r.fds[0], "fd-message-2");
    assert_pipe_works (p1[1], r.fds[1], "custom-message-2");
    g_assert_nonnull (find_ucred (r.c, r.nc));
    received_free (&r);
  }

  g_object_unref (fdm);
  g_object_unref (cred);
  g_object_unref (custom);
  close (p1[0]); close (p1[1]); close (p2[0]); close (p2[1]);
  g_object_unref (a);
  g_object_unref (b);
}



/* Large control data: one GUnixFDMessage with 200 descriptors; ten control
 * messages on one message; 600 messages of one batch each with its own
 * descriptor (the control space of a whole chunk). */
static void
test_rule09_large_control (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  int p[2];
  g_assert_cmpint (pipe (p), ==, 0);

  /* 200 descriptors in one message. */
  GSocketControlMessage *many = g_unix_fd_message_new ();
  for (int i = 0; i < 200; i++)
    {
      g_assert_true (g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (many), p[0], &error));
      g_assert_no_error (error);
    }
  gchar pay[] = "many";
  GOutputVector v = { pay, 4 };
  GOutputMessage m;
  send_one_with_control (a, &m, &v, &many, 1);
  {
    Received r;
    receive_expect (b, &r, "many", 4, 200);
    assert_pipe_works (p[1], r.fds[199], "last-of-200");
    received_free (&r);
  }
  g_object_unref (many);

  /* Ten control messages on one message. */
  GSocketControlMessage *ten[10];
  for (int i = 0; i < 10; i++)
    ten[i] = test_fd_msg_new (p[0]);
  m.control_messages = ten;
  m.num_control_messages = 10;
  g_assert_cmpint (gsend_socket_send_messages (a, &m, 1, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  {
    Received r;
    receive_expect (b, &r, NULL, 0, 10);
    assert_pipe_works (p[1], r.fds[9], "tenth");
    received_free (&r);
  }
  for (int i = 0; i < 10; i++)
    g_object_unref (ten[i]);

  /* 600 messages, each with one descriptor; a reader drains as they come. */
  enum { M = 600 };
  GOutputMessage *bm = g_new0 (GOutputMessage, M);
  GOutputVector *bv = g_new0 (GOutputVector, M);
  guint32 *seq = g_new (guint32, M);
  GSocketControlMessage *one = g_unix_fd_message_new ();
  g_assert_true (g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (one), p[0], &error));
  for (guint32 i = 0; i < M; i++)
    {
      seq[i] = i;
      bv[i].buffer = &seq[i];
      bv[i].size = 4;
      bm[i].vectors = &bv[i];
      bm[i].num_vectors = 1;
      bm[i].control_messages = &one;
      bm[i].num_control_messages = 1;
    }
  /* Room for everything: the socket is non-blocking and the call may
   * stop early; resend the rest after draining. */
  guint32 received = 0;
  guint sent = 0;
  while (sent < M)
    {
      gint r = gsend_socket_send_messages_with_timeout (a, bm + sent, M - sent, 0, 0, NULL, &error);
      if (r < 0)
        {
          gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
        }
      else
        sent += r;
      while (g_socket_condition_check (b, G_IO_IN) & G_IO_IN)
        {
          Received r;
          receive_expect (b, &r, &received, 4, 1);
          received_free (&r);
          received++;
        }
    }
  g_assert_cmpuint (received, ==, M);
  g_object_unref (one);
  g_free (bm);
  g_free (bv);
  g_free (seq);
  close (p[0]);
  close (p[1]);
  g_object_unref (a);
  g_object_unref (b);
}

/* Receives one datagram and its IP_TOS (-1 if none). */
static gssize
recv_tos (GSocket *s, gchar *buf, gsize size, int *tos)
{
  if (!g_socket_condition_timed_wait (s, G_IO_IN, 5 * G_USEC_PER_SEC, NULL, NULL))
    return -1;
  struct iovec iov = { buf, size };
  union
  {
    char buf[CMSG_SPACE (sizeof (int)) * 4];
    struct cmsghdr align;
  } control;
  struct msghdr msg = { 0 };
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n = recvmsg (g_socket_get_fd (s), &msg, MSG_DONTWAIT);
  *tos = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
      *tos = *(unsigned char *) CMSG_DATA (c);
  return n;
}

/* rule 9 on UDP: equal-size datagrams to one destination, each with its own
 * custom control message (IP_TOS): every datagram arrives with its own TOS
 * (control messages are never merged into a coalesced send, §5). */
static void
test_rule09_custom_ip_level_udp (void)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4), *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *ra = gt_local_addr (rx);
  g_assert_true (g_socket_set_option (rx, IPPROTO_IP, IP_RECVTOS, 1, &error));
  g_assert_no_error (error);
  enum { M = 8 };
  static gchar data[M][100];
  GOutputMessage m[M];
  GOutputVector v[M];
  GSocketControlMessage *tos[M];
  memset (m, 0, sizeof m);
  for (int i = 0; i < M; i++)
    {
      memset (data[i], 'a' + i, 100);
      v[i].buffer = data[i];
      v[i].size = 100;
      m[i].address = ra;
      m[i].vectors = &v[i];
      m[i].num_vectors = 1;
      tos[i] = test_int_msg_new (IPPROTO_IP, IP_TOS, (i - 3) << 2); /* 0x04 ... 0x10 for 4..7 */
      /* Messages 0-3 form a plain run; 4-7 are the same size and
       * destination but each carries its own TOS. */
      if (i >= 4)
        {
          m[i].control_messages = &tos[i];
          m[i].num_control_messages = 1;
        }
    }
  g_assert_cmpint (gsend_socket_send_messages (tx, m, M, 0, NULL, &error), ==, M);
  g_assert_no_error (error);
  for (int i = 0; i < M; i++)
    {
      gchar buf[200];
      int got_tos = -2;
      gssize n = recv_tos (rx, buf, sizeof buf, &got_tos);
      g_assert_cmpmem (buf, n, data[i], 100);
      g_assert_cmpuint (m[i].bytes_sent, ==, 100);
      g_assert_cmpint (got_tos, ==, i >= 4 ? ((TestIntMsg *) tos[i])->value : 0);
    }
  g_assert_true (gt_nothing_pending (rx));
  for (int i = 0; i < M; i++)
    g_object_unref (tos[i]);
  g_object_unref (ra);
  g_object_unref (tx);
  g_object_unref (rx);
}


/* A custom address that cannot be converted, at index 2: -1 with its own
 * error, and (as in GIO, which converts the whole batch first) nothing of
 * the batch is sent. */
static void
test_rule14_address_conversion_error (void)
{
  GError *error = NULL;
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocket *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *ra = gt_local_addr (rx);
  TestAddr *bad = test_addr_new_from (ra);
  bad->fail = TRUE;
  gchar p[] = "conv";
  GOutputMessage m[4];
  GOutputVector v[4];
  gt_fill_messages (m, v, 4, p, 4, ra, SENTINEL);
  m[2].address = G_SOCKET_ADDRESS (bad);
  g_assert_cmpint (gsend_socket_send_messages (tx, m, 4, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  gt_assert_all_sent (m, 4, SENTINEL);
  g_assert_true (gt_nothing_pending (rx));
  g_assert_cmpint (gsend_socket_send_to (tx, G_SOCKET_ADDRESS (bad), p, 4, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE);
  g_assert_true (gt_nothing_pending (rx));
  g_object_unref (bad);
  g_object_unref (ra);
  g_object_unref (tx);
  g_object_unref (rx);
}

/* A custom control message claiming an absurd size: an error, nothing
 * sent, no crash and no attempt to allocate it. */
static void
test_rule13_control_size_overflow (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  gsize sizes[] = { G_MAXSIZE, G_MAXSIZE - 3, G_MAXSSIZE, (gsize) 1 << 40 };
  gchar p[] = "x";
  GOutputVector v = { p, 1 };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      TestIntMsg *h = (TestIntMsg *) test_fd_msg_new (-1);
      h->size = sizes[i];
      GSocketControlMessage *c = G_SOCKET_CONTROL_MESSAGE (h);
      GOutputMessage m[2] = { { NULL, &v, 1, SENTINEL, NULL, 0 }, { NULL, &v, 1, SENTINEL, &c, 1 } };
      g_assert_cmpint (gsend_socket_send_messages (a, m, 2, 0, NULL, &error), ==, -1);
      gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_cmpuint (m[0].bytes_sent, ==, SENTINEL);
      g_assert_cmpint (gsend_socket_send_message (a, NULL, &v, 1, &c, 1, 0, NULL, &error), ==, -1);
      gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_object_unref (h);
    }
  g_assert_true (gt_nothing_pending (b));
  g_object_unref (a);
  g_object_unref (b);
}

/* ---- rule 10 ---- */

static void
test_rule10_zero_length_vectors (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  gchar x[] = "ab", y[] = "cd", z[] = "unused";
  GOutputVector v[6] = { { z, 0 }, { x, 2 }, { z, 0 }, { NULL, 0 }, { y, 2 }, { z, 0 } };
  GOutputMessage m[2];
  memset (m, 0, sizeof m);
  m[0].vectors = v; m[0].num_vectors = 6;
  m[1].vectors = v; m[1].num_vectors = 1; /* only a zero-length vector: empty datagram */
  m[1].bytes_sent = SENTINEL;
  g_assert_cmpint (gsend_socket_send_messages (a, m, 2, 0, NULL, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpuint (m[0].bytes_sent, ==, 4);
  g_assert_cmpuint (m[1].bytes_sent, ==, 0);
  gchar buf[32];
  gssize n = gt_recv_bounded (b, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "abcd", 4);
  n = gt_recv_bounded (b, buf, sizeof buf);
  g_assert_cmpint (n, ==, 0);
  g_assert_true (gt_nothing_pending (b));
  g_object_unref (a);
  g_object_unref (b);
}

/* Many vectors (64 and the kernel's limit of 1024), gathered in order. */
static void
test_rule10_many_vectors (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  static guint8 data[1024];
  static GOutputVector v[1024];
  for (int i = 0; i < 1024; i++)
    {
      data[i] = (guint8) (i * 7 + 3);
      v[i].buffer = &data[i];
      v[i].size = 1;
    }
  GOutputMessage m[2];
  memset (m, 0, sizeof m);
  m[0].vectors = v; m[0].num_vectors = 64;
  m[1].vectors = v; m[1].num_vectors = 1024;
  g_assert_cmpint (gsend_socket_send_messages (a, m, 2, 0, NULL, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpuint (m[0].bytes_sent, ==, 64);
  g_assert_cmpuint (m[1].bytes_sent, ==, 1024);
  static gchar buf[2048];
  gssize n = gt_recv_bounded (b, buf, sizeof buf);
  g_assert_cmpmem (buf, n, data, 64);
  n = gt_recv_bounded (b, buf, sizeof buf);
  g_assert_cmpmem (buf, n, data, 1024);
  /* One more than the kernel takes: its error, for message 0. */
  static GOutputVector v1025[1025];
  for (int i = 0; i < 1025; i++)
    v1025[i] = v[i % 1024];
  m[0].vectors = v1025;
  m[0].num_vectors = 1025;
  m[0].bytes_sent = SENTINEL;
  gint emsgsize = g_io_error_from_errno (EMSGSIZE);
  g_assert_cmpint (gsend_socket_send_messages (a, m, 1, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, emsgsize);
  g_assert_nonnull (strstr (error->message, "message 0"));
  g_clear_error (&error);
  g_assert_cmpuint (m[0].bytes_sent, ==, SENTINEL);
  g_assert_cmpint (gsend_socket_send_message (a, NULL, v1025, 1025, NULL, 0, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, emsgsize);
  g_assert_true (gt_nothing_pending (b));
  /* And over UDP, where runs of equal sizes may be coalesced. */
  GSocket *tx = gt_udp_bound (G_SOCKET_FAMILY_IPV4), *rx = gt_udp_bound (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *ra = gt_local_addr (rx);
  GOutputMessage um[4];
  memset (um, 0, sizeof um);
  for (int i = 0; i < 4; i++)
    {
      um[i].address = ra;
      um[i].vectors = &v[i * 64];
      um[i].num_vectors = 64;
    }
  g_assert_cmpint (gsend_socket_send_messages (tx, um, 4, 0, NULL, &error), ==, 4);
  g_assert_no_error (error);
  for (int i = 0; i < 4; i++)
    {
      g_assert_cmpuint (um[i].bytes_sent, ==, 64);
      n = gt_recv_bounded (rx, buf, sizeof buf);
      g_assert_cmpmem (buf, n, &data[i * 64], 64);
    }
  g_object_unref (ra);
  g_object_unref (tx);
  g_object_unref (rx);
  g_object_unref (a);
  g_object_unref (b);
}

/* num_vectors == -1: NULL-terminated, for the single-message twins. */
static void
test_rule10_null_terminated_vectors (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  gchar x[] = "null", y[] = "-terminated", z[] = "never";
  GOutputVector v[4] = { { x, 4 }, { y, 11 }, { NULL, 0 }, { z, 5 } };
  g_assert_cmpint (gsend_socket_send_message (a, NULL, v, -1, NULL, 0, 0, NULL, &error), ==, 15);
  g_assert_no_error (error);
  gchar buf[32];
  gssize n = gt_recv_bounded (b, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "null-terminated", 15);
  gsize written = 0;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (a, NULL, v, -1, NULL, 0, 0, -1, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, 15);
  n = gt_recv_bounded (b, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "null-terminated", 15);
  g_assert_true (gt_nothing_pending (b));
  g_object_unref (a);
  g_object_unref (b);
}

/* A GOutputMessage with no vectors is an empty datagram; the single-message
 * twin with no vectors sends one zero byte, as GIO does. */
static void
test_rule10_no_vectors (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  gchar x[] = "mid";
  GOutputVector v = { x, 3 };
  GOutputMessage m[3];
  memset (m, 0, sizeof m);
  m[0].bytes_sent = SENTINEL; /* no vectors at all */
  m[1].vectors = &v; m[1].num_vectors = 1;
  m[2].bytes_sent = SENTINEL;
  g_assert_cmpint (gsend_socket_send_messages (a, m, 3, 0, NULL, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpuint (m[0].bytes_sent, ==, 0);
  g_assert_cmpuint (m[2].bytes_sent, ==, 0);
  gchar buf[32];
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 0);
  gssize n = gt_recv_bounded (b, buf, sizeof buf);
  g_assert_cmpmem (buf, n, "mid", 3);
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 0);

  g_assert_cmpint (gsend_socket_send_message (a, NULL, NULL, 0, NULL, 0, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  buf[0] = 'X';
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 1);
  g_assert_cmpint (buf[0], ==, 0);
  /* -1 with the terminator first: no vectors either. */
  GOutputVector term = { NULL, 0 };
  g_assert_cmpint (gsend_socket_send_message (a, NULL, &term, -1, NULL, 0, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  buf[0] = 'X';
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 1);
  g_assert_cmpint (buf[0], ==, 0);
  gsize written = 0;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (a, NULL, NULL, 0, NULL, 0, 0, -1, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, 1);
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 1);
  g_assert_true (gt_nothing_pending (b));

  /* The buffer twins with size 0: an empty datagram (one empty vector). */
  g_assert_cmpint (gsend_socket_send (a, x, 0, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 0);
  g_assert_cmpint (gsend_socket_send_to (a, NULL, x, 0, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 0);
  g_assert_cmpint (gsend_socket_send_with_blocking (a, x, 0, FALSE, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 0);
  /* One empty vector is not "no vectors": nothing is added. */
  GOutputVector empty = { x, 0 };
  g_assert_cmpint (gsend_socket_send_message (a, NULL, &empty, 1, NULL, 0, 0, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (gt_recv_bounded (b, buf, sizeof buf), ==, 0);
  g_assert_true (gt_nothing_pending (b));
  g_object_unref (a);
  g_object_unref (b);
}

/* ---- rule 13 ---- */

static void
test_rule13_size_overflow (void)
{
  GSocket *a, *b;
  GError *error = NULL;
  gt_unix_pair (SOCK_DGRAM, &a, &b);
  gchar x[8] = "tiny";
  GOutputVector v[3] = { { x, 4 }, { x, G_MAXSIZE }, { x, 2 } };
  GOutputMessage m[2];
  memset (m, 0, sizeof m);
  m[0].vectors = v; m[0].num_vectors = 1;
  m[1].vectors = v; m[1].num_vectors = 3;
  m[0].bytes_sent = m[1].bytes_sent = SENTINEL;
  GOutputMessage only_bad = m[1];
  g_assert_cmpint (gsend_socket_send_messages (a, &only_bad, 1, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (only_bad.bytes_sent, ==, SENTINEL);
  g_assert_cmpint (gsend_socket_send_messages_with_timeout (a, &only_bad, 1, 0, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (gsend_socket_send_message (a, NULL, v, 3, NULL, 0, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  gsize written = SENTINEL;
  g_assert_cmpint (gsend_socket_send_message_with_timeout (a, NULL, v, 3, NULL, 0, 0, -1, &written, NULL, &error),
                   ==, G_POLLABLE_RETURN_FAILED);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_true (gt_nothing_pending (b));

  /* The sizes are checked before anything of the batch is sent: the valid
   * message 0 does not go either. */
  g_assert_cmpint (gsend_socket_send_messages (a, m, 2, 0, NULL, &error), ==, -1);
  gt_assert_error_clear (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (m[0].bytes_sent, ==, SENTINEL);
  g_assert_cmpuint (m[1].bytes_sent, ==, SENTINEL);
  g_assert_true (gt_nothing_pending (b));
  g_object_unref (a);
  g_object_unref (b);
}

static const GtTest tests[] = {
  { "/rule08/address-subclasses", test_rule08_address_subclasses },
  { "/rule08/unix-addresses", test_rule08_unix_addresses },
  { "/rule09/unix-fd-message", test_rule09_unix_fd_message },
  { "/rule09/credentials-message", test_rule09_credentials_message },
  { "/rule09/custom-and-several", test_rule09_custom_and_several },
  { "/rule09/large-control", test_rule09_large_control },
  { "/rule09/custom-ip-level-udp", test_rule09_custom_ip_level_udp },
  { "/rule10/zero-length-vectors", test_rule10_zero_length_vectors },
  { "/rule10/many-vectors", test_rule10_many_vectors },
  { "/rule10/null-terminated-vectors", test_rule10_null_terminated_vectors },
  { "/rule10/no-vectors", test_rule10_no_vectors },
  { "/rule13/size-overflow", test_rule13_size_overflow },
  { "/rule13/control-size-overflow", test_rule13_control_size_overflow },
  { "/rule14/address-conversion-error", test_rule14_address_conversion_error },
};

GT_TEST_MAIN (tests)
