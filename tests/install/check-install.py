#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What `meson install` puts on a machine, checked from the installed files
only (docs/testing.md, "Suite install"). Each check installs the build into a
directory of its own with `meson install --destdir` and looks only there.

  check-install.py CHECK --build DIR --source DIR --prefix P --libdir L
                   --bindir B --sbindir S --includedir I --plugindir G

CHECK is one of:
  symbols    every installed shared object exports only hfx_* functions that
             the installed headers declare (the plugin: only gst_plugin_*),
             and the libraries have their soname
  headers    the installed headers are exactly the public ones, and each
             compiles on its own
  client     tests/install/client.c, built with `pkg-config --cflags --libs
             hfx` alone, sends frames to the installed hfxd and hfx-verify
             (installed) decodes what came back against what was sent
  host       tests/install/host.c, built with `pkg-config hfx-host` alone,
             encodes a frame through the installed libhfx-host
  gst        gst-inspect-1.0 finds vsockenc in the installed plugin
             directory, without a warning
  guest-only a build with -Dhost=disabled and FFmpeg hidden from pkg-config
             configures, builds libhfx, vsockenc and desktop-bridge with no
             FFmpeg library linked, and passes its unit tests
Exit 0 when the check holds, 1 when it does not, 77 when it cannot run here.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

CLIENT_HEADERS = ['client.h', 'discover.h', 'h264.h', 'protocol.h', 'region.h', 'status.h',
                  'transport.h']
HOST_HEADERS = ['encoder.h', 'resource.h', 'scanout.h', 'server.h']
# pkg-config modules of FFmpeg: what a guest-only build must not need.
FFMPEG_PC = re.compile(r'^lib(av|sw|postproc)[a-z]*\.pc$')


def run(cmd, env=None, check=True, **kw):
    print('$ ' + ' '.join(cmd), flush=True)
    r = subprocess.run(cmd, env=env, text=True, capture_output=True, **kw)
    if r.stdout:
        print(r.stdout.rstrip())
    if r.stderr:
        print(r.stderr.rstrip())
    if check and r.returncode != 0:
        raise SystemExit(f'FAIL: exit {r.returncode}: {" ".join(cmd)}')
    return r


class Tree:
    """An install into a fresh destdir, with the paths inside it."""

    def __init__(self, a, tmp):
        self.a = a
        self.dest = os.path.join(tmp, 'dest')
        run(['meson', 'install', '-C', a.build, '--no-rebuild', '--quiet',
             '--destdir', self.dest])
        self.libdir = self.at(os.path.join(a.prefix, a.libdir))
        self.bindir = self.at(os.path.join(a.prefix, a.bindir))
        self.sbindir = self.at(os.path.join(a.prefix, a.sbindir))
        self.includedir = self.at(os.path.join(a.prefix, a.includedir))
        self.plugindir = self.at(a.plugindir)
        self.env = dict(os.environ)
        self.env['LD_LIBRARY_PATH'] = self.libdir
        # The .pc files name the real prefix; the sysroot maps it into dest.
        self.env['PKG_CONFIG_PATH'] = os.path.join(self.libdir, 'pkgconfig')
        self.env['PKG_CONFIG_SYSROOT_DIR'] = self.dest
        self.env['PKG_CONFIG_LIBDIR'] = self.env['PKG_CONFIG_PATH'] + ':' + \
            subprocess.run(['pkg-config', '--variable', 'pc_path', 'pkg-config'],
                           text=True, capture_output=True).stdout.strip()

    def at(self, path):
        return os.path.join(self.dest, path.lstrip('/'))

    def pkgconfig(self, *args):
        return run(['pkg-config', *args], env=self.env).stdout.split()


