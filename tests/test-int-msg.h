/* A GSocketControlMessage subclass for the tests (docs/behaviour.md rule 9:
 * custom subclasses): one int at any level and type (an SCM_RIGHTS
 * descriptor, IP_TOS, IPV6_TCLASS, IP_TTL...). It counts how often it was
 * serialized; a nonzero `size` makes it claim that size instead, and then
 * it must never be serialized. It deserializes nothing, so that GIO's
 * receive path can walk past it. Include it in one file per program. */
#pragma once

#include <gio/gio.h>
#include <string.h>

typedef struct
{
  GSocketControlMessage parent;
  int level, type, value;
  gsize size;
  guint serialized;
} TestIntMsg;
typedef struct
{
  GSocketControlMessageClass parent_class;
} TestIntMsgClass;

GType test_int_msg_get_type (void);
G_DEFINE_TYPE (TestIntMsg, test_int_msg, G_TYPE_SOCKET_CONTROL_MESSAGE)

static gsize
test_int_msg_get_size (GSocketControlMessage *m)
{
  TestIntMsg *self = (TestIntMsg *) m;
  return self->size ? self->size : sizeof (int);
}

static int
test_int_msg_get_level (GSocketControlMessage *m)
{
  return ((TestIntMsg *) m)->level;
}

static int
test_int_msg_get_msg_type (GSocketControlMessage *m)
{
  return ((TestIntMsg *) m)->type;
}

static void
test_int_msg_serialize (GSocketControlMessage *m, gpointer data)
{
  TestIntMsg *self = (TestIntMsg *) m;
  g_assert_cmpuint (self->size, ==, 0);
  self->serialized++;
  memcpy (data, &self->value, sizeof (int));
}

static GSocketControlMessage *
test_int_msg_deserialize (int level, int type, gsize size, gpointer data)
{
  (void) level;
  (void) type;
  (void) size;
  (void) data;
  return NULL;
}

static void
test_int_msg_class_init (TestIntMsgClass *klass)
{
  GSocketControlMessageClass *c = G_SOCKET_CONTROL_MESSAGE_CLASS (klass);
  c->get_size = test_int_msg_get_size;
  c->get_level = test_int_msg_get_level;
  c->get_type = test_int_msg_get_msg_type;
  c->serialize = test_int_msg_serialize;
  c->deserialize = test_int_msg_deserialize;
}

static void
test_int_msg_init (TestIntMsg *self)
{
  self->value = -1;
}

static G_GNUC_UNUSED GSocketControlMessage *
test_int_msg_new (int level, int type, int value)
{
  TestIntMsg *m = g_object_new (test_int_msg_get_type (), NULL);
  m->level = level;
  m->type = type;
  m->value = value;
  return G_SOCKET_CONTROL_MESSAGE (m);
}
