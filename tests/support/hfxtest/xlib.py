"""libX11 through ctypes, the calls the X11 painters use (tests/browser/x11-paint.py,
bench/guest-x11-keys.py): no toolkit needed, and nothing to install beyond
libX11 itself."""
import ctypes
import ctypes.util


def xlib():
    """libX11 with the painters' functions' types declared, or None when the
    library is not there."""
    lib = ctypes.util.find_library("X11")
    if not lib:
        return None
    X = ctypes.CDLL(lib)
    X.XOpenDisplay.restype = ctypes.c_void_p
    X.XOpenDisplay.argtypes = [ctypes.c_char_p]
    X.XDefaultScreen.argtypes = [ctypes.c_void_p]
    X.XRootWindow.restype = ctypes.c_ulong
    X.XRootWindow.argtypes = [ctypes.c_void_p, ctypes.c_int]
    X.XCreateSimpleWindow.restype = ctypes.c_ulong
    X.XCreateSimpleWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
                                      ctypes.c_ulong, ctypes.c_ulong]
    X.XSetWindowBackground.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    X.XClearWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    X.XMapRaised.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    X.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    X.XMoveWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int]
    return X