def check_symbols(t):
    sos = []
    for root, _, files in os.walk(t.dest):
        for f in files:
            p = os.path.join(root, f)
            if re.search(r'\.so(\.\d+)*$', f) and os.path.isfile(p) and not os.path.islink(p):
                sos.append(p)
    names = sorted(os.path.relpath(p, t.dest) for p in sos)
    print('installed shared objects: ' + ', '.join(names))
    want = {'libhfx.so', 'libgsthfx.so'} | ({'libhfx-host.so'} if t.a.host else set())
    found = {re.sub(r'\.so.*', '.so', os.path.basename(p)) for p in sos}
    if not want <= found:
        raise SystemExit(f'FAIL: missing {sorted(want - found)}')
    # What the installed headers declare: the only names a library may export
    # (an internal hfx_* name, e.g. the toolkit's, must stay hidden).
    declared = set()
    inc = os.path.join(t.includedir, 'hfx')
    for h in os.listdir(inc):
        declared |= set(re.findall(r'\b(hfx_\w+)\s*\(', open(os.path.join(inc, h)).read()))
    bad = []
    for p in sos:
        syms = run(['nm', '-D', '--defined-only', p]).stdout.split('\n')
        names = [line.split()[-1] for line in syms if line.strip()]
        plugin = os.path.basename(p).startswith('libgst')
        allowed = re.compile(r'^gst_plugin_' if plugin else r'^hfx_')
        wrong = [n for n in names if not allowed.match(n)]
        print(f'{os.path.basename(p)}: {len(names)} exported, {len(wrong)} not allowed')
        if not plugin:
            wrong += [n for n in names if n not in wrong and n not in declared]
        bad += [f'{os.path.basename(p)}: {n}' for n in wrong]
        if not plugin:
            soname = run(['readelf', '-d', p]).stdout
            m = re.search(r'SONAME\).*\[(.*)\]', soname)
            if not m or not re.match(r'^lib[a-z-]+\.so\.\d+$', m.group(1)):
                bad.append(f'{os.path.basename(p)}: soname {m.group(1) if m else "none"}')
    if bad:
        raise SystemExit('FAIL: ' + '; '.join(bad))


def check_headers(t, tmp):
    inc = os.path.join(t.includedir, 'hfx')
    got = sorted(os.listdir(inc))
    print('installed headers: ' + ' '.join(got))
    want = sorted(CLIENT_HEADERS + (HOST_HEADERS if t.a.host else []))
    if got != want:
        raise SystemExit(f'FAIL: expected {want}')
    cflags = t.pkgconfig('--cflags', 'hfx')
    for h in got:
        src = os.path.join(tmp, 'one.c')
        with open(src, 'w') as f:
            f.write(f'#include <hfx/{h}>\nint main(void) {{ return 0; }}\n')
        run(['cc', '-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', *cflags, '-c', src,
             '-o', os.path.join(tmp, 'one.o')])


