/* SPDX-License-Identifier: MIT */
/*
 * QMP over a unix socket: one JSON object per line each way (QEMU ends its
 * lines with CRLF). Only what desktop-bridge needs to hand QEMU a D-Bus
 * connection (getfd, add_client).
 */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "util/sendfd.h"

/* A QMP line longer than this is not one desktop-bridge asked for. */
#define MAX_LINE (1 << 20)

struct _BridgeQmp
{
  int fd;
  guint timeout_ms;
  GString *in;                  /* received, not yet a whole line */
};

/* The next line QEMU sent (without its end), waiting at most the timeout;
 * NULL with *error. */
static gchar *
read_line (BridgeQmp * qmp, GError ** error)
{
  gint64 deadline = g_get_monotonic_time () + qmp->timeout_ms * 1000LL;

  for (;;) {
    gchar *nl = memchr (qmp->in->str, '\n', qmp->in->len);
    struct pollfd p = {.fd = qmp->fd,.events = POLLIN };
    gint64 left;
    gchar buf[4096];
    ssize_t n;

    if (nl) {
      gsize len = nl - qmp->in->str;
      gchar *line = g_strndup (qmp->in->str, len);

      g_string_erase (qmp->in, 0, len + 1);
      g_strchomp (line);
      return line;
    }
    if (qmp->in->len > MAX_LINE) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "QMP: a line of more than %d bytes", MAX_LINE);
      return NULL;
    }
    left = (deadline - g_get_monotonic_time ()) / 1000;
    if (left <= 0 || poll (&p, 1, (int) left) == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "QMP: no answer in %u ms", qmp->timeout_ms);
      return NULL;
    }
    n = read (qmp->fd, buf, sizeof (buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
          "QMP: QEMU closed the connection%s%s", n < 0 ? ": " : "",
          n < 0 ? g_strerror (errno) : "");
      return NULL;
    }
    g_string_append_len (qmp->in, buf, n);
  }
}

/* The next object that is not an event: its "return" (TRUE), or FALSE with
 * *error (QEMU's "error", or why there was none). want names the member
 * that ends the wait: "return" or, for the greeting, "QMP". */
static gboolean
read_answer (BridgeQmp * qmp, const gchar * want, GError ** error)
{
  for (;;) {
    gchar *line = read_line (qmp, error);
    JsonParser *parser;
    JsonNode *root;
    JsonObject *obj;
    gboolean done = FALSE, ok = FALSE;

    if (!line)
      return FALSE;
    parser = json_parser_new ();
    if (!json_parser_load_from_data (parser, line, -1, NULL) ||
        !(root = json_parser_get_root (parser))
        || !JSON_NODE_HOLDS_OBJECT (root)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "QMP: not a JSON object: %.80s", line);
      done = TRUE;
    } else {
      obj = json_node_get_object (root);
      if (json_object_has_member (obj, want)) {
        done = ok = TRUE;
      } else if (json_object_has_member (obj, "error")) {
        JsonObject *e = json_object_get_object_member (obj, "error");
        const gchar *desc = e && json_object_has_member (e, "desc") ?
            json_object_get_string_member (e, "desc") : NULL;

        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "QMP: %s",
            desc ? desc : line);
        done = TRUE;
      }
      /* else an event: wait on */
    }
    g_object_unref (parser);
    g_free (line);
    if (done)
      return ok;
  }
}

static gboolean
send_all (BridgeQmp * qmp, const gchar * text, int fd, GError ** error)
{
  gsize len = strlen (text), off = 0;

  while (off < len) {
    struct iovec iov = {.iov_base = (gchar *) text + off,.iov_len = len - off };
    /* The descriptor goes with the first byte. */
    ssize_t n = hfx_send_with_fd (qmp->fd, &iov, 1, off == 0 ? fd : -1,
        MSG_NOSIGNAL);

    if (n < 0) {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
          "QMP: sending: %s", g_strerror (errno));
      return FALSE;
    }
    off += n;
  }
  return TRUE;
}

BridgeQmp *
bridge_qmp_connect (const gchar * path, guint timeout_ms, GError ** error)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX };
  BridgeQmp *qmp;

  if (strlen (path) >= sizeof (addr.sun_path)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "QMP socket path too long: %s", path);
    return NULL;
  }
  strcpy (addr.sun_path, path);
  qmp = g_new0 (BridgeQmp, 1);
  qmp->timeout_ms = timeout_ms;
  qmp->in = g_string_new (NULL);
  qmp->fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (qmp->fd < 0 || connect (qmp->fd, (struct sockaddr *) &addr,
          sizeof (addr)) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "cannot connect to QMP at %s: %s", path, g_strerror (errno));
    bridge_qmp_free (qmp);
    return NULL;
  }
  if (!read_answer (qmp, "QMP", error) ||
      !bridge_qmp_execute (qmp, "{\"execute\": \"qmp_capabilities\"}", -1,
          error)) {
    g_prefix_error (error, "%s: ", path);
    bridge_qmp_free (qmp);
    return NULL;
  }
  return qmp;
}

gboolean
bridge_qmp_execute (BridgeQmp * qmp, const gchar * command, int fd,
    GError ** error)
{
  gchar *line = g_strconcat (command, "\n", NULL);
  gboolean ok = send_all (qmp, line, fd, error) &&
      read_answer (qmp, "return", error);

  g_free (line);
  return ok;
}

void
bridge_qmp_free (BridgeQmp * qmp)
{
  if (!qmp)
    return;
  if (qmp->fd >= 0)
    close (qmp->fd);
  g_string_free (qmp->in, TRUE);
  g_free (qmp);
}
