#!/usr/bin/python3
"""A stand-in for xdg-desktop-portal's ScreenCast interface on the session
bus, for desktop-bridge's --source pipewire tests (python3-gi).

    fake-portal.py MODE LOG.json [NODE]   MODE: ok | cancel | nostream | pipewire

Answers CreateSession, SelectSources and Start (one stream: node NODE,
default 42) through Request objects' Response signals like the real portal,
and appends every call (method and options) to LOG.json. OpenPipeWireRemote
hands out one end of a socketpair, or in mode pipewire a connection to the
PipeWire daemon of $PIPEWIRE_RUNTIME_DIR (not restricted to NODE as the real
portal's is). Prints "ready" once it owns the name."""
import json
import os
import socket
import sys

from gi.repository import Gio, GLib

XML = """
<node>
  <interface name="org.freedesktop.portal.ScreenCast">
    <method name="CreateSession">
      <arg type="a{sv}" direction="in"/><arg type="o" direction="out"/>
    </method>
    <method name="SelectSources">
      <arg type="o" direction="in"/><arg type="a{sv}" direction="in"/>
      <arg type="o" direction="out"/>
    </method>
    <method name="Start">
      <arg type="o" direction="in"/><arg type="s" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="o" direction="out"/>
    </method>
    <method name="OpenPipeWireRemote">
      <arg type="o" direction="in"/><arg type="a{sv}" direction="in"/>
      <arg type="h" direction="out"/>
    </method>
    <property name="AvailableSourceTypes" type="u" access="read"/>
    <property name="version" type="u" access="read"/>
  </interface>
</node>
"""
MODE, LOG = sys.argv[1], sys.argv[2]
NODE = int(sys.argv[3]) if len(sys.argv) > 3 else 42
calls = []
keep = []  # the sockets handed out stay open while we run


def log(method, options):
    calls.append({"method": method, "options": {k: options[k] for k in options}})
    with open(LOG, "w") as f:
        json.dump(calls, f)


def respond(conn, sender, token, code, results):
    path = "/org/freedesktop/portal/desktop/request/%s/%s" % (
        sender[1:].replace(".", "_"), token)

    def emit():
        conn.emit_signal(None, path, "org.freedesktop.portal.Request", "Response",
                         GLib.Variant("(ua{sv})", (code, results)))
        return False
    GLib.timeout_add(20, emit)
    return path


def on_call(conn, sender, path, iface, method, params, inv):
    args = params.unpack()
    if method == "OpenPipeWireRemote":
        log(method, args[1])
        if MODE == "pipewire":
            b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            b.connect(os.path.join(os.environ.get("PIPEWIRE_RUNTIME_DIR") or
                                   os.environ["XDG_RUNTIME_DIR"], "pipewire-0"))
            keep.append(b)
        else:
            a, b = socket.socketpair()
            keep.extend([a, b])
        fds = Gio.UnixFDList.new()
        fds.append(b.fileno())
        inv.return_value_with_unix_fd_list(GLib.Variant("(h)", (0,)), fds)
        return
    options = args[-1]
    log(method, options)
    token = options.get("handle_token", "t")
    code, results = 0, {}
    if method == "CreateSession":
        results = {"session_handle": GLib.Variant(
            "s", "/org/freedesktop/portal/desktop/session/%s/%s" % (
                sender[1:].replace(".", "_"), options.get("session_handle_token", "s")))}
    elif method == "SelectSources" and MODE == "cancel":
        code = 1
    elif method == "Start":
        streams = [] if MODE == "nostream" else [
            (NODE, {"size": GLib.Variant("(ii)", (1280, 720))})]
        results = {"streams": GLib.Variant("a(ua{sv})", streams)}
    inv.return_value(GLib.Variant("(o)", (respond(conn, sender, token, code, results),)))


def on_get(conn, sender, path, iface, prop):
    return GLib.Variant("u", 1 if prop == "AvailableSourceTypes" else 4)


def main():
    loop = GLib.MainLoop()
    node = Gio.DBusNodeInfo.new_for_xml(XML)

    def on_bus(conn, name):
        conn.register_object("/org/freedesktop/portal/desktop", node.interfaces[0], on_call,
                             on_get, None)

    def on_name(conn, name):
        print("ready", flush=True)

    def on_lost(conn, name):
        print("fake-portal: could not own " + name, file=sys.stderr)
        loop.quit()
    Gio.bus_own_name(Gio.BusType.SESSION, "org.freedesktop.portal.Desktop",
                     Gio.BusNameOwnerFlags.NONE, on_bus, on_name, on_lost)
    loop.run()


if __name__ == "__main__":
    main()
