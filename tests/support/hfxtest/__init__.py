"""hfx's python test helpers (python3's standard library only): desktop-bridge,
hfxd and a guest's desktop-bridge as child processes, headless Chromium over
WebDriver, a WebSocket client, the bridge's stream messages, a stand-in for the
bridge, SMPTE bar sampling and checks that all run. Tests import it as
`from hfxtest.webdriver import Driver`; meson sets PYTHONPATH to tests/support,
and the bench scripts that use it set it themselves (docs/testing.md, "Test
helpers")."""