def start_hfxd(t, tmp):
    sock = os.path.join(tmp, 'hfxd.sock')
    log = open(os.path.join(tmp, 'hfxd.log'), 'w')
    hfxd = subprocess.Popen([os.path.join(t.sbindir, 'hfxd'), '--listen', 'unix:' + sock,
                             '--encoder', 'libx264'], env=t.env, stdout=log,
                            stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(sock) or hfxd.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists(sock):
        hfxd.kill()
        print(open(os.path.join(tmp, 'hfxd.log')).read())
        raise SystemExit('FAIL: the installed hfxd did not listen')
    return hfxd, sock


def check_client(t, tmp):
    flags = t.pkgconfig('--cflags', '--libs', 'hfx')
    exe = os.path.join(tmp, 'client')
    run(['cc', '-std=c11', '-Wall', '-Wextra', '-Werror',
         os.path.join(t.a.source, 'tests', 'install', 'client.c'), '-o', exe, *flags])
    need = run(['readelf', '-d', exe]).stdout
    if 'libhfx.so.' not in need:
        raise SystemExit('FAIL: the client does not link the shared libhfx')
    hfxd, sock = start_hfxd(t, tmp)
    try:
        h264, y4m = os.path.join(tmp, 'out.h264'), os.path.join(tmp, 'out.y4m')
        run([exe, 'unix:' + sock, '30', h264, y4m], env=t.env, timeout=120)
        run([os.path.join(t.bindir, 'hfx-verify'), h264, '--reference', y4m,
             '--expect-frames', '30', '--min-psnr', '30'], env=t.env, timeout=120)
    finally:
        hfxd.terminate()
        try:
            rc = hfxd.wait(timeout=20)
        except subprocess.TimeoutExpired:
            hfxd.kill()
            rc = 'killed'
        print(open(os.path.join(tmp, 'hfxd.log')).read().rstrip())
    if rc != 0:
        raise SystemExit(f'FAIL: hfxd exit {rc} on SIGTERM')


def check_host(t, tmp):
    flags = t.pkgconfig('--cflags', '--libs', 'hfx-host')
    exe = os.path.join(tmp, 'host')
    run(['cc', '-std=c11', '-Wall', '-Wextra', '-Werror',
         os.path.join(t.a.source, 'tests', 'install', 'host.c'), '-o', exe, *flags])
    run([exe], env=t.env, timeout=60)


def check_gst(t, tmp):
    if not shutil.which('gst-inspect-1.0'):
        print('skipped: gst-inspect-1.0 not found (apt-get install gstreamer1.0-tools)')
        raise SystemExit(77)
    env = dict(t.env)
    # Only the installed plugin directory: warnings of other plugins on
    # this machine (no CUDA, no LADSPA) are not the subject.
    env['GST_PLUGIN_SYSTEM_PATH_1_0'] = t.plugindir
    env.pop('GST_PLUGIN_PATH', None)
    env.pop('GST_PLUGIN_PATH_1_0', None)
    env['GST_REGISTRY'] = os.path.join(tmp, 'registry.bin')
    env['GST_DEBUG'] = '2'
    r = run(['gst-inspect-1.0', 'vsockenc'], env=env)
    out = r.stdout + r.stderr
    if t.plugindir not in out:
        raise SystemExit('FAIL: vsockenc was not loaded from the installed plugin directory')
    warnings = [line for line in r.stderr.split('\n')
                if re.search(r'WARN|CRITICAL|ERROR|unknown license', line)]
    if warnings:
        raise SystemExit('FAIL: warnings: ' + '; '.join(warnings))


def check_guest_only(a, tmp):
    # A pkg-config search path with every module of this machine but FFmpeg's.
    pcdir = os.path.join(tmp, 'pkgconfig')
    os.mkdir(pcdir)
    pc_path = subprocess.run(['pkg-config', '--variable', 'pc_path', 'pkg-config'], text=True,
                             capture_output=True).stdout.strip().split(':')
    hidden = []
    for d in pc_path:
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if not f.endswith('.pc') or os.path.exists(os.path.join(pcdir, f)):
                continue
            if FFMPEG_PC.match(f):
                hidden.append(f)
                continue
            os.symlink(os.path.join(d, f), os.path.join(pcdir, f))
    print('hidden from pkg-config: ' + ' '.join(sorted(hidden)))
    env = dict(os.environ)
    env['PKG_CONFIG_LIBDIR'] = pcdir
    env.pop('PKG_CONFIG_PATH', None)
    if subprocess.run(['pkg-config', '--exists', 'libavcodec'], env=env).returncode == 0:
        raise SystemExit('FAIL: libavcodec still visible to pkg-config')
    build = os.path.join(tmp, 'build')
    run(['meson', 'setup', build, a.source, '-Dhost=disabled', '-Dfuzzing=false',
         '-Db_sanitize=none'], env=env, timeout=300)
    run(['ninja', '-C', build], env=env, timeout=900)
    built = {
        'libhfx': os.path.join(build, 'lib', 'libhfx.so'),
        'vsockenc': os.path.join(build, 'gst', 'libgsthfx.so'),
        'desktop-bridge': os.path.join(build, 'bridge', 'desktop-bridge'),
    }
    for name, path in built.items():
        if not os.path.exists(path):
            raise SystemExit(f'FAIL: the guest-only build has no {name} ({path})')
        needed = re.findall(r'NEEDED\).*\[(.*)\]', run(['readelf', '-d', path]).stdout)
        ff = [n for n in needed if re.match(r'lib(av|sw|postproc)', n)]
        print(f'{name}: links {len(needed)} libraries, FFmpeg: {ff or "none"}')
        if ff:
            raise SystemExit(f'FAIL: {name} links {ff}')
    for absent in [os.path.join(build, 'host', 'hfxd'), os.path.join(build, 'host')]:
        if os.path.exists(absent) and absent.endswith('hfxd'):
            raise SystemExit('FAIL: a guest-only build built hfxd')
    run(['meson', 'test', '-C', build, '--suite', 'unit', '--print-errorlogs'], env=env,
        timeout=600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('check', choices=['symbols', 'headers', 'client', 'host', 'gst',
                                      'guest-only'])
    ap.add_argument('--host', action='store_true', help='libhfx-host and hfxd were built')
    for opt in ['build', 'source', 'prefix', 'libdir', 'bindir', 'sbindir', 'includedir',
                'plugindir']:
        ap.add_argument('--' + opt, required=True)
    ap.add_argument('--sanitized', action='store_true')
    a = ap.parse_args()
    if a.sanitized:
        # An instrumented libhfx cannot be loaded by an uninstrumented cc
        # build or by gst-inspect; the normal build runs this suite.
        print('skipped: a sanitizer build (suite install runs in the normal build)')
        return 77
    with tempfile.TemporaryDirectory(prefix='hfx-install.') as tmp:
        if a.check == 'guest-only':
            check_guest_only(a, tmp)
            print('PASS')
            return 0
        t = Tree(a, tmp)
        t.a = a
        if a.check == 'symbols':
            check_symbols(t)
        elif a.check == 'headers':
            check_headers(t, tmp)
        elif a.check == 'client':
            check_client(t, tmp)
        elif a.check == 'host':
            check_host(t, tmp)
        else:
            check_gst(t, tmp)
    print('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
